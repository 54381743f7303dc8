"""``annotator machine-label PROJECT``: run the detector over the unlabelled instants.

Runs unchanged as one process or under ``torchrun --nproc_per_node=N`` (``srun torchrun``
on a cluster): instants are sharded deterministically across ranks, each rank writes its
own ``machine/shard-XXXXX.h5``, and a rerun after a crash or a killed rank redoes only the
instants no shard holds. Then ``annotator merge PROJECT``.
"""

from __future__ import annotations

import argparse

from annotator.cli.support import check_writable_folder, tqdm_progress

#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 80


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "machine-label",
        help="label the unlabelled instants with the trained detector (RANSAC-lifted 3D)",
        description="Coarse pass over each whole view to find the hands, fine pass on crops "
        "around them, RANSAC triangulation of the detections, quality checks. Writes "
        "machine/shard-*.h5 (one series per rank; torchrun-ready); 'annotator merge' then "
        "writes the labels. Rerunning resumes: only instants missing from the shards are done.",
    )
    p.add_argument("project", help="project folder")
    p.add_argument(
        "--model",
        metavar="CKPT",
        action="append",
        default=None,
        help="detector checkpoint (default: the project's newest); give it more than once "
        "for an ensemble, whose outputs are averaged crop by crop",
    )
    p.add_argument(
        "--instants",
        choices=("unlabelled", "all"),
        default="unlabelled",
        help="unlabelled (default): instants without human 3D joints; all",
    )
    p.add_argument("--batch-size", type=int, default=64, help="crops per forward (64)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="image-decoding processes per rank (default: 0 on CPU, where the images are "
        "read in the thread that overlaps the CPU steps with the model; 4 on a GPU)",
    )
    p.add_argument(
        "--pipeline-depth",
        type=int,
        default=6,
        help="groups of instants in flight: the CPU steps (reading, hand finding, crops, "
        "lifting) of some run in a thread while the model works on another (6; 1: in turn)",
    )
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument(
        "--threshold-px",
        type=float,
        default=None,
        help="RANSAC inlier threshold of the fine detections (6)",
    )
    p.add_argument(
        "--coarse-threshold-px",
        type=float,
        default=None,
        help="RANSAC threshold of the coarse whole-view pass (default: 1.5 heatmap "
        "pixels of the letterboxed view, ~16 px for 96 px crops of 256 px views)",
    )
    p.add_argument(
        "--cpu-threads",
        type=int,
        default=1,
        help="threads running the CPU steps (1; one gives ~250 images/s, so a GPU wants more)",
    )
    p.add_argument(
        "--fine-passes",
        type=int,
        default=1,
        help="2: crop again around the first fine result (slower, tighter crops)",
    )
    p.add_argument(
        "--refine",
        type=int,
        default=1,
        metavar="K",
        help="per-hand refinement passes (1): each hand found is cropped on its own in every "
        "view from the reprojection of its lifted joints, detected and lifted again, up to K "
        "times or until no joint moves more than --refine-tol-mm (0: off)",
    )
    p.add_argument(
        "--refine-tol-mm",
        type=float,
        default=0.5,
        help="refinement stops for an instant whose joints moved less than this (0.5 mm)",
    )
    p.add_argument(
        "--flip-test",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also detect every crop mirrored and average the two (on by default; twice the "
        "forward work, about 1.5x the labelling time on a CPU)",
    )
    p.add_argument(
        "--flush-every",
        type=int,
        default=16,
        help="instants between shard writes (a killed rank loses at most these)",
    )
    return p


def _settings(args: argparse.Namespace):
    from dataclasses import replace

    from machine_labeler.labeling import LabelingSettings

    s = LabelingSettings()
    changes = dict(
        batch_size=args.batch_size,
        pipeline_depth=args.pipeline_depth,
        cpu_threads=args.cpu_threads,
        fine_passes=args.fine_passes,
        flush_every=args.flush_every,
        refine=args.refine,
        refine_tol_mm=args.refine_tol_mm,
        flip_test=args.flip_test,
    )
    if args.threshold_px is not None:
        changes["threshold_px"] = args.threshold_px
    if args.coarse_threshold_px is not None:
        if not args.coarse_threshold_px > 0:
            raise ValueError("--coarse-threshold-px must be > 0")
        changes["hands"] = replace(s.hands, coarse_threshold_px=args.coarse_threshold_px)
    if args.refine < 0:
        raise ValueError("--refine must be >= 0")
    if not args.refine_tol_mm >= 0:
        raise ValueError("--refine-tol-mm must be >= 0")
    for name in ("batch_size", "flush_every", "fine_passes", "pipeline_depth", "cpu_threads"):
        if changes[name] < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
    if args.workers is not None and args.workers < 0:
        raise ValueError("--workers must be >= 0")
    return replace(s, **changes)


def run(args: argparse.Namespace) -> int:
    import sys

    from machine_labeler.label_project import label_project

    settings = _settings(args)
    check_writable_folder(args.project, "PROJECT")  # its shards go to PROJECT/machine
    with tqdm_progress("labelling", "instant") as progress:
        done = label_project(
            args.project,
            model=args.model,
            instants=args.instants,
            device=args.device,
            settings=settings,
            workers=args.workers,
            progress=progress,
        )
    stats = done.stats
    for b in stats.bad_images[:20]:
        print(f"skipped image: instant {b.instant}: {b.reason}", file=sys.stderr)
    if len(stats.bad_images) > 20:
        print(f"... and {len(stats.bad_images) - 20} more skipped images", file=sys.stderr)
    print(
        f"rank {done.rank}/{done.world_size}: labelled {stats.instants} instants "
        f"({done.done_before} of {done.expected} were done already), {stats.images} images, "
        f"{len(stats.bad_images)} skipped, {stats.images_per_s:.1f} images/s, "
        f"model busy {stats.busy_share:.0%} on {done.device}"
    )
    if done.rank == 0:
        print(f"next: annotator merge {args.project}")
    return 0
