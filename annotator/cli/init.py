"""``annotator init PROJECT --images ROOT --calibration FILE``: index a capture's images."""

from __future__ import annotations

import argparse

from annotator.cli.support import tqdm_progress

#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 20


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "init",
        help="create a project from an image folder and a calibration",
        description="Create a project indexing <images>/<capture>/<sequence>/cam<id>/"
        "image<frame>.jpg with the cameras of a calibration file (cameras.toml, anipose "
        "toml, InterHand2.6M camera json, OpenCV yaml/json).",
    )
    p.add_argument("project", help="project folder to create")
    p.add_argument("--images", required=True, help="image root folder")
    p.add_argument("--calibration", required=True, help="calibration file")
    p.add_argument("--name", help="project name (default: the folder name)")
    p.add_argument("--capture-id", help="index only this capture folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing project")
    return p


def run(args: argparse.Namespace) -> int:
    from annotator.store.scan import init_project

    with tqdm_progress("scanning", "seq") as progress:
        store = init_project(
            args.project,
            args.images,
            args.calibration,
            name=args.name,
            capture_id=args.capture_id,
            overwrite=args.overwrite,
            progress=progress,
        )
    with store:  # releases the write lock even if reading the counts fails
        status = store.status()
    print(
        f"created {args.project}: {status.instants} instants, {status.cameras} cameras, "
        f"{status.images} images"
    )
    return 0
