"""``annotator collect PROJECT PACKAGE_DIR…``: bring work packages back into the project."""

from __future__ import annotations

import argparse

from annotator.cli.support import CliError, check_writable_folder

#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 53


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "collect",
        help="bring work packages back: their labels into the project (gold and repeats "
             "measured, never written over it)",
        description=(
            "Read each package's clicks, 3D joints and marks with their annotator and time, "
            "keep them in PROJECT/team/answers, and write the work into the project's labels "
            "(one answer per instant answered twice: the annotator with the lower gold "
            "error; a later edit made in the project is kept). Collecting a package again "
            "changes nothing; then re-runs the bone-length check."
        ),
    )
    p.add_argument("project", help="project folder")
    p.add_argument("packages", nargs="+", metavar="PACKAGE_DIR",
                   help="package folders written by 'annotator assign'")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    import json

    from annotator.store import ProjectStore
    from annotator.team.bone_check import refresh_bone_flags
    from annotator.team.collect import collect

    check_writable_folder(args.project, "PROJECT")
    with ProjectStore.open(args.project, mode="w") as store:
        try:
            result = collect(store, args.packages)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        added, removed = refresh_bone_flags(store)
        store.save()
    if args.json:
        print(json.dumps({
            "packages": [{"id": p, "annotator": a, "rows": n, "changed": c}
                         for p, a, n, c in result.packages],
            "written": result.written.tolist(), "kept": result.kept.tolist(),
            "bone_flags_added": added, "bone_flags_removed": removed,
        }))
        return 0
    for p, a, n, c in result.packages:
        print(f"{a} ({p}): {n} instants answered" + ("" if c else ", unchanged since last time"))
    print(f"labels written at {result.written.size} instants; bone-length flags +{added} "
          f"-{removed}")
    if result.kept.size:
        print(f"kept the project's own later edits at {result.kept.size} instants, e.g. "
              f"{result.kept[:5].tolist()}")
    return 0
