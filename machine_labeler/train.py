"""Training the detector: a plain loop with hooks.

Adam, linear warm-up then x0.1 steps (``config.lr_decay_at``), AMP (bfloat16) on CUDA,
channels-last everywhere, DDP when launched by torchrun (gloo on CPU, NCCL on CUDA), resume
from the newest checkpoint of the same config, ``metrics.jsonl`` (step, epoch, loss, lr,
images/s, skipped images) beside the checkpoint, and a ``progress(done, total)`` callback.
Hooks are callables ``hook(info: StepInfo)`` called after every step on every rank.

Training data: ``labels="human"`` trains on the human 3D labels projected into every camera;
``labels="human+machine"`` adds the merged machine joints that pass the selection rule
(:mod:`annotator.machine_labels.selection`), projected the same way with a lower loss weight
(multiview bootstrapping). A run starts from random weights, ImageNet backbone weights, or
a whole earlier detector (``init_weights`` naming a labeller checkpoint, or
``init_newest``: the project's newest checkpoint of the same config).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from annotator.skeleton import FLIP_INDEX, HANDS, hand_slice
from annotator.time_budget import TimeBudget
from machine_labeler.checkpoint import (
    CHECKPOINT_NAME,
    is_detector_checkpoint,
    load_checkpoint,
    load_detector_weights,
    new_run_dir,
    newest_checkpoint,
    save_checkpoint,
)
from machine_labeler.config import LabelerConfig, config_from_dict
from machine_labeler.loader_workers import worker_init_fn
from machine_labeler.model import KeypointDetector, load_imagenet_weights
from machine_labeler.train_data import (
    EpochSampler,
    HandCropDataset,
    LabelledViews,
    collate,
    concat_views,
    load_labelled_views,
    load_machine_views,
)
from torch_common.distributed import (
    any_rank,
    barrier,
    dist_info,
    init_distributed,
    pick_device,
    shutdown,
)

__all__ = [
    "StepInfo",
    "TrainResult",
    "LABEL_SETS",
    "NoMachineLabelsError",
    "train_labeler",
    "init_from_file",
    "heatmap_loss",
    "location_loss",
    "lr_at",
]

log = logging.getLogger(__name__)

METRICS_NAME = "metrics.jsonl"
#: What ``--labels`` may train on.
LABEL_SETS = ("human", "human+machine")


class NoMachineLabelsError(ValueError):
    """``--labels human+machine`` on a project whose machine labels were never merged."""


@dataclass(frozen=True)
class StepInfo:
    step: int  # steps done (1-based after the first step)
    total_steps: int
    epoch: float  # samples drawn / training views
    loss: float
    lr: float
    images_per_s: float  # all ranks, over the last logging window
    skipped_images: int  # unreadable images so far (this rank)
    rank: int


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    checkpoint: Path
    steps: int
    final_loss: float  # mean loss of the last logging window
    images_per_s: float  # mean training throughput over the whole run (all ranks)
    skipped_images: int
    views: int  # training (instant, camera) views
    world_size: int
    stopped_by_time: bool = False  # the --max-minutes budget ended the run before its steps
    train_seconds: float = 0.0  # training-loop time, earlier attempts of a resumed run included
    labels: str = "human"  # the label set trained on (LABEL_SETS)
    machine_views: int = 0  # of ``views``, those from selected machine joints
    # human+machine: the selection's counts (Selection.summary: kept, candidates,
    # precision_5mm where the project has ground truth, rejections by reason)
    selection: dict | None = None
    init_weights: str | None = None  # the file the weights started from, if any


def lr_at(step: int, total_steps: int, config: LabelerConfig) -> float:
    """Learning rate for ``step`` (0-based): linear warm-up, then x0.1 at each
    ``config.lr_decay_at`` fraction of ``total_steps``."""
    warm = min(config.warmup_steps, max(total_steps // 10, 1))
    lr = config.lr * min(1.0, (step + 1) / warm)
    for frac in config.lr_decay_at:
        if step >= frac * total_steps:
            lr *= 0.1
    return lr


def heatmap_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Joint-weighted mean squared error; pred/target (B, J, h, w), weight (B, J)."""
    return _heatmap_terms(pred, target, weight).mean()


