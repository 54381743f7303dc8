"""``annotator status [PROJECT]``: the toolkit's status, or a project's counts."""

from __future__ import annotations

import argparse

#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 30


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("status", help="show the toolkit's status, or a project's progress")
    p.add_argument("project", nargs="?", help="project folder (omit for the toolkit status)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    return p


def _project_info(path: str) -> dict:
    import dataclasses

    from annotator.store import ProjectStore
    from annotator.store.labelling_run import running_labellers

    with ProjectStore.open(path, mode="r") as store:
        running = running_labellers(store.machine_dir)
        return {
            "project": store.name,
            "path": str(store.path),
            "schema_version": store.schema_version,
            "captures": store.captures,
            **dataclasses.asdict(store.status()),
            # where the images come from: image files, or frames of per-camera videos
            "source": _source(store),
            # cameras.toml holds the active version (annotator refine-calibration)
            "calibration": _calibration(store),
            # a labelling team's packages (annotator assign / collect); a package names its
            # annotator and project
            "team": _team(store),
            # processes of 'annotator machine-label' at work on this project
            "machine_labelling": [r.describe() for r in running],
        }


def _source(store) -> str:
    if not store.is_video_project:
        return f"images under {store.image_root}"
    videos = store.settings.get("videos", {})
    codecs = ", ".join(videos.get("codec", [])) or "?"
    return f"{len(videos.get('frames', {}))} videos ({codecs}) in {store.image_root}"


def _calibration(store) -> dict:
    versions = store.calibration_versions()
    active = next(v.version for v in versions if v.active)
    return {"active": active, "versions": len(versions)}


def _team(store) -> dict | None:
    from annotator.store.team_files import answered_packages, read_ledger
    from annotator.team.package import package_info

    package = package_info(store)
    if package is not None:
        return {"package_of": package.get("project"), "annotator": package.get("annotator")}
    ledger = read_ledger(store.path)
    if ledger is None:
        return None
    collected = set(answered_packages(store.path))
    return {"packages": len(ledger.packages), "annotators": ledger.annotators(),
            "collected": sum(p.id in collected for p in ledger.packages)}


def _toolkit_info() -> dict:
    import platform

    import numpy as np

    import annotator
    import triangulation

    return {
        "annotator": annotator.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "triangulation": sorted(triangulation.__all__),
    }


def run(args: argparse.Namespace) -> int:
    import json

    info = _project_info(args.project) if args.project else _toolkit_info()
    if args.json:
        print(json.dumps(info))
    else:
        for key, value in info.items():
            print(f"{key}: {value}")
    return 0
