"""Training of InterNet (and RootNet): a plain loop with hooks.

One process, or one per device under ``torchrun`` (DDP; NCCL on CUDA, gloo on CPU). Adam,
the learning rate ×``lr_decay_factor`` at the config's decay epochs (15 and 17 of 20 for
``paper``); with ``steps`` the run is that many optimiser steps and the decay points keep
their place as a fraction of the run. AMP (bf16, else fp16 with a grad scaler) on CUDA.

The output folder holds ``config.json`` (the resolved model config and training options),
``metrics.jsonl`` (one JSON line per step: losses, lr, images/s; one per epoch; one at the
end: ``{"end": true, "step", "seconds", "stopped_by": "time" | "steps" | "interrupted"}``) and
``checkpoint.pth`` (rewritten atomically at the end of an epoch at most once a minute, and
at the end of the run, with
``pose_net.checkpoint``; ``resume=True`` continues from it: weights, optimiser, step).

Augmentation draws are keyed by (seed, epoch, sample) and the shuffle by (seed, epoch), so a
resumed run takes the same batches the uninterrupted one would have.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

from annotator.time_budget import TimeBudget
from pose_net.checkpoint import load_checkpoint, save_checkpoint
from pose_net.config import get_config, get_rootnet_config
from pose_net.data.sample import HandSample
from pose_net.data.torch_dataset import InterNetDataset, RootNetDataset
from torch_common.distributed import any_rank, barrier, dist_info, init_distributed, pick_device

__all__ = ["TrainOptions", "TrainResult", "Trainer", "Hook", "train", "CHECKPOINT_NAME"]

logger = logging.getLogger(__name__)
CHECKPOINT_NAME = "checkpoint.pth"
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TrainOptions:
    """Training settings; ``None`` takes the model config's value."""

    net: str = "internet"  # "internet" | "rootnet"
    config: str = "cpu-small"  # a declared configuration name
    epochs: int | None = None
    steps: int | None = None  # total optimiser steps (quick runs); overrides epochs
    #: Wall-clock budget of the training loop, resumes included: the run stops (with a
    #: checkpoint) when it is spent, and the lr schedule follows whichever of steps and time
    #: is further along (``annotator.time_budget``). None: no budget.
    max_minutes: float | None = None
    batch_size: int | None = None
    lr: float | None = None
    lr_decay_epochs: tuple[int, ...] | None = None
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    workers: int = 0
    seed: int = 0
    augment: bool = True
    #: A weights file that initialises InterNet's trunk (``pose_net.efficientnet_trunk.
    #: load_trunk_weights``: a machine-labeller checkpoint or efficientnet-pytorch weights
    #: for an EfficientNet trunk, torchvision ImageNet weights for a ResNet). Not read on
    #: ``resume`` (the checkpoint has the weights). None: random initialisation.
    init_trunk: str | None = None
    resume: bool = False
    log_every: int = 1
    #: An epoch's end writes the checkpoint only this long after the last write (small
    #: epochs would spend their time saving); the end of the run always writes it.
    checkpoint_interval_s: float = 60.0

    def __post_init__(self) -> None:
        if self.net not in ("internet", "rootnet"):
            raise ValueError(f"net must be 'internet' or 'rootnet', got {self.net!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        for name in ("epochs", "steps", "batch_size"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or int(v) != v or v <= 0):
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")
        TimeBudget(self.max_minutes)  # raises on a budget that is not a positive number
        if self.init_trunk is not None and self.net != "internet":
            raise ValueError("init_trunk initialises InterNet's trunk; RootNet has none to take")


@dataclass(frozen=True)
class TrainResult:
    """Where the run wrote, how far it got and its last loss (rank 0's view)."""

    out_dir: Path
    checkpoint: Path
    step: int
    total_steps: int
    epoch: int
    last_loss: float
    wall_s: float
    stopped_by_time: bool = False  # the max_minutes budget ended the run before its steps


class Hook:
    """Override any of these; ``trainer.stop = True`` ends the run after the current step
    (a checkpoint is written), as SIGINT / SIGTERM do."""

    def before_train(self, trainer: Trainer) -> None: ...
    def after_step(self, trainer: Trainer, losses: dict[str, float]) -> None: ...
    def after_epoch(self, trainer: Trainer, epoch: int) -> None: ...
    def after_train(self, trainer: Trainer) -> None: ...


def _any_hand_type(samples: Sequence[HandSample]) -> bool:
    htv = getattr(samples, "hand_type_valid", None)  # a SampleTable's column
    if htv is not None:
        return bool(np.any(htv))
    return any(bool(s.hand_type_valid) for s in samples)


class _EpochSampler(DistributedSampler):
    """Yields (epoch, index) so persistent workers see the epoch for augmentation."""

    def __iter__(self):
        return ((self.epoch, i) for i in super().__iter__())


@dataclass
class Trainer:
    """The loop's state, readable by hooks (``step``, ``epoch``, ``model``, ``last`` losses)."""

    samples: Sequence[HandSample]
    out_dir: Path
    options: TrainOptions
    progress: Progress | None = None
    hooks: Sequence[Hook] = ()
    meta: dict[str, Any] = field(default_factory=dict)  # recorded in config.json / checkpoint
    step: int = 0
    epoch: int = 0
    stop: bool = False
    stopped_by_time: bool = False  # the max_minutes budget set ``stop``
    spent_before: float = 0.0  # training seconds of the attempts this run resumes
    last: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        o = self.options
        info = dist_info()
        self.device = pick_device(o.device, info)
        init_distributed(info, self.device)  # kept for the process's life (torchrun ends it)
        self.rank, self.world = info.rank, info.world_size
        if o.net == "internet":
            self.config = get_config(o.config)
        else:
            self.config = get_rootnet_config(o.config)
        self.batch_size = int(o.batch_size or self.config.batch_size)
        self.lr = float(o.lr if o.lr is not None else self.config.lr)
        self.decay_epochs = tuple(o.lr_decay_epochs if o.lr_decay_epochs is not None
                                  else self.config.lr_decay_epochs)
        self.out_dir = Path(self.out_dir)
        self.budget = TimeBudget(None)  # replaced by the options' budget when the run starts
        if o.net == "internet" and self.rank == 0 and not _any_hand_type(self.samples):
            logger.warning(
                "no training sample has a known hand type (a project's hand types are "
                "targets only where people labelled the instant): the handedness head is "
                "not trained and its outputs mean nothing")
        torch.manual_seed(o.seed)
        self.model = self._build_model()
        if o.init_trunk is not None and not o.resume:
            from pose_net.efficientnet_trunk import load_trunk_weights

            load_trunk_weights(self.model.trunk, o.init_trunk)
        self.model = self.model.to(self.device)
        if self.device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)
        self.net = self.model
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self.loader, self.sampler = self._loader()
        self.steps_per_epoch = len(self.loader)
        epochs = int(o.epochs or self.config.epochs)
        if o.steps:
            self.total_steps = int(o.steps)
            self.epochs = math.ceil(self.total_steps / self.steps_per_epoch)
        else:
            self.total_steps = epochs * self.steps_per_epoch
            self.epochs = epochs
        # Decay points as a fraction of the run: exact epochs in epoch mode, kept in place
        # for --steps runs.
        run_epochs = epochs if not o.steps else self.config.epochs
        self.decay_steps = [round(e / run_epochs * self.total_steps) for e in self.decay_epochs]
        amp_dtype = torch.bfloat16 if (self.device.type == "cuda"
                                       and torch.cuda.is_bf16_supported()) else torch.float16
        self.amp_dtype = amp_dtype if self.device.type == "cuda" else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

    # ---- construction -------------------------------------------------------------------
    def _build_model(self) -> torch.nn.Module:
        if self.options.net == "internet":
            from pose_net.internet import InterNet

            return InterNet(self.config)
        from pose_net.rootnet import RootNet

        return RootNet(self.config)

    def _loader(self) -> tuple[DataLoader, _EpochSampler]:
        o = self.options
        if o.net == "internet":
            ds = InterNetDataset(self.samples, self.config, augment=o.augment, seed=o.seed)
        else:
            ds = RootNetDataset(self.samples, self.config.input_px, augment=o.augment,
                                seed=o.seed)
        if len(ds) == 0:
            raise ValueError("no training item (no sample with a valid hand)")
        sampler = _EpochSampler(ds, num_replicas=self.world, rank=self.rank, shuffle=True,
                                seed=o.seed, drop_last=False)
        loader = DataLoader(
            ds,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=o.workers,
            persistent_workers=o.workers > 0,
            pin_memory=self.device.type == "cuda",
            drop_last=len(sampler) > self.batch_size,
        )
        return loader, sampler

    # ---- schedule, checkpoint -----------------------------------------------------------
    def scheduled_lr(self) -> float:
        """The learning rate for the next step (the time budget may move the schedule on)."""
        return self.lr_at(self.budget.schedule_step(self.step, self.total_steps))

    def lr_at(self, step: int) -> float:
        n = sum(step >= s for s in self.decay_steps)
        return self.lr * self.config.lr_decay_factor ** n

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT_NAME

    def _record(self) -> dict[str, Any]:
        opts = dataclasses.asdict(self.options)
        opts["lr_decay_epochs"] = list(self.decay_epochs)
        return {"train": {**opts, "batch_size": self.batch_size, "lr": self.lr,
                          "total_steps": self.total_steps, "world_size": self.world},
                **self.meta}

    def save(self) -> None:
        if self.rank != 0:
            return
        save_checkpoint(self.checkpoint_path, self.model, self.optimizer, epoch=self.epoch,
                        extra={"step": self.step, "train_seconds": round(self.budget.spent_s(), 3),
                               "stopped_by_time": self.stopped_by_time, **self._record()})

    def _resume(self) -> None:
        path = self.checkpoint_path
        if not path.is_file():
            raise FileNotFoundError(f"{path}: --resume: no checkpoint to resume from")
        ckpt = load_checkpoint(path, map_location=self.device)
        if ckpt.kind != self.options.net or ckpt.config != self.config:
            raise ValueError(f"{path}: --resume: the checkpoint is a {ckpt.kind} "
                             f"'{ckpt.config.name}' model, not {self.options.net} "
                             f"'{self.config.name}'")
        self.model.load_state_dict(ckpt.network)
        if ckpt.optimizer:
            self.optimizer.load_state_dict(ckpt.optimizer)
        self.step = int(ckpt.extra.get("step", ckpt.epoch * self.steps_per_epoch))
        self.epoch = ckpt.epoch
        self.spent_before = float(ckpt.extra.get("train_seconds", 0.0))
        logger.info("resumed from %s at step %d (epoch %d)", path, self.step, self.epoch)

    def _log(self, record: dict[str, Any]) -> None:
        if self.rank == 0:
            with open(self.out_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    # ---- the loop -----------------------------------------------------------------------
    def _losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        dev = self.device
        images = batch["image"].to(dev, non_blocking=True)
        if dev.type == "cuda":
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(dev.type, dtype=self.amp_dtype or torch.bfloat16,
                            enabled=self.amp_dtype is not None):
            if self.options.net == "internet":
                from pose_net.losses import internet_losses, total_loss

                out = self.net(images)
                losses = internet_losses(out, _internet_targets(batch, self.config, dev),
                                         self.config)
                losses["total"] = total_loss(losses)
            else:
                from pose_net.rootnet import k_value, rootnet_loss

                focal = batch["focal"].to(dev)
                k = k_value(batch["window_area_px"].to(dev), focal[:, 0], focal[:, 1],
                            self.config.bbox_real_mm)
                pred = self.net(images, k)
                losses = {"total": rootnet_loss(pred, batch["depth_mm"].to(dev))}
        return losses

    def run(self) -> TrainResult:
        with _graceful_stop(self):
            return self._run()

    def _run(self) -> TrainResult:
        o = self.options
        if o.resume:  # first: a resume with nothing to resume makes no folder
            self._resume()
        if self.rank == 0:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        if not o.resume and self.rank == 0:
            (self.out_dir / "metrics.jsonl").unlink(missing_ok=True)
        if self.rank == 0:
            (self.out_dir / "config.json").write_text(json.dumps(
                {"net": o.net, "config": self.config.to_dict(), **self._record()}, indent=2))
        for h in self.hooks:
            h.before_train(self)
        t0 = saved_at = time.perf_counter()
        self.budget = TimeBudget(o.max_minutes, self.spent_before)
        self._check_budget()
        self.model.train()
        while self.step < self.total_steps and not self.stop:
            epoch = self.step // self.steps_per_epoch
            skip = self.step - epoch * self.steps_per_epoch  # resumed inside an epoch
            self.sampler.set_epoch(epoch)
            self.epoch = epoch
            epoch_losses: list[float] = []
            tick = time.perf_counter()
            for k, batch in enumerate(self.loader):
                if k < skip:
                    continue
                lr = self.scheduled_lr()
                for g in self.optimizer.param_groups:
                    g["lr"] = lr
                losses = self._losses(batch)
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(losses["total"]).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.step += 1
                self._check_budget()
                now = time.perf_counter()
                self.last = {k2: float(v.detach()) for k2, v in losses.items()}
                epoch_losses.append(self.last["total"])
                if self.step % o.log_every == 0 or self.step == self.total_steps:
                    self._log({"step": self.step, "epoch": epoch, "lr": lr,
                               **self.last, "images_per_s": len(batch["image"]) * self.world
                               / max(now - tick, 1e-9), "time_s": now - t0})
                tick = now
                if self.progress is not None and self.rank == 0:
                    self.progress(self.step, self.total_steps)
                for h in self.hooks:
                    h.after_step(self, self.last)
                if self.step >= self.total_steps or self.stop:
                    break
            done = self.step == (epoch + 1) * self.steps_per_epoch
            self.epoch = epoch + 1 if done else epoch
            self._log({"epoch_end": epoch, "step": self.step,
                       "mean_loss": sum(epoch_losses) / max(len(epoch_losses), 1)})
            last = self.step >= self.total_steps or self.stop
            if last or time.perf_counter() - saved_at >= o.checkpoint_interval_s:
                self.save()
                saved_at = time.perf_counter()
            for h in self.hooks:
                h.after_epoch(self, epoch)
        for h in self.hooks:
            h.after_train(self)
        # the run's end (read by the demo's summary): how far it got and what stopped it
        self._log({"end": True, "step": self.step, "total_steps": self.total_steps,
                   "seconds": round(self.budget.spent_s(), 3),
                   "stopped_by": "time" if self.stopped_by_time else
                   ("steps" if self.step >= self.total_steps else "interrupted")})
        barrier()
        return TrainResult(self.out_dir, self.checkpoint_path, self.step, self.total_steps,
                           self.epoch, self.last.get("total", float("nan")),
                           time.perf_counter() - t0, self.stopped_by_time)

    def _check_budget(self) -> None:
        """Stop after this step once the time budget is spent (every rank at the same step)."""
        if not self.budget.limited or self.stopped_by_time:
            return
        spent = self.budget.exhausted()
        spent = any_rank(spent)
        if spent and self.step < self.total_steps:
            logger.info("time budget of %g min spent at step %d of %d: stopping",
                        self.options.max_minutes, self.step, self.total_steps)
            self.stopped_by_time = True
            self.stop = True


@contextlib.contextmanager
def _graceful_stop(trainer: Trainer):
    """SIGINT / SIGTERM end the run after the current step with a checkpoint (a second
    signal interrupts at once). Only in the main thread, where Python allows handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if trainer.stop:
            raise KeyboardInterrupt
        logger.warning("signal %d: stopping after this step (checkpoint follows)", signum)
        trainer.stop = True

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def _internet_targets(batch: dict[str, torch.Tensor], config, device: torch.device):
    from pose_net.heatmaps import in_volume, joints_to_voxels
    from pose_net.losses import InterNetTargets

    voxels = joints_to_voxels(batch["uvd"].to(device).float(), config)
    valid = batch["joint_valid"].to(device).float() * in_volume(voxels, config).float()
    return InterNetTargets(
        voxels=voxels,
        joint_valid=valid,
        hand_type=batch["hand_type"].to(device).float(),
        hand_type_valid=batch["hand_type_valid"].to(device).float(),
        rel_root_depth_mm=batch["rel_root_depth_mm"].to(device).float(),
        rel_root_valid=batch["rel_root_valid"].to(device).float(),
    )


def _sequence(samples: Sequence[HandSample]) -> Sequence[HandSample]:
    """A column table as it is (no Python object per sample), anything else as a list."""
    from pose_net.data.sample_table import SampleTable

    return samples if isinstance(samples, SampleTable) else list(samples)


def train(
    samples: Sequence[HandSample],
    out_dir: str | os.PathLike[str],
    options: TrainOptions = TrainOptions(),
    *,
    progress: Progress | None = None,
    hooks: Sequence[Hook] = (),
    meta: dict[str, Any] | None = None,
) -> TrainResult:
    """Train on ``samples`` into ``out_dir`` (see the module docstring)."""
    trainer = Trainer(_sequence(samples), Path(out_dir), options, progress, hooks, dict(meta or {}))
    return trainer.run()
