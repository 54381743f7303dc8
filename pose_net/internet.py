"""InterNet (Moon et al., InterHand2.6M, ECCV 2020): handedness, 2.5D pose of both hands and the
right-relative left root depth from one RGB crop.

Architecture (as the paper and its public code):

- ResNet trunk: (B, 3, S, S) RGB in [0, 1] -> (B, C, S/32, S/32) (C = 2048 for ResNet-50);
  or, not in the paper, an EfficientNet trunk (``pose_net.efficientnet_trunk``).
- One upsampler per hand: three ConvTranspose2d (k4, s2, p1, no bias) + BN + ReLU
  (C -> 256 -> 256 -> 256), then a 1×1 conv to 21·D channels viewed as (21, D, H, W);
  the right hand (joints 0–20) comes from the first upsampler, the left (21–41) from the
  second. Channel ``j·D + z`` of an upsampler's output is joint ``j`` at depth bin ``z``.
- Global average pool -> FC C->512 -> ReLU -> FC 512->2 -> sigmoid: handedness
  probabilities [right present, left present] (the paper; ``config.handedness_from`` selects
  a spatial head or one that adds each hand's heatmap evidence, not in the paper).
- Global average pool -> FC C->512 -> ReLU -> FC 512->bins -> soft-argmax: the left root depth
  minus the right root depth, as a bin coordinate mapped to mm over ±range/2.

Released checkpoints load through ``pose_net.official.load_official_internet``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pose_net.config import HANDEDNESS_SPATIAL_CHANNELS, InterNetConfig, get_config
from pose_net.heatmaps import rel_root_bins_to_mm, soft_argmax_1d
from pose_net.resnet import ResNetTrunk

__all__ = ["InterNet", "InterNetOutput", "make_upsampler", "build_trunk"]


@dataclass(frozen=True)
class InterNetOutput:
    """What InterNet predicts for a batch of B crops.

    heatmaps: (B, 42, D, H, W) per-joint 3D heatmaps (right hand 0–20, left 21–41).
    rel_root_depth: (B,) left root depth minus right root depth, mm.
    rel_root_bin: (B,) the same as a soft-argmax bin coordinate in [0, bins - 1].
    rel_root_logits: (B, bins) the 1D heatmap before the softmax.
    handedness: (B, 2) probabilities [right, left] (sigmoid of ``handedness_logits``).
    handedness_logits: (B, 2) (the loss uses these: BCE-with-logits is stable and AMP-safe).
    """

    heatmaps: torch.Tensor
    rel_root_depth: torch.Tensor
    rel_root_bin: torch.Tensor
    rel_root_logits: torch.Tensor
    handedness: torch.Tensor
    handedness_logits: torch.Tensor


def make_upsampler(in_ch: int, ch: int, n: int = 3) -> nn.Sequential:
    """``n`` × (ConvTranspose2d k4 s2 p1 without bias, BN, ReLU): spatial size ×2 each.

    Indices in the Sequential are 0/1/2, 3/4/5, 6/7/8, as in the public code's state dicts.
    """
    layers: list[nn.Module] = []
    for i in range(n):
        layers += [
            nn.ConvTranspose2d(in_ch if i == 0 else ch, ch, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*layers)


def build_trunk(cfg: InterNetConfig) -> nn.Module:
    """The randomly initialised trunk of ``cfg``: a ResNet or an EfficientNet, each with
    ``stages(x)`` (strides 4 … 32), ``stage_channels`` and ``out_channels``."""
    if cfg.trunk.startswith("efficientnet"):
        from pose_net.efficientnet_trunk import EfficientNetTrunk

        return EfficientNetTrunk(cfg.trunk, cfg.trunk_width, cfg.trunk_depth, cfg.input_px)
    return ResNetTrunk(cfg.trunk)


def _mlp(in_ch: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_ch, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out))


class InterNet(nn.Module):
    """InterNet; ``InterNet()`` is the paper's configuration. See the module docstring."""

    def __init__(self, config: InterNetConfig | None = None) -> None:
        super().__init__()
        cfg = config if config is not None else get_config("paper")
        if not isinstance(cfg, InterNetConfig):
            raise ValueError(f"config must be an InterNetConfig, got {type(cfg).__name__}")
        self.config = cfg
        from annotator.skeleton import JOINTS_PER_HAND

        self.joints_per_hand = JOINTS_PER_HAND
        self.trunk = build_trunk(cfg)
        c, up = self.trunk.out_channels, cfg.upsampler_channels
        hm_ch = JOINTS_PER_HAND * cfg.depth_bins
        self.upsampler_right = make_upsampler(c, up)
        self.heatmap_right = nn.Conv2d(up, hm_ch, 1)
        self.upsampler_left = make_upsampler(c, up)
        self.heatmap_left = nn.Conv2d(up, hm_ch, 1)
        # Skip connections (config.skip_connections): 1×1 laterals of layer3, layer2, layer1
        # added after upsampling stages 1, 2, 3; shared by both hands' upsamplers.
        self.laterals = (
            nn.ModuleList(nn.Conv2d(ch, up, 1) for ch in self.trunk.stage_channels[2::-1])
            if cfg.skip_connections else None
        )
        self.rel_root_head = _mlp(c, cfg.fc_hidden, cfg.rel_root_bins)
        if cfg.handedness_from == "spatial":
            cells = (-(-cfg.input_px // 32)) ** 2  # the trunk's stride-32 output, flattened
            self.handedness_reduce = nn.Sequential(
                nn.Conv2d(c, HANDEDNESS_SPATIAL_CHANNELS, 1), nn.ReLU(inplace=True))
            self.handedness_head = _mlp(HANDEDNESS_SPATIAL_CHANNELS * cells, cfg.fc_hidden, 2)
        else:
            self.handedness_head = _mlp(c, cfg.fc_hidden, 2)
        if cfg.handedness_from == "heatmaps":
            self.handedness_evidence_scale = nn.Parameter(torch.ones(2))
        self._init_heads()

    def _init_heads(self) -> None:
        # "paper": the public code's head initialisation: N(0, 0.001) convolutions,
        # N(0, 0.01) FCs, zero biases, BN at identity. "pytorch": the layers' own defaults.
        if self.config.head_init != "paper":
            return
        for name, m in self.named_modules():
            if name.startswith("trunk"):
                continue
            if isinstance(m, (nn.ConvTranspose2d, nn.Conv2d)):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)

    def _hand_heatmaps(self, stages: list[torch.Tensor], up: nn.Sequential,
                       conv: nn.Module) -> torch.Tensor:
        if self.laterals is None:
            x = up(stages[-1])
        else:
            x = stages[-1]
            for k, lateral in enumerate(self.laterals):
                x = up[3 * k: 3 * k + 3](x) + lateral(stages[2 - k])
        out = conv(x)
        b, _, h, w = out.shape
        return out.reshape(b, self.joints_per_hand, self.config.depth_bins, h, w)

    def _handedness_logits(self, feat: torch.Tensor, pooled: torch.Tensor,
                           heatmaps: torch.Tensor) -> torch.Tensor:
        kind = self.config.handedness_from
        if kind == "spatial":
            return self.handedness_head(self.handedness_reduce(feat).flatten(1))
        logits = self.handedness_head(pooled)
        if kind == "heatmaps":
            # Per joint, log-mean-exp over its volume (0 for a flat volume); per hand, the
            # mean over its joints: how strongly that hand's joints are found anywhere.
            b, j = heatmaps.shape[:2]
            vol = heatmaps.reshape(b, j, -1).float()
            lme = torch.logsumexp(vol, dim=-1) - math.log(vol.shape[-1])
            evidence = lme.reshape(b, 2, self.joints_per_hand).mean(dim=-1)
            logits = logits + self.handedness_evidence_scale * evidence.to(logits.dtype)
        return logits

    def forward(self, images: torch.Tensor) -> InterNetOutput:
        """images: (B, 3, S, S) RGB float in [0, 1], S = config.input_px."""
        s = self.config.input_px
        if images.ndim != 4 or images.shape[1] != 3 or images.shape[2:] != (s, s):
            raise ValueError(f"images must be (B, 3, {s}, {s}), got {tuple(images.shape)}")
        stages = self.trunk.stages(images)
        feat = stages[-1]
        heatmaps = torch.cat(
            (
                self._hand_heatmaps(stages, self.upsampler_right, self.heatmap_right),
                self._hand_heatmaps(stages, self.upsampler_left, self.heatmap_left),
            ),
            dim=1,
        )
        pooled = F.adaptive_avg_pool2d(feat, 1).flatten(1)
        rel_root_logits = self.rel_root_head(pooled)
        rel_root_bin = soft_argmax_1d(rel_root_logits)
        handedness_logits = self._handedness_logits(feat, pooled, heatmaps)
        return InterNetOutput(
            heatmaps=heatmaps,
            rel_root_depth=rel_root_bins_to_mm(rel_root_bin, self.config),
            rel_root_bin=rel_root_bin,
            rel_root_logits=rel_root_logits,
            handedness=torch.sigmoid(handedness_logits),
            handedness_logits=handedness_logits,
        )
