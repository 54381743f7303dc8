"""``annotator init PROJECT (--images ROOT | --videos DIR) --calibration FILE``: index a
capture's images, or its synchronised per-camera videos."""

from __future__ import annotations

import argparse

from annotator.cli.support import tqdm_progress

#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 20


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "init",
        help="create a project from an image folder or per-camera videos, and a calibration",
        description="Create a project indexing <images>/<capture>/<sequence>/cam<id>/"
        "image<frame>.jpg, or one video file per camera in a folder (--videos; frames are "
        "decoded when needed, never extracted), with the cameras of a calibration file "
        "(cameras.toml, anipose toml, InterHand2.6M camera json, OpenCV yaml/json).",
    )
    p.add_argument("project", help="project folder to create")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", help="image root folder")
    source.add_argument("--videos", help="folder with one synchronised video per camera")
    p.add_argument("--calibration", required=True, help="calibration file")
    p.add_argument("--name", help="project name (default: the folder name)")
    p.add_argument("--capture-id", help="(--images) index only this capture folder")
    p.add_argument(
        "--pattern",
        default="{camera}.mp4",
        help="(--videos) file name of a camera's video; {camera} is the calibration's camera "
        "name (default: {camera}.mp4)",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--every", type=_positive, help="(--videos) every N-th frame is an instant (default 1)"
    )
    which.add_argument(
        "--frames",
        help="(--videos) text file of the frames that are instants: '<frame>' or "
        "'<frame> <sequence>' per line",
    )
    p.add_argument(
        "--offsets",
        help="(--videos) TOML file 'camera = offset': capture frame f is frame f + offset of "
        "that camera's video",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing project")
    return p


def run(args: argparse.Namespace) -> int:
    from annotator.store.errors import ProjectFormatError

    if args.videos is None:
        stray = [f"--{n}" for n in ("every", "frames", "offsets") if getattr(args, n)]
        if args.pattern != "{camera}.mp4":
            stray.append("--pattern")
        if stray:
            raise ProjectFormatError(f"{', '.join(stray)} only apply to --videos")
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
    else:
        if args.capture_id:
            raise ProjectFormatError("--capture-id only applies to --images")
        from annotator.store.scan_video import init_video_project

        with tqdm_progress("probing videos", "video") as progress:
            store = init_video_project(
                args.project,
                args.videos,
                args.calibration,
                pattern=args.pattern,
                every=args.every,
                frames_file=args.frames,
                offsets_file=args.offsets,
                name=args.name,
                overwrite=args.overwrite,
                progress=progress,
            )
    with store:  # releases the write lock even if reading the counts fails
        status = store.status()
    what = "frames of videos" if args.videos is not None else "images"
    print(
        f"created {args.project}: {status.instants} instants, {status.cameras} cameras, "
        f"{status.images} {what}"
    )
    return 0
