"""``annotator machine-label PROJECT``: run the detector over the unlabelled instants.

Runs unchanged as one process or under ``torchrun --nproc_per_node=N`` (``srun torchrun``
on a cluster): instants are sharded deterministically across ranks, each rank writes its
own ``machine/shard-XXXXX.h5``, and a rerun after a crash or a killed rank redoes only the
instants no shard holds. Then ``annotator merge PROJECT``.
"""

from __future__ import annotations

import argparse

from annotator.cli.support import CliError, check_writable_folder, tqdm_progress

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
        default=None,
        help="detector checkpoint (default: the project's newest)",
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
        workers=s.workers if args.workers is None else args.workers,
        pipeline_depth=args.pipeline_depth,
        cpu_threads=args.cpu_threads,
        fine_passes=args.fine_passes,
        flush_every=args.flush_every,
        refine=args.refine,
        refine_tol_mm=args.refine_tol_mm,
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
    import dataclasses
    import logging
    import os
    import sys
    from pathlib import Path

    import numpy as np
    import torch

    from annotator import skeleton
    from annotator.store import ProjectStore
    from annotator.store.labelling_run import labelling_marker
    from annotator.store.machine_shards import (
        ShardWriter,
        archive_run,
        completed_instants,
        read_manifest,
        remove_dead_temps,
        write_manifest,
    )
    from machine_labeler import distributed as D
    from machine_labeler.checkpoint import load_detector, newest_checkpoint
    from machine_labeler.labeling import label_instants

    log = logging.getLogger("machine_labeler.cli")
    settings = _settings(args)
    check_writable_folder(args.project, "PROJECT")  # its shards go to PROJECT/machine
    info = D.dist_info()
    D.init_distributed(info)
    try:
        with (
            ProjectStore.open(args.project, mode="r") as store,
            labelling_marker(store.machine_dir, info.rank, info.world_size),
        ):
            ckpt = Path(args.model) if args.model else newest_checkpoint(store)
            if ckpt is None:
                raise CliError(
                    f"{store.models_dir / 'labeler'}: no detector checkpoint "
                    "(run 'annotator train-labeler' first, or give --model)"
                )
            device = D.pick_device(args.device, info)
            if device.type == "cpu" and info.distributed:
                torch.set_num_threads(max(1, (os.cpu_count() or 1) // info.local_world_size))
            if args.workers is None:
                settings = dataclasses.replace(settings, workers=4 if device.type == "cuda" else 0)
            loaded = load_detector(ckpt, device)
            F = store.num_instants
            if args.instants == "all":
                expected = np.arange(F, dtype=np.int64)
            else:
                expected = np.setdiff1d(
                    np.arange(F, dtype=np.int64), store.labelled_instants("human")
                )
            stat = ckpt.stat()
            key = {
                "model": str(ckpt.resolve()),
                "model_mtime": stat.st_mtime,
                "model_size": stat.st_size,
                "instants": args.instants,
                "config": loaded.config.name,
                **settings.meta(),
            }
            machine_dir = store.machine_dir
            if info.rank == 0:
                remove_dead_temps(machine_dir)
                manifest = read_manifest(machine_dir)
                same = (
                    manifest is not None
                    and manifest[1].get("run_key") == key
                    and np.array_equal(np.unique(manifest[0]), expected)
                )
                if not same:
                    moved = archive_run(machine_dir)
                    if moved is not None:
                        log.warning(
                            "a new labelling run: the earlier run's shards moved to %s", moved
                        )
                    write_manifest(machine_dir, expected, {"run_key": key})
            D.barrier()  # the manifest is settled
            done = completed_instants(machine_dir)
            D.barrier()  # every rank has read the shards before any rank writes one
            todo = np.setdiff1d(expected, done)
            mine = D.shard_instants(todo, info.rank, info.world_size)
            writer = ShardWriter(
                machine_dir,
                info.rank,
                info.world_size,
                store.camera_names,
                skeleton.NUM_JOINTS,
                meta={**key, "threshold_px": settings.threshold_px},
            )
            show = info.rank == 0
            with tqdm_progress(
                f"labelling (rank {info.rank}/{info.world_size})", "instant"
            ) as progress:
                stats = label_instants(
                    store,
                    loaded.model,
                    loaded.config,
                    mine,
                    writer,
                    settings,
                    device,
                    progress if show else None,
                )
        for b in stats.bad_images[:20]:
            print(f"skipped image: instant {b.instant}: {b.reason}", file=sys.stderr)
        if len(stats.bad_images) > 20:
            print(f"... and {len(stats.bad_images) - 20} more skipped images", file=sys.stderr)
        print(
            f"rank {info.rank}/{info.world_size}: labelled {stats.instants} instants "
            f"({len(done)} of {len(expected)} were done already), {stats.images} images, "
            f"{len(stats.bad_images)} skipped, {stats.images_per_s:.1f} images/s, "
            f"model busy {stats.busy_share:.0%} on {device}"
        )
        D.barrier()
        if info.rank == 0:
            print(f"next: annotator merge {args.project}")
        return 0
    finally:
        D.shutdown()