def _heatmap_terms(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """(B,) per-crop terms of :func:`heatmap_loss` (their mean is the loss)."""
    err = (pred.float() - target) ** 2
    return (err.mean(dim=(2, 3)) * weight).mean(dim=1)


def _location_use(target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """(B, J) joints the location term scores: weighted and with their peak in the crop."""
    return (weight > 0) & (target.amax(dim=(2, 3)) > 0.5)


def _location_terms(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """(B,) per-crop sums of the KL terms of :func:`location_loss`."""
    mass = target.sum(dim=(2, 3), keepdim=True)
    t = (target / mass.clamp_min(1e-12)).flatten(2)
    logp = torch.log_softmax(logits.float().flatten(2), dim=-1)
    kl = (t * (torch.log(t.clamp_min(1e-12)) - logp)).sum(-1)
    return (kl * _location_use(target, weight)).sum(dim=1)


def location_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Spatial softmax cross-entropy minus the target's entropy (a KL divergence, 0 when the
    logits reproduce the normalised Gaussian) over the weighted joints inside the crop."""
    use = _location_use(target, weight)
    return _location_terms(logits, target, weight).sum() / use.sum().clamp_min(1)


def detector_loss(
    pred: torch.Tensor,
    logits: torch.Tensor | None,
    target: torch.Tensor,
    weight: torch.Tensor,
    config: LabelerConfig,
) -> torch.Tensor:
    """The training loss: heatmap MSE (+ ``ce_weight`` x location KL for the dual head).

    With ``config.two_hand_channels == "either"``, a crop in which both hands have joints is
    scored against its targets as they are and with the two hands' channels swapped, and
    the smaller of the two counts (a permutation-invariant loss over the two hands).
    """
    n_use = _location_use(target, weight).sum().clamp_min(1)

    def per_crop(t: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        terms = _heatmap_terms(pred, t, w) * (1.0 / pred.shape[0])
        if logits is not None:
            terms = terms + config.ce_weight * _location_terms(logits, t, w) / n_use
        return terms

    own = per_crop(target, weight)
    if config.two_hand_channels != "either":
        return own.sum()
    use = _location_use(target, weight)
    both = torch.stack([use[:, hand_slice(h)].any(dim=1) for h in HANDS], 1).all(dim=1)
    if not bool(both.any()):
        return own.sum()
    flip = torch.from_numpy(np.array(FLIP_INDEX, dtype=np.int64)).to(target.device)
    swapped = per_crop(target[:, flip], weight[:, flip])
    return torch.where(both, torch.minimum(own, swapped), own).sum()


def train_labeler(
    project: str | Path,
    config: LabelerConfig,
    *,
    steps: int | None = None,
    epochs: float | None = None,
    device: str = "auto",
    init_weights: str | Path | None = None,
    resume: bool = False,
    batch_size: int | None = None,
    workers: int = 0,
    seed: int = 0,
    instants: np.ndarray | None = None,
    log_every: int = 10,
    progress: Callable[[int, int], None] | None = None,
    hooks: Sequence[Callable[[StepInfo], None]] = (),
    max_minutes: float | None = None,
    labels: str = "human",
    machine_weight: float | None = None,
    init_newest: bool = False,
) -> TrainResult:
    """Train the detector on the labels of ``project`` and write a checkpoint.

    ``steps`` is the total step count of the run (a resumed run continues up to it);
    otherwise ``epochs`` (or ``config.epochs``) passes over the training views.
    ``max_minutes`` bounds the training loop's wall time, resumes included (see
    :mod:`annotator.time_budget`): the run stops with a checkpoint when it is spent, and
    the learning-rate schedule runs on whichever of steps and time is further along.
    ``batch_size`` is per process. Returns the run folder, checkpoint and throughput.

    ``labels``: "human", or "human+machine" to add the selected merged machine joints
    (module docstring) with loss weight ``machine_weight`` (default
    ``config.machine_weight``); NoMachineLabelsError when nothing was merged.
    ``init_weights``: ImageNet EfficientNet weights (backbone only) or a labeller
    checkpoint (the whole detector; its config must fit). ``init_newest``: start from the
    project's newest checkpoint of ``config.name``. Neither goes with ``resume``.
    """
    from annotator.store import ProjectStore

    if labels not in LABEL_SETS:
        raise ValueError(f"--labels must be one of {', '.join(LABEL_SETS)}, got {labels!r}")
    weight = config.machine_weight if machine_weight is None else float(machine_weight)
    if not (math.isfinite(weight) and weight > 0):
        raise ValueError(f"--machine-weight must be > 0, got {machine_weight}")
    if init_weights is not None and init_newest:
        raise ValueError("--init-weights and --init newest exclude each other")
    if resume and (init_weights is not None or init_newest):
        raise ValueError("--resume continues a run's own weights: it takes no --init-weights "
                         "or --init")
    if steps is not None and steps <= 0:
        raise ValueError("--steps must be > 0")
    if epochs is not None and not epochs > 0:
        raise ValueError("--epochs must be > 0")
    if workers < 0:
        raise ValueError("--workers must be >= 0")
    TimeBudget(max_minutes)  # validates before any process group or file exists
    info = dist_info()
    dev = pick_device(device, info)
    started = init_distributed(info, dev)
    rank, world = info.rank, info.world_size
    try:
        with ProjectStore.open(project, mode="r") as store:
            views = load_labelled_views(store, instants)
            n_machine, summary = 0, None
            if labels == "human+machine":
                machine, summary = _machine_views(store, config, weight)
                n_machine = len(machine)
                views = concat_views(views, machine)
            if init_newest:
                init_weights = newest_checkpoint(store, config.name)
                if init_weights is None:
                    raise ValueError(f"--init newest: no {config.name!r} labeler checkpoint "
                                     f"under {store.models_dir / 'labeler'}")
            models_dir = store.models_dir
        extra = {"labels": labels, "machine_views": n_machine,
                 "init_weights": None if init_weights is None else str(init_weights)}
        if summary is not None:
            extra.update(machine_weight=weight, selection=summary)
        result = _train(
            views, models_dir, config, dev, rank, world, steps=steps, epochs=epochs,
            init_weights=init_weights, resume=resume, batch_size=batch_size, workers=workers,
            seed=seed, log_every=log_every, progress=progress, hooks=hooks,
            max_minutes=max_minutes, extra=extra,
        )  # fmt: skip
        return dataclasses.replace(
            result, labels=labels, machine_views=n_machine, selection=summary,
            init_weights=extra["init_weights"],
        )  # fmt: skip
    finally:
        if started:
            shutdown()


def _machine_views(store, config: LabelerConfig, weight: float) -> tuple[LabelledViews, dict]:
    """The selected machine joints as training views, and the selection's summary."""
    from annotator.machine_labels.merge import DETECTIONS_NAME, read_detections
    from annotator.machine_labels.selection import SelectionRule, select_machine_joints

    det = read_detections(store.machine_dir)
    if det is None:
        raise NoMachineLabelsError(
            f"{store.machine_dir / DETECTIONS_NAME}: no merged machine labels to train on "
            "(run 'annotator machine-label' and 'annotator merge' first, or use --labels human)"
        )
    selection = select_machine_joints(store, det, SelectionRule.from_config(config))
    views = load_machine_views(store, selection, weight)
    summary = selection.summary(store)
    log.info("machine labels: kept %d of %d candidate joints (%d views)",
             selection.kept_count, selection.candidates, len(views))
    return views, summary


def init_from_file(model: KeypointDetector, path: str | Path) -> str:
    """Start ``model`` from ``path``: a labeller checkpoint loads the whole detector (its
    config must fit, else a one-line ValueError naming the file), anything else is read as
    ImageNet EfficientNet weights for the backbone. Returns "labeler" or "imagenet"."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weights file")
    if is_detector_checkpoint(path):
        load_detector_weights(model, path)
        return "labeler"
    load_imagenet_weights(model, path)
    return "imagenet"


def _broadcast_str(value: str, world: int) -> str:
    if world == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return str(box[0])


def _train(
    views: LabelledViews,
    models_dir: Path,
    config: LabelerConfig,
    dev: torch.device,
    rank: int,
    world: int,
    *,
    steps: int | None,
    epochs: float | None,
    init_weights: str | Path | None,
    resume: bool,
    batch_size: int | None,
    workers: int,
    seed: int,
    log_every: int,
    progress: Callable[[int, int], None] | None,
    hooks: Sequence[Callable[[StepInfo], None]],
    max_minutes: float | None = None,
    extra: dict | None = None,
) -> TrainResult:
    torch.manual_seed(seed)
    bs = int(batch_size or config.batch_size)
    if bs <= 0:
        raise ValueError("--batch-size must be > 0")
    model = KeypointDetector(config)
    if init_weights is not None:
        kind = init_from_file(model, init_weights)
        log.info("started from %s (%s weights)", init_weights, kind)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    start_step, total_prev, skipped, spent_before = 0, None, 0, 0.0

    # Run folder: rank 0 decides (a resumed run continues in its folder), the others follow.
    run_dir = ""
    if rank == 0:
        if resume:
            ck_path = newest_checkpoint(models_dir, config.name)
            if ck_path is None:
                raise ValueError(
                    f"--resume: no {config.name!r} labeler checkpoint under {models_dir}/labeler"
                )
            run_dir = str(ck_path.parent)
        else:
            run_dir = str(new_run_dir(models_dir, config.name))
    run = Path(_broadcast_str(run_dir, world))
    ck_file = run / CHECKPOINT_NAME
    if resume:
        ck = load_checkpoint(ck_file)
        if config_from_dict(ck["config"]) != config:
            raise ValueError(f"{ck_file}: --resume with a different config than the checkpoint's")
        model.load_state_dict(ck["model"])
        if ck.get("optimizer"):
            optimizer.load_state_dict(ck["optimizer"])
        ran_on = ck["extra"].get("labels", "human")
        if extra is not None and extra.get("labels", "human") != ran_on:
            raise ValueError(f"{ck_file}: --resume with --labels {extra.get('labels')}, but the "
                             f"run trains on --labels {ran_on}")
        if extra is not None and ck["extra"].get("init_weights"):
            extra = {**extra, "init_weights": ck["extra"]["init_weights"]}
        start_step = int(ck["step"])
        total_prev = ck["extra"].get("total_steps")
        spent_before = float(ck["extra"].get("train_seconds", 0.0))
        log.info("resuming %s at step %d", ck_file, start_step)

    n = len(views)
    steps_per_epoch = max(1, math.ceil(n / (bs * world)))
    if steps is not None:
        total = int(steps)
    elif epochs is not None:
        total = max(1, math.ceil(epochs * steps_per_epoch))
    elif total_prev is not None:
        total = int(total_prev)
    else:
        total = config.epochs * steps_per_epoch

    # Channels-last is faster for EfficientNet's depthwise convolutions on CUDA and on CPU
    # (oneDNN; ~1.45x for cpu-small training on one core, measured side by side).
    model.to(dev, memory_format=torch.channels_last)
    if dev.type == "cuda":
        for state in optimizer.state.values():
            for k, v in state.items():
                if isinstance(v, torch.Tensor):
                    state[k] = v.to(dev)
    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None
        )
    dataset = HandCropDataset(views, config, seed=seed)
    sampler = EpochSampler(n, seed=seed, rank=rank, world=world, start=start_step * bs)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=bs, sampler=sampler, num_workers=workers, collate_fn=collate,
        pin_memory=dev.type == "cuda", persistent_workers=False,
        multiprocessing_context="forkserver" if workers > 0 else None,
        worker_init_fn=worker_init_fn() if workers > 0 else None,
    )  # fmt: skip
    batches = iter(loader)
    metrics = open(run / METRICS_NAME, "a") if rank == 0 else None
    amp = dev.type == "cuda"
    window_loss: list[float] = []
    window_t, window_images = time.perf_counter(), 0
    run_t0, run_images = time.perf_counter(), 0
    last_loss, ips = float("nan"), 0.0
    step = start_step
    warned: set[str] = set()
    budget = TimeBudget(max_minutes, spent_before)
    out_of_time = budget.limited and any_rank(budget.exhausted())
    net.train()
    try:
        while step < total and not out_of_time:
            batch = next(batches)
            while batch["size"] == 0:  # every image of the batch unreadable
                skipped += _note_skipped(batch, warned)
                batch = next(batches)
            skipped += _note_skipped(batch, warned)
            lr = lr_at(budget.schedule_step(step, total), total, config)
            for g in optimizer.param_groups:
                g["lr"] = lr
            images = batch["image"].to(dev, non_blocking=True)
            images = images.contiguous(memory_format=torch.channels_last)
            target = batch["heatmaps"].to(dev, non_blocking=True)
            weight = batch["weight"].to(dev, non_blocking=True)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                pred, logits = net(images, with_logits=True)
            loss = detector_loss(pred, logits, target, weight, config)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss.item()} at step {step}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if budget.limited:  # every rank stops after the same step (DDP would hang)
                out_of_time = any_rank(budget.exhausted())
            window_loss.append(float(loss.detach()))
            window_images += int(batch["size"]) * world
            run_images += int(batch["size"]) * world
            if step % log_every == 0 or step == total or out_of_time:
                now = time.perf_counter()
                ips = window_images / max(now - window_t, 1e-9)
                last_loss = float(np.mean(window_loss))
                if metrics is not None:
                    rec = {
                        "step": step, "epoch": round(step * bs * world / n, 4),
                        "loss": last_loss, "lr": lr, "images_per_s": round(ips, 2),
                        "skipped_images": skipped, "time": time.time(),
                    }  # fmt: skip
                    metrics.write(json.dumps(rec) + "\n")
                    metrics.flush()
                window_loss, window_t, window_images = [], now, 0
            info = StepInfo(
                step, total, step * bs * world / n, float(loss.detach()), lr, ips, skipped, rank
            )
            for hook in hooks:
                hook(info)
            if progress is not None and rank == 0:
                progress(step, total)
            if rank == 0 and (step % config.checkpoint_every == 0 or step == total
                              or out_of_time):
                # the run's own fields first, then this save's (a name reused for both kept
                # the first checkpoint's time and stop reason in every later one)
                saved = {
                    **(extra or {}),
                    "total_steps": total, "seed": seed, "views": n, "batch_size": bs,
                    "world_size": world, "skipped_images": skipped,
                    "train_seconds": round(budget.spent_s(), 3), "max_minutes": max_minutes,
                    "stopped_by_time": bool(out_of_time and step < total),
                }  # fmt: skip
                save_checkpoint(ck_file, model, config, optimizer, step=step,
                                epoch=int(step * bs * world // n), extra=saved)  # fmt: skip
    finally:
        if metrics is not None:
            metrics.close()
        del batches
    if world > 1:
        barrier()
    elapsed = time.perf_counter() - run_t0
    if skipped:
        log.warning("skipped %d unreadable images during training", skipped)
    return TrainResult(
        run_dir=run,
        checkpoint=ck_file,
        steps=step,
        final_loss=last_loss,
        images_per_s=run_images / max(elapsed, 1e-9),
        skipped_images=skipped,
        views=n,
        world_size=world,
        stopped_by_time=bool(out_of_time and step < total),
        train_seconds=budget.spent_s(),
    )


def _note_skipped(batch: dict, warned: set[str]) -> int:
    for p in batch["skipped_paths"]:
        if p not in warned:  # once per file; the count covers every draw
            warned.add(p)
            log.warning("skipping unreadable image %s", p)
    return int(batch["skipped"])


