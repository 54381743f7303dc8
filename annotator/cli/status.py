"""``annotator status [PROJECT]``: the toolkit's status, or a project's counts."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("status", help="show the toolkit's status, or a project's progress")
    p.add_argument("project", nargs="?", help="project folder (omit for the toolkit status)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    return p


def _project_status(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from annotator.store import ProjectStore

    store = ProjectStore.open(args.project, mode="r")
    try:
        counts = dataclasses.asdict(store.status())
        info = {"project": store.name, "path": str(store.path),
                "schema_version": store.schema_version, "captures": store.captures, **counts}
    finally:
        store.close()
    if args.json:
        print(json.dumps(info))
    else:
        for key, value in info.items():
            print(f"{key}: {value}")
    return 0


def run(args: argparse.Namespace) -> int:
    import json

    if args.project:
        return _project_status(args)
    import platform

    import numpy as np

    import annotator
    import triangulation

    info = {
        "annotator": annotator.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "triangulation": sorted(triangulation.__all__),
    }
    if args.json:
        print(json.dumps(info))
    else:
        for key, value in info.items():
            print(f"{key}: {value}")
    return 0
