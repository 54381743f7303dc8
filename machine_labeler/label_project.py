"""Machine-label a project: the whole run of ``annotator machine-label``, as one function.

:func:`label_project` is to labelling what :func:`machine_labeler.train.train_labeler` is to
training. It runs unchanged as one process or under ``torchrun --nproc_per_node=N``
(``srun torchrun`` on a cluster):

1. every rank joins a gloo process group (labelling needs barriers only) and marks the run
   (``annotator.store.labelling_run``) so that other commands see it;
2. rank 0 settles the manifest: the instants to label and the run's key (the checkpoint, its
   size and time, the instant set, the settings). A run whose key or instants differ from the
   shards on disk moves those shards to an archive folder first;
3. every rank reads which instants the shards already hold and labels its share of the rest
   (:func:`shard_instants`), writing its own ``machine/shard-XXXXX.h5`` series.

A rerun after a crash or a killed rank therefore redoes only the instants no shard holds.
Then ``annotator merge PROJECT`` writes the labels.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
from annotator.version import code_version
from machine_labeler.checkpoint import load_detector, newest_checkpoint
from machine_labeler.labeling import LabelingSettings, LabelingStats, label_instants
from torch_common.distributed import (
    barrier,
    dist_info,
    init_distributed,
    pick_device,
    shutdown,
)

__all__ = ["INSTANT_SETS", "LabelRun", "label_project", "shard_instants"]

log = logging.getLogger(__name__)

#: Which instants a run labels: those without human 3D joints, or every one.
INSTANT_SETS = ("unlabelled", "all")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class LabelRun:
    """What one rank did."""

    rank: int
    world_size: int
    device: str
    checkpoint: Path
    expected: int  # instants the run covers (all ranks)
    done_before: int  # of those, instants the shards already held when this rank started
    stats: LabelingStats  # this rank's instants, images, skipped images, speed
    checkpoints: tuple[Path, ...] = ()  # every checkpoint of an ensemble (the first above)


def _common_config(paths: list[Path], configs: list):
    """The config an ensemble's checkpoints share: their crops and heatmaps must agree (the
    outputs are averaged map by map), else a one-line ValueError naming the files."""
    first = configs[0]
    fields = ("crop_px", "heatmap_px", "sigma_px", "loss")
    for path, cfg in zip(paths[1:], configs[1:], strict=True):
        differ = [f for f in fields if getattr(cfg, f) != getattr(first, f)]
        if differ:
            raise ValueError(f"{path}: its {', '.join(differ)} differ from {paths[0]}'s; an "
                             "ensemble's detectors must share crops and heatmaps")
    return first


def shard_instants(
    instants: Sequence[int], rank: int, world_size: int, contiguous: bool = False
) -> np.ndarray:
    """Rank ``rank``'s share of the sorted instants: every ``world_size``-th, from ``rank``
    (``contiguous``: the rank-th of ``world_size`` consecutive runs instead).

    A function of the sorted list alone, so every rank computes the same partition and each
    instant belongs to exactly one rank. Interleaving balances instants of different
    sequences; a project read from videos takes consecutive runs, so each rank decodes its
    part of every video in order instead of all of it.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in 0..{world_size - 1}")
    arr = np.unique(np.asarray(instants, np.int64))
    if contiguous:
        return np.array_split(arr, world_size)[rank]
    return arr[rank::world_size]


def label_project(
    project: str | Path,
    *,
    model: str | Path | Sequence[str | Path] | None = None,
    instants: str = "unlabelled",
    device: str = "auto",
    settings: LabelingSettings | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> LabelRun:
    """Label ``project``'s ``instants`` (:data:`INSTANT_SETS`) with the detector checkpoint
    ``model`` (default: the project's newest) on this rank; see the module docstring.
    Several checkpoints are an ensemble: every crop goes through each and their outputs are
    averaged (:func:`machine_labeler.predict.predict_crops`; their heatmap codecs must agree).

    ``workers``: image-decoding processes per rank (None: 0 on the CPU, 4 on a GPU; it
    overrides ``settings.workers``). ``progress(done, total)`` is called on rank 0 only.
    A project without a checkpoint is a FileNotFoundError; bad settings a ValueError.
    """
    if instants not in INSTANT_SETS:
        raise ValueError(f"instants must be one of {INSTANT_SETS}, got {instants!r}")
    settings = settings or LabelingSettings()
    info = dist_info()
    init_distributed(info, backend="gloo")
    try:
        with (
            ProjectStore.open(project, mode="r") as store,
            labelling_marker(store.machine_dir, info.rank, info.world_size),
        ):
            if model is None or isinstance(model, (str, Path)):
                ckpts = [Path(model) if model else newest_checkpoint(store)]
            else:
                ckpts = [Path(m) for m in model]
            if not ckpts or ckpts[0] is None:
                raise FileNotFoundError(
                    f"{store.models_dir / 'labeler'}: no detector checkpoint "
                    "(run 'annotator train-labeler' first, or give --model)"
                )
            dev = pick_device(device, info)
            if dev.type == "cpu" and info.distributed:
                torch.set_num_threads(max(1, (os.cpu_count() or 1) // info.local_world_size))
            if workers is None:
                workers = 4 if dev.type == "cuda" else settings.workers
            settings = dataclasses.replace(settings, workers=workers)
            loaded = [load_detector(c, dev) for c in ckpts]
            config = _common_config(ckpts, [d.config for d in loaded])
            everything = np.arange(store.num_instants, dtype=np.int64)
            expected = everything if instants == "all" else np.setdiff1d(
                everything, store.labelled_instants("human"))
            stats = [c.stat() for c in ckpts]
            one = len(ckpts) == 1
            key = {
                # one checkpoint: its path, time and size (as before ensembles); several: lists
                "model": str(ckpts[0].resolve()) if one else [str(c.resolve()) for c in ckpts],
                "model_mtime": stats[0].st_mtime if one else [st.st_mtime for st in stats],
                "model_size": stats[0].st_size if one else [st.st_size for st in stats],
                "instants": instants,
                "config": config.name,
                # shards of two code versions are never mixed in one run's labels
                "code_version": code_version(),
                **settings.meta(),
            }
            machine_dir = store.machine_dir
            if info.rank == 0:
                _settle_manifest(machine_dir, expected, key)
            barrier()  # the manifest is settled
            done = completed_instants(machine_dir)
            barrier()  # every rank has read the shards before any rank writes one
            mine = shard_instants(
                np.setdiff1d(expected, done), info.rank, info.world_size,
                contiguous=store.is_video_project,
            )
            writer = ShardWriter(
                machine_dir,
                info.rank,
                info.world_size,
                store.camera_names,
                skeleton.NUM_JOINTS,
                meta={**key, "threshold_px": settings.threshold_px},
            )
            run_stats = label_instants(
                store, [d.model for d in loaded], config, mine, writer, settings, dev,
                progress if info.rank == 0 else None,
            )  # fmt: skip
        barrier()  # every shard is written
        return LabelRun(info.rank, info.world_size, str(dev), ckpts[0], len(expected),
                        len(done), run_stats, tuple(ckpts))  # fmt: skip
    finally:
        shutdown()


def _settle_manifest(machine_dir: Path, expected: np.ndarray, key: dict) -> None:
    """Keep the shards of the same run; archive those of another and write a new manifest."""
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
            log.warning("a new labelling run: the earlier run's shards moved to %s", moved)
        write_manifest(machine_dir, expected, {"run_key": key})
