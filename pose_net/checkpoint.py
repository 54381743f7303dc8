"""Checkpoints that carry their configuration, so a model is rebuilt from the file alone.

Layout (a ``torch.save`` dict; the first three keys are those of the public InterNet code, so
other tools that read ``['network']`` keep working)::

    {'epoch': int, 'network': state_dict, 'optimizer': state_dict or {},
     'kind': 'internet' | 'rootnet', 'config': config.to_dict(), 'format': 1, **extra}

Writes are atomic (temporary file in the same folder, fsync, ``os.replace``).
A released InterHand2.6M snapshot (no ``config``) is recognised by :func:`load_model` and
loaded through ``pose_net.official``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from annotator.version import code_version
from pose_net.config import InterNetConfig, RootNetConfig, config_from_dict
from torch_common import load_torch_file

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint", "load_model", "FORMAT_VERSION"]

log = logging.getLogger(__name__)
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: what it is, its config, and its states."""

    kind: str
    config: InterNetConfig | RootNetConfig
    network: dict[str, torch.Tensor]
    epoch: int
    optimizer: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    code_version: str | None = None  # annotator.version.code_version() of the writer


def _unwrap(model: nn.Module) -> nn.Module:
    # DDP / DataParallel keep the real model in .module; compiled models in ._orig_mod.
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        else:
            return model


def save_checkpoint(path: str | Path, model: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None, epoch: int = 0,
                    extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (InterNet or RootNet, possibly DDP-wrapped) with its config to ``path``.

    ``extra`` holds anything else JSON-like (step, scheduler state, metrics); its keys must not
    collide with the reserved ones.
    """
    from pose_net.internet import InterNet
    from pose_net.rootnet import RootNet

    net = _unwrap(model)
    if isinstance(net, InterNet):
        kind = "internet"
    elif isinstance(net, RootNet):
        kind = "rootnet"
    else:
        raise ValueError(f"can only save InterNet or RootNet, got {type(net).__name__}")
    payload: dict[str, Any] = {
        "epoch": int(epoch),
        "network": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "optimizer": optimizer.state_dict() if optimizer is not None else {},
        "kind": kind,
        "config": net.config.to_dict(),
        "format": FORMAT_VERSION,
        "code_version": code_version(),
    }
    for k, v in (extra or {}).items():
        if k in payload:
            raise ValueError(f"extra key {k!r} is reserved")
        payload[k] = v
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("saved %s checkpoint %s (epoch %d)", kind, path, epoch)
    return path


def _read(path: Path, map_location: str | torch.device) -> dict[str, Any]:
    if not path.exists():  # a ValueError here, as every other problem of the file
        raise ValueError(f"{path}: no such checkpoint file")
    data = load_torch_file(path, "a torch checkpoint", map_location=map_location)
    if not isinstance(data, dict) or not isinstance(data.get("network"), dict):
        raise ValueError(f"{path}: not a pose_net checkpoint (no 'network' state dict)")
    return data


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (ValueError naming the file else)."""
    path = Path(path)
    data = _read(path, map_location)
    kind = data.get("kind")
    if kind not in ("internet", "rootnet") or not isinstance(data.get("config"), dict):
        raise ValueError(f"{path}: no pose_net config in this checkpoint (a released snapshot? "
                         "use pose_net.load_official_internet)")
    try:
        config = config_from_dict(dict(data["config"]), kind=kind)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: bad config ({exc})") from None
    reserved = {"epoch", "network", "optimizer", "kind", "config", "format", "code_version"}
    return Checkpoint(
        kind=kind,
        config=config,
        network=data["network"],
        epoch=int(data.get("epoch", 0)),
        optimizer=data.get("optimizer") or {},
        extra={k: v for k, v in data.items() if k not in reserved},
        code_version=data.get("code_version"),
    )


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """The InterNet or RootNet stored in ``path``, in eval mode.

    Accepts this package's checkpoints and released InterHand2.6M InterNet snapshots.
    """
    from pose_net.internet import InterNet
    from pose_net.official import load_official_internet
    from pose_net.rootnet import RootNet

    path = Path(path)
    data = _read(path, map_location)
    if "config" not in data and any(k.startswith("module.backbone_net.") for k in data["network"]):
        return load_official_internet(path, map_location=map_location)
    ckpt = load_checkpoint(path, map_location)
    model: nn.Module = InterNet(ckpt.config) if ckpt.kind == "internet" else RootNet(ckpt.config)
    try:
        model.load_state_dict(ckpt.network, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ValueError(f"{path}: weights do not fit its own config ({first})") from None
    return model.eval()
