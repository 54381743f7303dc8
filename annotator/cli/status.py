"""``annotator status [PROJECT]``: the toolkit's status, or a project's counts."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("status", help="show the toolkit's status, or a project's progress")
    p.add_argument("project", nargs="?", help="project folder (omit for the toolkit status)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    return p


def run(args: argparse.Namespace) -> int:
    import json
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
