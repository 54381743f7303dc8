"""``annotator export-coco PROJECT OUT.json``: COCO keypoints of the projected 3D labels."""

from __future__ import annotations

import argparse

from annotator.cli.support import check_output_file, tqdm_progress

#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 170


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "export-coco",
        help="export COCO keypoints (right_hand/left_hand) from the projected 3D joints",
    )
    p.add_argument("project", help="project folder")
    p.add_argument("out", help="output JSON file")
    p.add_argument(
        "--frames-dir",
        help="(a project read from videos) where the exported frames are written as JPEG "
        "files (default: OUT without its suffix + '_images')",
    )
    return p


def run(args: argparse.Namespace) -> int:
    from annotator.interchange import export_coco
    from annotator.store import ProjectStore

    check_output_file(args.out, "OUT")
    with (
        ProjectStore.open(args.project, mode="r") as store,
        tqdm_progress("export", "instant") as progress,
    ):
        result = export_coco(store, args.out, progress=progress, frames_dir=args.frames_dir)
    print(f"wrote {result.images} images, {result.annotations} hand annotations to {result.path}")
    return 0
