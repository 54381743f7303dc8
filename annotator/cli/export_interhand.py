"""``annotator export-interhand PROJECT OUT --split S``: write the InterHand2.6M layout."""

from __future__ import annotations

import argparse

from annotator.cli.support import check_output_folder, tqdm_progress

#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 160


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "export-interhand",
        help="export the project in the InterHand2.6M layout (readable by InterNet's loader)",
    )
    p.add_argument("project", help="project folder")
    p.add_argument("out", help="output root: OUT/annotations/S/..., OUT/images/S/...")
    p.add_argument("--split", required=True, help="split name, e.g. train")
    p.add_argument(
        "--images",
        choices=("link", "copy", "none"),
        default="link",
        help="hard-link (default) or copy the images, or write the JSON only",
    )
    return p


def run(args: argparse.Namespace) -> int:
    from annotator.interchange import export_interhand
    from annotator.store import ProjectStore

    check_output_folder(args.out, "OUT")
    with (
        ProjectStore.open(args.project, mode="r") as store,
        tqdm_progress("export", "entry") as progress,
    ):
        result = export_interhand(
            store, args.out, args.split, images=args.images, progress=progress
        )
    print(f"wrote {result.images} images, {result.frames} frames to {result.layout.root}")
    if result.skipped_instants or result.skipped_images:
        print(
            f"skipped {result.skipped_instants} instants without hands, "
            f"{result.skipped_images} images without a visible joint"
        )
    return 0
