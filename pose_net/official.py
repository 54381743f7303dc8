"""Released InterHand2.6M InterNet checkpoints <-> this package's module names.

A released ``snapshot_*.pth.tar`` is ``{'epoch', 'network', 'optimizer'}``; ``network`` is the
state dict of the public model wrapped in DataParallel (366 entries, 47,305,474 parameters):

=====================================================  ===============================
official key prefix                                    InterNet module
=====================================================  ===============================
``module.backbone_net.resnet.``                        ``trunk.``
``module.pose_net.joint_deconv_1.``                    ``upsampler_right.``
``module.pose_net.joint_conv_1.0.``                    ``heatmap_right.``
``module.pose_net.joint_deconv_2.``                    ``upsampler_left.``
``module.pose_net.joint_conv_2.0.``                    ``heatmap_left.``
``module.pose_net.root_fc.``                           ``rel_root_head.``
``module.pose_net.hand_fc.``                           ``handedness_head.``
=====================================================  ===============================

The first upsampler gives joints 0–20 (right hand), the second 21–41 (left hand); hand_fc's
outputs are [right, left]; the input is RGB / 255 with no mean/std normalisation; heatmaps
are (D, H, W) per joint. All of these are the conventions of :class:`InterNet`, so the
mapping is names only and a loaded model's outputs are the released network's outputs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from pose_net.config import get_config
from torch_common import load_torch_file

__all__ = ["OFFICIAL_PREFIXES", "official_to_internet", "internet_to_official",
           "load_official_internet", "save_official_style"]

log = logging.getLogger(__name__)

#: (official prefix, our prefix); the order matters (``joint_conv_1.0.`` before any shorter one).
OFFICIAL_PREFIXES: tuple[tuple[str, str], ...] = (
    ("module.backbone_net.resnet.", "trunk."),
    ("module.pose_net.joint_deconv_1.", "upsampler_right."),
    ("module.pose_net.joint_conv_1.0.", "heatmap_right."),
    ("module.pose_net.joint_deconv_2.", "upsampler_left."),
    ("module.pose_net.joint_conv_2.0.", "heatmap_left."),
    ("module.pose_net.root_fc.", "rel_root_head."),
    ("module.pose_net.hand_fc.", "handedness_head."),
)


def _rename(state: dict[str, torch.Tensor], pairs: tuple[tuple[str, str], ...],
            what: str) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for src, dst in pairs:
            if key.startswith(src):
                out[dst + key[len(src):]] = value
                break
        else:
            raise ValueError(f"unexpected key {key!r} in {what}")
    return out


def official_to_internet(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a released ``network`` state dict to :class:`InterNet`'s names.

    Keys without the DataParallel ``module.`` prefix are accepted too.
    """
    if state and not all(k.startswith("module.") for k in state):
        state = {("module." + k if not k.startswith("module.") else k): v for k, v in state.items()}
    return _rename(state, OFFICIAL_PREFIXES, "the official InterNet state dict")


def internet_to_official(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename :class:`InterNet` state-dict keys to the released names (with ``module.``)."""
    return _rename(state, tuple((b, a) for a, b in OFFICIAL_PREFIXES), "the InterNet state dict")


def load_official_internet(path: str | Path, map_location: str | torch.device = "cpu"):
    """Build the paper's InterNet and load a released snapshot into it (strict).

    Raises ValueError naming the file if it is not such a checkpoint.
    """
    from pose_net.internet import InterNet

    path = Path(path)
    if not path.exists():  # a ValueError here, as every other problem of the file
        raise ValueError(f"{path}: no such checkpoint file")
    ckpt = load_torch_file(path, "a torch checkpoint", map_location=map_location)
    state = ckpt.get("network") if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: no 'network' state dict (not an InterHand2.6M snapshot)")
    try:
        ours = official_to_internet(state)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    model = InterNet(get_config("paper"))
    try:
        model.load_state_dict(ours, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ValueError(f"{path}: does not match the paper InterNet ({first})") from None
    model.eval()
    log.info("loaded official InterNet snapshot %s (epoch %s)", path, ckpt.get("epoch"))
    return model


def save_official_style(model, path: str | Path, epoch: int = 0) -> None:
    """Write ``model`` as a released-style snapshot ({'epoch', 'network', 'optimizer'})."""
    network = internet_to_official(model.state_dict())
    torch.save({"epoch": int(epoch), "network": network, "optimizer": {}}, Path(path))
