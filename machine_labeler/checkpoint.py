"""Detector checkpoints: weights + the resolved config + the code version, so inference
rebuilds the model from the file alone.

Layout: ``PROJECT/models/labeler/<UTC timestamp>-<config>/model.pt`` with ``metrics.jsonl``
beside it. Files are written to a temporary sibling and renamed (a killed run leaves the
previous checkpoint intact).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from annotator.store.model_runs import (
    LABELER_CHECKPOINT,
    labeler_runs_dir,
    newest_labeler_checkpoint,
)
from annotator.version import code_version
from machine_labeler.config import LabelerConfig, config_from_dict
from machine_labeler.model import KeypointDetector
from torch_common import load_torch_file

__all__ = [
    "LoadedDetector",
    "save_checkpoint",
    "load_checkpoint",
    "load_detector",
    "load_detector_weights",
    "is_detector_checkpoint",
    "ARCHITECTURE_FIELDS",
    "newest_checkpoint",
    "labeler_dir",
    "new_run_dir",
    "code_version",
    "CHECKPOINT_NAME",
]

log = logging.getLogger(__name__)

CHECKPOINT_NAME = LABELER_CHECKPOINT
_FORMAT = "machine_labeler.detector/1"
#: The config fields that shape the detector's tensors: a checkpoint whose config agrees on
#: these starts a run of another config (``train-labeler --init-weights model.pt``).
ARCHITECTURE_FIELDS = ("backbone", "width_coefficient", "depth_coefficient", "crop_px",
                       "heatmap_px", "head_channels", "loss")


@dataclass(frozen=True)
class LoadedDetector:
    model: KeypointDetector  # eval mode, on the requested device
    config: LabelerConfig
    meta: dict[str, Any]  # step, epoch, code_version, created, extra


def labeler_dir(models_dir: Path) -> Path:
    return labeler_runs_dir(models_dir)


def new_run_dir(models_dir: Path, config_name: str) -> Path:
    """A fresh ``labeler/<timestamp>-<config>`` folder (created)."""
    root = labeler_dir(models_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    for k in range(1000):
        d = root / (f"{stamp}-{config_name}" if k == 0 else f"{stamp}-{k}-{config_name}")
        try:
            d.mkdir(parents=True)
            return d
        except FileExistsError:
            continue
    raise OSError(f"{root}: cannot create a run folder")


def save_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    config: LabelerConfig,
    optimizer: torch.optim.Optimizer | None = None,
    step: int = 0,
    epoch: int = 0,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``path`` atomically (temp file, fsync, rename)."""
    path = Path(path)
    model = getattr(model, "module", model)  # unwrap DDP
    payload = {
        "format": _FORMAT,
        "config": config.to_dict(),
        "code_version": code_version(),
        "created": time.time(),
        "step": int(step),
        "epoch": int(epoch),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "extra": dict(extra or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The raw checkpoint dict (on CPU); a one-line ValueError for a bad file."""
    path = Path(path)
    ck = load_torch_file(path, "a machine_labeler detector checkpoint")
    if not isinstance(ck, dict) or ck.get("format") != _FORMAT:
        raise ValueError(f"{path}: not a machine_labeler detector checkpoint")
    return ck


def load_detector(path: str | Path, device: str | torch.device = "cpu") -> LoadedDetector:
    """Rebuild the detector of a checkpoint, in eval mode on ``device``."""
    ck = load_checkpoint(path)
    config = config_from_dict(ck["config"])
    model = KeypointDetector(config)
    model.load_state_dict(ck["model"])
    model.to(device, memory_format=torch.channels_last).eval()
    meta = {k: ck[k] for k in ("step", "epoch", "code_version", "created", "extra")}
    meta["path"] = str(Path(path))
    return LoadedDetector(model=model, config=config, meta=meta)


def is_detector_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a file :func:`save_checkpoint` wrote (read without unpickling
    code: any other file, e.g. ImageNet weights, gives False)."""
    try:
        ck = load_torch_file(path, "a detector checkpoint")
    except (ValueError, OSError):  # missing, or not readable safely: not ours
        return False
    return isinstance(ck, dict) and ck.get("format") == _FORMAT


def load_detector_weights(model: KeypointDetector, path: str | Path) -> dict[str, Any]:
    """Load a checkpoint's whole detector (backbone and head) into ``model``.

    The checkpoint's config must agree with ``model.config`` on :data:`ARCHITECTURE_FIELDS`
    (training settings may differ); otherwise a one-line ValueError names the file and the
    fields. Returns the checkpoint's meta (step, epoch, code_version, created, extra).
    """
    path = Path(path)
    ck = load_checkpoint(path)
    try:
        theirs = config_from_dict(ck["config"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: unusable config in the checkpoint ({exc})") from None
    own = getattr(model, "config", None)
    if own is not None:
        diff = [f"{k} {getattr(theirs, k)} vs {getattr(own, k)}"
                for k in ARCHITECTURE_FIELDS if getattr(theirs, k) != getattr(own, k)]
        if diff:
            raise ValueError(f"{path}: a {theirs.name!r} detector does not fit config "
                             f"{own.name!r} ({', '.join(diff)})")
    try:
        model.load_state_dict(ck["model"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ValueError(f"{path}: its weights do not fit this detector ({first})") from None
    log.info("loaded the whole detector from %s (step %d)", path, int(ck.get("step", 0)))
    return {k: ck.get(k) for k in ("step", "epoch", "code_version", "created", "extra")}


def newest_checkpoint(store_or_models_dir: Any, config_name: str | None = None) -> Path | None:
    """Newest ``model.pt`` under ``models/labeler`` (by modification time), optionally of
    one config; None when there is none. Accepts a ProjectStore or its models folder."""
    return newest_labeler_checkpoint(store_or_models_dir, config_name)
