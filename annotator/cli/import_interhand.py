"""``annotator import-interhand PROJECT``: import an InterHand2.6M split into a project."""

from __future__ import annotations

import argparse

from annotator.cli.support import CliError, tqdm_progress

#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 150


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "import-interhand",
        help="import InterHand2.6M annotations (data, camera, joint_3d json) and images",
        description="Create PROJECT (or add to it) from one InterHand2.6M split. Give either "
        "the official layout (--root ROOT --split S: ROOT/annotations/S/InterHand2.6M_S_*.json, "
        "ROOT/images/S/...) or the three files and the image folder.",
    )
    p.add_argument("project", help="project folder (created if absent)")
    p.add_argument("--root", help="dataset root in the official layout (with --split)")
    p.add_argument("--split", help="split name in the official layout, e.g. train")
    p.add_argument("--data", help="InterHand2.6M_*_data.json")
    p.add_argument("--camera", help="InterHand2.6M_*_camera.json")
    p.add_argument("--joint-3d", dest="joint_3d", help="InterHand2.6M_*_joint_3d.json")
    p.add_argument("--images", help="folder the data json's file_name entries are relative to")
    p.add_argument(
        "--allow-missing-images",
        action="store_true",
        help="import even where image files are missing (counted and reported; the app "
        "shows a placeholder until they arrive)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    from annotator.interchange import InterHandLayout, import_interhand

    files = {
        "data": args.data,
        "camera": args.camera,
        "joint_3d": args.joint_3d,
        "images": args.images,
    }
    if args.root or args.split:
        if not (args.root and args.split):
            raise CliError("--root and --split go together")
        layout = InterHandLayout(args.root, args.split)
        defaults = {
            "data": layout.data,
            "camera": layout.camera,
            "joint_3d": layout.joint_3d,
            "images": layout.images_dir,
        }
        files = {k: v if v else defaults[k] for k, v in files.items()}
    missing = [f"--{k.replace('_', '-')}" for k, v in files.items() if not v]
    if missing:
        raise CliError(f"missing {', '.join(missing)} (or give --root and --split)")
    with tqdm_progress("import", "entry") as progress:
        result = import_interhand(
            args.project,
            progress=progress,
            allow_missing_images=args.allow_missing_images,
            **files,
        )
    print(
        f"imported {result.images} images into {result.instants.size} instants "
        f"({len(result.captures)} captures) in {args.project}"
    )
    if result.missing_images:
        print(
            f"{result.missing_images} image file(s) are missing under {files['images']} "
            f"(imported anyway; add them there later)"
        )
    if result.skipped_frames:
        print(f"skipped {result.skipped_frames} joint_3d frames that no image refers to")
    return 0
