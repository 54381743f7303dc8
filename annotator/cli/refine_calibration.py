"""``annotator refine-calibration PROJECT``: refine the cameras from the labels (bundle
adjustment), keep the old calibration, re-triangulate the human joints with the new one."""

from __future__ import annotations

import argparse

from annotator.cli.support import CliError, check_output_file, check_writable_folder

#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 65


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "refine-calibration",
        help="refine the cameras from the labels (bundle adjustment); the old calibration "
        "is kept and restorable",
        description="Every joint clicked in two or more views (and, with --from "
        "human+machine, every machine joint that passed QC) observes one 3D point; the "
        "cameras of each capture are bundle-adjusted on them. The result is written as a new "
        "calibration version (cameras.toml holds the active one; calibrations/ keeps them "
        "all) and the human 3D joints are triangulated again from their clicks with it.",
    )
    p.add_argument("project", help="project folder")
    p.add_argument("--from", dest="source", choices=("human", "human+machine"),
                   default="human", help="labels that observe the cameras (human)")
    p.add_argument("--intrinsics", choices=("fixed", "focal", "all"), default="fixed",
                   help="fixed (default): only the poses move; focal: also one focal "
                   "scale per camera; all: also the principal point and distortion")
    p.add_argument("--robust", choices=("huber", "cauchy", "none"), default="huber",
                   help="robust loss of the pixel error (huber)")
    p.add_argument("--threshold-px", type=_positive, default=2.0,
                   help="scale of the robust loss and the inlier threshold, px (2)")
    p.add_argument("--per-capture", action="store_true",
                   help="refine each capture's cameras on its own labels (default: captures "
                   "with an identical calibration are the same cameras, refined together)")
    p.add_argument("--center-prior-mm", type=float, default=3.0, metavar="MM",
                   help="hold each camera centre near its calibrated place: moving it this "
                   "far costs as much as one click 1 px off (3: a bumped camera; 0: no prior)")
    p.add_argument("--rotation-prior-deg", type=float, default=0.3, metavar="DEG",
                   help="hold each camera's axes near their calibrated direction: turning them "
                   "this far costs as much as one click 1 px off (0.3: a bumped camera; 0: "
                   "no prior)")
    p.add_argument("--dry-run", action="store_true",
                   help="report what the refinement would do; write nothing")
    p.add_argument("--json", metavar="OUT", help="also write the report as JSON")
    p.add_argument("--list", action="store_true",
                   help="list the project's calibration versions and exit")
    p.add_argument("--restore", type=int, metavar="VERSION",
                   help="make an earlier calibration version active again (as a new version) "
                   "and re-triangulate the human joints with it")
    return p


def _print_table(rows: list[dict]) -> None:
    def f(x, fmt):
        return "-" if x is None else format(x, fmt)

    print(f"{'capture':>8} {'camera':>12} {'obs':>6} {'before px':>10} {'after px':>9} "
          f"{'centre mm':>10} {'axes deg':>9}  note")
    for r in rows:
        print(f"{r['capture']:>8} {r['camera']:>12} {r['observations']:>6} "
              f"{f(r['reprojection_before_px'], '10.3f')} {f(r['reprojection_after_px'], '9.3f')} "
              f"{f(r['center_moved_mm'], '10.3f')} {f(r['axes_moved_deg'], '9.4f')}  "
              f"{('unchanged: ' + r['unchanged']) if r['unchanged'] else ''}")


def _versions(store) -> list[dict]:
    return [{"version": v.version, "file": v.file, "created": v.created, "note": v.note,
             "active": v.active} for v in store.calibration_versions()]


def run(args: argparse.Namespace) -> int:
    import json
    import time
    from pathlib import Path

    from annotator.calibration import apply_refinement, refine_calibration, restore_calibration
    from annotator.store import ProjectStore
    from annotator.store.atomic import atomic_write_bytes

    if args.json:
        check_output_file(args.json, "--json")
    if args.list:
        with ProjectStore.open(args.project, mode="r") as store:
            for v in _versions(store):
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(v["created"]))
                mark = "*" if v["active"] else " "
                print(f"{mark} {v['version']:>3}  {when}  {v['file']}  {v['note']}")
        return 0
    if not args.dry_run:
        check_writable_folder(args.project, "PROJECT")
    if args.restore is not None:
        if args.dry_run:
            raise CliError("--restore writes; it takes no --dry-run (use --list to see "
                           "the versions)")
        with ProjectStore.open(args.project, mode="w") as store:
            done = restore_calibration(store, args.restore)
            report = {"restore": done, "versions": _versions(store)}
        print(f"calibration version {done['restored']} is active again as version "
              f"{done['version']}; {done['joints']} human joints re-triangulated "
              f"(moved median {done['moved_median_mm']} mm, max {done['moved_max_mm']} mm); "
              f"'clicks disagree' flags: {done['disagree_flags_cleared']} cleared, "
              f"{done['disagree_flags_set']} set")
    else:
        robust = None if args.robust == "none" else args.robust
        mode = "r" if args.dry_run else "w"
        with ProjectStore.open(args.project, mode=mode) as store:
            before = store.active_calibration
            if not args.center_prior_mm >= 0 or args.center_prior_mm == float("inf"):
                raise CliError(f"--center-prior-mm must be a finite number >= 0, got "
                               f"{args.center_prior_mm}")
            prior = args.center_prior_mm if args.center_prior_mm > 0 else None
            if not args.rotation_prior_deg >= 0 or args.rotation_prior_deg == float("inf"):
                raise CliError(f"--rotation-prior-deg must be a finite number >= 0, got "
                               f"{args.rotation_prior_deg}")
            turn = args.rotation_prior_deg if args.rotation_prior_deg > 0 else None
            result = refine_calibration(store, source=args.source, intrinsics=args.intrinsics,
                                        robust=robust, threshold_px=args.threshold_px,
                                        center_prior_mm=prior, rotation_prior_deg=turn,
                                        per_capture=args.per_capture)
            report = {"refinement": result.to_dict(), "active_before": before}
            if not args.dry_run:
                report["written"] = apply_refinement(store, result)
                report["versions"] = _versions(store)
        _print_table(result.cameras)
        groups = {tuple(r["refined_with"]) for r in result.cameras}
        points = sum(result.points[g[0]] for g in groups)
        shared = [g for g in groups if len(g) > 1]
        together = "".join(f"; {', '.join(g)} refined together (one calibration)"
                           for g in sorted(shared))
        print(f"{points} points from the {args.source} labels, {result.seconds:.2f} s"
              f"{together}")
        if args.dry_run:
            print(f"dry run: nothing written (calibration version {before} stays active)")
        else:
            w = report["written"]
            print(f"calibration version {w['version']} is active (version {before} kept; "
                  f"'--restore {before}' brings it back); {w['joints']} human joints "
                  f"re-triangulated (moved median {w['moved_median_mm']} mm, max "
                  f"{w['moved_max_mm']} mm); 'clicks disagree' flags: "
                  f"{w['disagree_flags_cleared']} cleared, {w['disagree_flags_set']} set")
    if args.json:
        atomic_write_bytes(Path(args.json), (json.dumps(report, indent=1) + "\n").encode())
    return 0
