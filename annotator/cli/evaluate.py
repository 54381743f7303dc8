"""``annotator evaluate PROJECT``: label accuracy against ground truth, and the views curve."""

from __future__ import annotations

import argparse

from annotator.cli.support import check_output_file, positive_int, tqdm_progress


def _views(text: str) -> list[int]:
    try:
        views = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        msg = f"--views must be integers like 2,4,8, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not views:
        raise argparse.ArgumentTypeError("--views is empty")
    return views


#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 110


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "evaluate",
        help="3D error of machine / human labels against ground truth, error vs views",
        description="Needs ground truth (a synthetic project). Prints and optionally writes a "
        "JSON report: machine.median_mm / mean_mm (single and interacting), human.median_mm, "
        "baseline.median_mm (mean pose at the true root), and views_curve (machine detections "
        "re-triangulated from v random views, mean +- std over --repeats draws).",
    )
    p.add_argument("project", help="project folder")
    p.add_argument("--json", metavar="OUT", help="write the report as JSON to this file")
    p.add_argument("--views", type=_views, default=None,
                   help="comma-separated view counts (default 2,4,8,... and all cameras)")
    p.add_argument("--repeats", type=positive_int, default=100,
                   help="random view subsets per count")
    p.add_argument("--seed", type=int, default=0, help="seed of the view draws")
    return p


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from annotator.machine_labels.evaluation import evaluate_project
    from annotator.store import ProjectStore

    if args.json:
        check_output_file(args.json, "--json")
    with (
        ProjectStore.open(args.project, mode="r") as store,
        tqdm_progress("views curve", "step") as progress,
    ):
        report = evaluate_project(store, views=args.views, repeats=args.repeats,
                                  seed=args.seed, progress=progress)
    if args.json:
        from annotator.store.atomic import atomic_write_bytes

        text = json.dumps(_no_nan(report), indent=1, allow_nan=False)
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(Path(args.json), text.encode("utf-8"))
    m, h, b = report["machine"], report["human"], report["baseline"]
    print(f"machine  median {m['median_mm']:.2f} mm  mean {m['mean_mm']:.2f} mm  "
          f"({m['joints']} joints, {m['instants']} instants, coverage {m['coverage']:.1%}; "
          f"single {m['single']['median_mm']:.2f}, interacting "
          f"{m['interacting']['median_mm']:.2f})")
    if "hands" in m:
        hd = m["hands"]
        print(f"hands    {hd['found']} of {hd['present']} present hands labelled, "
              f"{hd['missed']} missed, {hd['extra']} extra")
    q = report.get("qc") or {}
    if q.get("joints"):
        def mm(v):
            return "n/a" if v is None or v != v else f"{v:.2f} mm"

        sel = q.get("selected_precision")
        sel_text = "" if "selected_joints" not in q else (
            f"; selection rule keeps {q['selected_joints']} joints"
            + ("" if sel is None else f", {sel:.0%} within 5 mm"))
        print(f"qc       {q['flagged_share']:.0%} flagged: median {mm(q['flagged_median_mm'])} "
              f"flagged vs {mm(q['unflagged_median_mm'])} unflagged{sel_text}")
    print(f"human    median {h['median_mm']:.2f} mm  ({h['joints']} joints)")
    print(f"baseline median {b['median_mm']:.2f} mm  (mean pose at the true root)")
    for p in report["views_curve"]:
        print(f"views {p['views']:4d}: {p['mean_mm']:.2f} +- {p['std_mm']:.2f} mm  "
              f"(single {p['single_mean_mm']:.2f}, interacting {p['interacting_mean_mm']:.2f}; "
              f"median {p['median_mm']:.2f}; RANSAC consensus {p['ransac_share']:.0%})")
    return 0


def _no_nan(value):
    """The report with NaN as null (strict JSON)."""
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value
