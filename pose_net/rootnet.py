"""RootNet for hands (Moon et al., "Camera distance-aware top-down ... 3D multi-person pose",
ICCV 2019), as used by InterHand2.6M for the absolute depth of the hand roots.

The pinhole model gives a first distance from the box size: a box of ``A_img`` pixels that
covers ``A_real`` mm² at distance ``Z`` satisfies ``A_img = fx·fy·A_real / Z²``, hence

    k = sqrt(A_real · fx · fy / A_img)      (mm; A_real = 300 mm × 300 mm for hands)

The network looks at the crop and predicts a correction ``γ`` (global average pool of the
trunk features -> linear), and the depth is ``γ · k``. ``γ`` absorbs everything the box
size does not tell: hand size, pose, the box being loose or tight.

Conventions here: the input is RGB in [0, 1] (like InterNet; no mean/std normalisation);
``A_img`` is the area in original-image pixels of the crop box (the hand box padded to a
square ×1.25, the crop InterNet sees); the output is the depth (camera z, mm) of the root the
training data assigns to that crop. ``γ``'s bias starts at 1 (so an untrained RootNet
answers the pinhole estimate ``k``) instead of the public code's 0.
"""

from __future__ import annotations

from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from pose_net.config import (
    ROOTNET_CONFIGS,
    TRUNK_CHANNELS,
    InterNetConfig,
    RootNetConfig,
    get_rootnet_config,
)
from pose_net.resnet import ResNetTrunk

__all__ = ["RootNet", "k_value", "rootnet_loss"]

T = TypeVar("T", float, torch.Tensor)


def k_value(bbox_area_px: T, fx: T, fy: T, bbox_real_mm: tuple[float, float] = (300.0, 300.0)) -> T:
    """k = sqrt(A_real · fx · fy / A_img) in mm (floats, numpy arrays or tensors, broadcast).

    bbox_area_px: area of the crop box in image pixels; fx, fy: focal lengths in pixels;
    bbox_real_mm: the real size the box is assumed to cover (300 × 300 mm for a hand).
    """
    area_real = float(bbox_real_mm[0]) * float(bbox_real_mm[1])
    if isinstance(bbox_area_px, torch.Tensor):
        if bool((bbox_area_px <= 0).any()):
            raise ValueError("bbox_area_px must be positive")
        return torch.sqrt(area_real * fx * fy / bbox_area_px)
    import numpy as np

    area = np.asarray(bbox_area_px, dtype=np.float64)
    if np.any(~(area > 0)):
        raise ValueError(f"bbox_area_px must be positive, got {bbox_area_px}")
    out = np.sqrt(area_real * np.asarray(fx, np.float64) * np.asarray(fy, np.float64) / area)
    return float(out) if out.ndim == 0 else out


class RootNet(nn.Module):
    """Absolute root depth: forward(images (B,3,S,S) in [0,1], k_value (B,) mm) -> (B,) mm."""

    def __init__(self, config: RootNetConfig | InterNetConfig | None = None) -> None:
        super().__init__()
        if config is None:
            cfg = get_rootnet_config("paper")
        elif isinstance(config, InterNetConfig):
            # Same input (and ResNet trunk) as the InterNet it serves: the declared RootNet
            # config of that name when it matches, else one built from the InterNet's size.
            # RootNet's trunk is always a ResNet: an EfficientNet InterNet (cpu-small) gets
            # the declared config's.
            cfg = ROOTNET_CONFIGS.get(config.name) or RootNetConfig(name=config.name)
            trunk = config.trunk if config.trunk in TRUNK_CHANNELS else cfg.trunk
            if (cfg.trunk, cfg.input_px) != (trunk, config.input_px):
                cfg = RootNetConfig(name=config.name, trunk=trunk, input_px=config.input_px)
        elif isinstance(config, RootNetConfig):
            cfg = config
        else:
            raise ValueError(f"config must be a RootNetConfig, got {type(config).__name__}")
        self.config = cfg
        self.trunk = ResNetTrunk(cfg.trunk)
        self.gamma_head = nn.Linear(cfg.trunk_channels, 1)
        nn.init.normal_(self.gamma_head.weight, std=0.001)
        nn.init.ones_(self.gamma_head.bias)

    def gamma(self, images: torch.Tensor) -> torch.Tensor:
        """(B,) the learned correction γ."""
        s = self.config.input_px
        if images.ndim != 4 or images.shape[1] != 3 or images.shape[2:] != (s, s):
            raise ValueError(f"images must be (B, 3, {s}, {s}), got {tuple(images.shape)}")
        pooled = F.adaptive_avg_pool2d(self.trunk(images), 1).flatten(1)
        return self.gamma_head(pooled)[:, 0]

    def forward(self, images: torch.Tensor, k_value: torch.Tensor) -> torch.Tensor:
        if k_value.ndim != 1 or k_value.shape[0] != images.shape[0]:
            raise ValueError(f"k_value must be ({images.shape[0]},), got {tuple(k_value.shape)}")
        return self.gamma(images) * k_value.to(images.dtype)


def rootnet_loss(pred_depth_mm: torch.Tensor, target_depth_mm: torch.Tensor,
                 valid: torch.Tensor | None = None) -> torch.Tensor:
    """L1 on the root depth (mm), masked by ``valid`` (B,), averaged over the batch."""
    err = (pred_depth_mm.float() - target_depth_mm.float()).abs()
    if valid is not None:
        err = err * valid.float()
    return err.mean()
