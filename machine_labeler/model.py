"""The 2D keypoint detector: an efficientnet-pytorch backbone and a light FPN head.

The head merges the backbone's stride-32 output (after its 1x1 ``_conv_head``) top-down with
the stride-16, 8 and 4 block outputs (lateral 1x1 convolutions, nearest upsampling, sum),
then a 3x3 convolution and a 1x1 to one heatmap per joint at stride 4 (42: both hands, in
``annotator.skeleton`` order). The fine stride-4 features keep the heatmaps sharp for
sub-pixel decoding at little cost.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from efficientnet_pytorch import EfficientNet
from torch import nn

from annotator.skeleton import NUM_JOINTS
from machine_labeler.config import LabelerConfig
from torch_common.efficientnet import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    build_efficientnet,
    efficientnet_stages,
    efficientnet_weights,
    shape_mismatches,
)

__all__ = ["KeypointDetector", "load_imagenet_weights", "build_backbone"]

log = logging.getLogger(__name__)


def build_backbone(config: LabelerConfig) -> EfficientNet:
    """The EfficientNet of ``config`` without its classifier (no ``_fc``), SiLU swish."""
    return build_efficientnet(
        config.backbone,
        width=config.width_coefficient,
        depth=config.depth_coefficient,
        image_px=config.crop_px,
        drop_connect_rate=config.drop_connect_rate,
        bn_momentum=config.bn_momentum,
    )


def _conv_bn_relu(cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class KeypointDetector(nn.Module):
    """Images (B, 3, S, S) float in [0, 1] (RGB, S a multiple of 32) -> heatmaps
    (B, J, S/stride, S/stride), J = 42. ImageNet normalisation happens inside."""

    def __init__(self, config: LabelerConfig, num_joints: int = NUM_JOINTS) -> None:
        super().__init__()
        self.config = config
        self.num_joints = num_joints
        # The attribute's name is torch_common.efficientnet.DETECTOR_BACKBONE_PREFIX: how
        # InterNet finds this network in a labeller checkpoint.
        self.backbone = build_backbone(config)
        chans = self._endpoint_channels()
        c = config.head_channels
        # Laterals for stride 32 (conv head), 16, 8, 4 (and 2 used only for stride 2).
        self._levels = [32, 16, 8, 4] if config.stride == 4 else [32, 16, 8]
        self.lateral = nn.ModuleList(nn.Conv2d(chans[s], c, 1) for s in self._levels)
        self.smooth = _conv_bn_relu(c, c, 3)
        self.has_logits = config.loss == "dual"
        self.final = nn.Conv2d(c, num_joints * (2 if self.has_logits else 1), 1)
        nn.init.normal_(self.final.weight, std=1e-3)
        nn.init.zeros_(self.final.bias)
        self.register_buffer(
            "mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    @torch.no_grad()
    def _endpoint_channels(self) -> dict[int, int]:
        was = self.backbone.training
        self.backbone.eval()
        s = self.config.crop_px
        feats = self._features(torch.zeros(1, 3, s, s))
        self.backbone.train(was)
        return {k: v.shape[1] for k, v in feats.items()}

    def _features(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """Backbone outputs keyed by stride (``torch_common.efficientnet_stages``)."""
        return efficientnet_stages(self.backbone, x)

    def forward(
        self, images: torch.Tensor, with_logits: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]:
        """Heatmaps (B, J, h, w); with ``with_logits`` the pair (heatmaps, location logits
        (B, J, h, w) or None when the config has no logit maps)."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (B, 3, S, S), got {tuple(images.shape)}")
        if images.shape[-1] % 32 or images.shape[-2] % 32:
            raise ValueError(f"image side must be a multiple of 32, got {tuple(images.shape[-2:])}")
        x = (images - self.mean) / self.std
        feats = self._features(x)
        y = None
        for lat, s in zip(self.lateral, self._levels, strict=True):
            z = lat(feats[s])
            y = z if y is None else z + F.interpolate(y, size=z.shape[-2:], mode="nearest")
        out = self.final(self.smooth(y))
        j = self.num_joints
        heat, logits = (out[:, :j], out[:, j:]) if self.has_logits else (out, None)
        return (heat, logits) if with_logits else heat


def load_imagenet_weights(model: KeypointDetector, path: str | Path) -> list[str]:
    """Load ImageNet EfficientNet weights (an efficientnet-pytorch state dict, e.g.
    ``efficientnet-b0-355c32eb.pth``) from a local file into ``model.backbone``.

    The classifier (``_fc.*``) and any other key the backbone lacks are ignored; a tensor
    whose shape differs (a width-scaled config) is a ValueError. Returns the backbone keys
    the file did not provide.
    """
    path = Path(path)
    state = efficientnet_weights(path)
    own = model.backbone.state_dict()
    mismatched = shape_mismatches(state, own)
    if mismatched:
        raise ValueError(
            f"{path}: {len(mismatched)} tensors do not fit config {model.config.name!r} "
            f"(width/depth {model.config.width_coefficient}/{model.config.depth_coefficient}), "
            f"e.g. {mismatched[0]}"
        )
    usable = {k: v for k, v in state.items() if k in own}
    if not usable:
        raise ValueError(f"{path}: no EfficientNet backbone tensors in this file")
    model.backbone.load_state_dict(usable, strict=False)
    missing = sorted(set(own) - set(usable))
    log.info("loaded %d backbone tensors from %s (%d missing)", len(usable), path, len(missing))
    return missing
