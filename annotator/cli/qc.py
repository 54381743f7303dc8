"""``annotator qc PROJECT``: per-annotator quality of a labelling team."""

from __future__ import annotations

import argparse

from annotator.cli.support import CliError, check_output_file

#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 54


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "qc",
        help="per-annotator quality: gold error, agreement on repeats, joints per hour, "
             "bone-length flags",
        description=(
            "From the packages 'annotator collect' brought back: per annotator, instants and "
            "joints labelled, clicks per joint, active time and joints per hour, 3D error on "
            "gold (median, p90), agreement on repeats (median mm) and the share of joints "
            "the per-subject bone-length check flags. Refreshes the bone-length flags when "
            "the project is not open elsewhere."
        ),
    )
    p.add_argument("project", help="project folder")
    p.add_argument("--json", metavar="OUT", help="write the report as JSON ('-': stdout)")
    p.add_argument("--html", metavar="OUT", help="write a page with the table and plots")
    return p


def _fmt(v, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from annotator.store import ProjectLockedError, ProjectStore, is_project
    from annotator.team.bone_check import refresh_bone_flags
    from annotator.team.qc import quality_report
    from annotator.team.qc_page import write_qc_page
    from atomic_files import atomic_write_bytes

    if not is_project(args.project):
        raise CliError(f"PROJECT {args.project}: not a project folder (no project.toml)")
    if args.json and args.json != "-":
        check_output_file(args.json, "--json")
    if args.html:
        check_output_file(args.html, "--html")
    flags = None
    try:  # the bone-length flags are refreshed when nobody else holds the project
        store = ProjectStore.open(args.project, mode="w")
    except (ProjectLockedError, PermissionError, OSError) as exc:
        print(f"bone-length flags not refreshed ({exc})")
        store = ProjectStore.open(args.project, mode="r")
    with store:
        if store.writable:
            flags = refresh_bone_flags(store)
            store.save()
        try:
            report = quality_report(store)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    if args.json == "-":
        print(json.dumps(report, indent=1))
    elif args.json:
        atomic_write_bytes(Path(args.json), (json.dumps(report, indent=1) + "\n").encode())
    if args.html:
        write_qc_page(report, Path(args.html))
    if args.json != "-":
        print(f"{'annotator':<16}{'inst':>6}{'joints':>8}{'cl/j':>6}{'j/h':>7}"
              f"{'gold med':>9}{'gold p90':>9}{'repeat':>8}{'bone%':>7}")
        for a in report["annotators"]:
            share = None if a["bone_flagged_share"] is None else 100 * a["bone_flagged_share"]
            print(f"{a['name']:<16}{a['instants']:>6}{a['joints']:>8}"
                  f"{_fmt(a['clicks_per_joint'], '.2f'):>6}{_fmt(a['joints_per_hour'], '.0f'):>7}"
                  f"{_fmt(a['gold_median_mm'], '.2f'):>9}{_fmt(a['gold_p90_mm'], '.2f'):>9}"
                  f"{_fmt(a['repeat_median_mm'], '.2f'):>8}{_fmt(share, '.1f'):>7}")
        if flags is not None:
            print(f"bone-length flags: +{flags[0]} -{flags[1]}")
    return 0
