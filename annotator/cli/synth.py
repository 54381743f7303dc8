"""``annotator synth OUT``: generate a synthetic studio capture with exact ground truth."""

from __future__ import annotations

import argparse

from annotator.cli.support import positive_int as _positive
from annotator.cli.support import tqdm_progress

#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 180


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "synth",
        help="generate a synthetic multi-camera hand capture (images + ground truth)",
        description="Render a studio capture of two articulated hands (peak poses, "
        "range-of-motion gestures, interacting hands) seen by a camera dome, and write it as "
        "a project with JPEG images and exact 3D/2D ground truth.",
    )
    p.add_argument("out", help="project folder to create (absent or empty)")
    p.add_argument("--cameras", type=_positive, default=80, help="cameras in the dome (80)")
    p.add_argument("--instants", type=_positive, default=60, help="time instants (60)")
    p.add_argument("--subjects", type=_positive, default=2, help="subjects, one capture each (2)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument("--width", type=_positive, default=512, help="landscape image width (512)")
    p.add_argument("--height", type=_positive, default=334, help="landscape image height (334)")
    p.add_argument("--jpeg-quality", type=_positive, default=92, help="JPEG quality (92)")
    p.add_argument("--workers", type=_positive, default=2, help="rendering processes (2)")
    p.add_argument(
        "--video",
        action="store_true",
        help="write one video per camera (OUT/videos/<camera>.mp4) and a project read from "
        "them, instead of JPEG images",
    )
    p.add_argument(
        "--codec",
        choices=("h264", "mpeg4", "mjpeg"),
        default="h264",
        help="(--video) codec of the videos (h264; mjpeg writes <camera>.avi)",
    )
    p.add_argument("--contact-sheet", metavar="PATH", help="also write a PNG/JPEG grid of views")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a synthetic studio project already at OUT (one holding human labels "
        "or other work is refused)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    from annotator.synth.contact_sheet import write_contact_sheet
    from annotator.synth.studio import StudioConfig
    from annotator.synth.writer import write_capture

    config = StudioConfig(
        cameras=args.cameras,
        instants=args.instants,
        subjects=args.subjects,
        seed=args.seed,
        width=args.width,
        height=args.height,
    )
    with tqdm_progress("rendering", "instant") as progress:
        result = write_capture(
            args.out,
            config,
            workers=args.workers,
            jpeg_quality=args.jpeg_quality,
            overwrite=args.overwrite,
            progress=progress,
            video=args.codec if args.video else None,
        )
    print(
        f"wrote {result.path}: {result.instants} instants x {result.cameras} cameras = "
        f"{result.images} {'video frames' if args.video else 'images'} "
        f"({result.images_per_second:.1f} images/s)"
    )
    if args.contact_sheet:
        write_contact_sheet(args.out, args.contact_sheet)
        print(f"contact sheet: {args.contact_sheet}")
    return 0
