"""Declared configurations of InterNet and RootNet (frozen dataclasses; stored in checkpoints).

Two InterNet configurations are declared:

- ``paper``: the InterHand2.6M paper and its public code (ResNet-50, 256 px input, a 64³
  heatmap per joint, σ = 2.5 voxels, batch 64, Adam 1e-4 with ×0.1 at epochs 15 and 17 of 20).
  Meant for a GPU.
- ``cpu-small``: the same heads on the machine labeller's backbone (EfficientNet-b0 at width
  and depth 0.5, started from the labeller's weights with ``--init-trunk labeler``) at 96 px,
  with 24³ heatmaps, narrower upsamplers and skip connections, trained by integral regression
  (L1 on soft-argmax coordinates) and decoded by soft-argmax, sized so that a short demo run
  trains in minutes on two CPU cores.

Conventions shared by both (those of the public InterNet code):

- Input: RGB, float in [0, 1] (pixel / 255), no mean/std normalisation.
- Heatmap axes per joint are (D, H, W) = (depth, rows, columns); joints 0–20 are the right
  hand (first upsampler), 21–41 the left hand (second upsampler), as ``annotator.skeleton``.
- Root-relative joint depth ``d`` mm maps to the depth voxel ``z = (d / (R/2) + 1) / 2 · D``
  with ``R = depth_range_mm`` (so ``d = 0`` is voxel ``D/2``); the right-relative left root depth
  maps the same way onto ``rel_root_bins`` bins over ``rel_root_range_mm``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "InterNetConfig",
    "RootNetConfig",
    "CONFIGS",
    "ROOTNET_CONFIGS",
    "get_config",
    "get_rootnet_config",
    "config_from_dict",
    "TRUNK_CHANNELS",
    "HANDEDNESS_INPUTS",
    "HANDEDNESS_SPATIAL_CHANNELS",
    "EFFICIENTNET_TRUNKS",
]

#: Output channels of each supported trunk (the input of the heads).
TRUNK_CHANNELS: dict[str, int] = {
    "resnet18": 512,
    "resnet34": 512,
    "resnet50": 2048,
    "resnet101": 2048,
    "resnet152": 2048,
}


#: What InterNet's handedness head may read (``InterNetConfig.handedness_from``).
HANDEDNESS_INPUTS: tuple[str, ...] = ("pooled", "spatial", "heatmaps")
#: Channels per position of the "spatial" handedness head's 1×1 reduction.
HANDEDNESS_SPATIAL_CHANNELS = 32


#: EfficientNet trunks (``pose_net.efficientnet_trunk``; InterNet only), scaled by the
#: config's ``trunk_width`` and ``trunk_depth``.
EFFICIENTNET_TRUNKS: tuple[str, ...] = tuple(f"efficientnet-b{i}" for i in range(8))


def _efficientnet_head_channels(width: float) -> int:
    """Channels of an EfficientNet's 1x1 head convolution (1280 at width 1), rounded as
    efficientnet-pytorch rounds filters: to a multiple of 8, never below 90 % of the exact."""
    exact = 1280 * width
    rounded = max(8, int(exact + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * exact else rounded


def _check_trunk_and_input(trunk: str, input_px: int, efficientnet: bool = False) -> None:
    """The checks both networks' configs share: a known trunk, an input it divides (stride 32)."""
    known = sorted(TRUNK_CHANNELS) + (list(EFFICIENTNET_TRUNKS) if efficientnet else [])
    if trunk not in known:
        raise ValueError(f"unknown trunk {trunk!r}; expected one of {known}")
    if input_px % 32 != 0 or input_px <= 0:
        raise ValueError(f"input_px must be a positive multiple of 32, got {input_px}")


@dataclass(frozen=True)
class InterNetConfig:
    """Everything that defines an InterNet model, its targets and its default training."""

    name: str = "paper"
    #: Trunk: a ResNet ("resnet18" … "resnet152", torchvision parameter names) or an
    #: EfficientNet ("efficientnet-b0" …, efficientnet-pytorch names; see ``trunk_width``).
    trunk: str = "resnet50"
    #: Width and depth multipliers of an EfficientNet trunk (1 for a ResNet): 0.5 / 0.5 is
    #: the machine labeller's cpu-small backbone, whose weights then initialise the trunk.
    trunk_width: float = 1.0
    trunk_depth: float = 1.0
    #: Side of the square input crop in pixels.
    input_px: int = 256
    #: H = W of the output heatmaps; three stride-2 upsamplers make it input_px / 4.
    heatmap_px: int = 64
    #: D, depth bins of each joint heatmap.
    depth_bins: int = 64
    #: Root-relative joint depths cover [-R/2, R/2) mm.
    depth_range_mm: float = 400.0
    #: Bins of the 1D heatmap of the right-relative left root depth.
    rel_root_bins: int = 64
    #: The right-relative left root depth covers [-R/2, R/2) mm.
    rel_root_range_mm: float = 400.0
    #: Standard deviation of the Gaussian heatmap targets, in voxels.
    sigma_voxels: float = 2.5
    #: Peak value of a target Gaussian (the public code renders 255 · exp(...)); a released
    #: checkpoint's heatmaps are on this scale.
    heatmap_peak: float = 255.0
    #: Weight of the heatmap L2 term of the pose loss (the paper's L_pose; 1 for ``paper``).
    heatmap_loss_weight: float = 1.0
    #: Weight of the integral-regression term of the pose loss: L1 between the soft-argmax
    #: voxel coordinates of each joint's heatmap (taken as logits) and the target voxel
    #: (Sun et al., ECCV 2018). 0 for ``paper``.
    coord_loss_weight: float = 0.0
    #: Weight of the handedness term L_h (1 in the paper).
    handedness_loss_weight: float = 1.0
    #: How heatmaps become voxel coordinates for evaluation: "argmax" (the public code's
    #: integer argmax) or "soft-argmax" (the expectation under the volume's softmax; for
    #: heatmaps trained with the integral term).
    decoding: str = "argmax"
    #: Initialisation of the heads: "paper" (the public code: N(0, 0.001) convolutions,
    #: N(0, 0.01) FCs, zero biases) or "pytorch" (PyTorch's default Kaiming-uniform layers).
    head_init: str = "paper"
    #: What the handedness head reads: "pooled" (the paper: the trunk output averaged over
    #: the image, FC-ReLU-FC), "spatial" (the trunk output through a 1×1 convolution to
    #: ``HANDEDNESS_SPATIAL_CHANNELS`` channels and flattened, keeping where in the crop each
    #: feature is, then FC-ReLU-FC) or "heatmaps" (the pooled head's logits plus each hand's
    #: own detection evidence: the mean over its joints of the log-mean-exp of the joint's
    #: heatmap, times a learnt scale; an absent hand's volumes are pushed down everywhere).
    handedness_from: str = "pooled"
    #: Channels of each upsampler (three ConvTranspose2d k4 s2 p1 + BN + ReLU).
    upsampler_channels: int = 256
    #: Hidden width of the handedness and relative-root FC heads.
    fc_hidden: int = 512
    #: Skip connections (not in the paper): after each of the three ×2 upsampling stages, a
    #: 1×1 convolution of the trunk stage of the same stride (layer3, layer2, layer1) is
    #: added, as feature-pyramid decoders do. At a small input the trunk's stride-32 output
    #: is only 3×3, and positions must otherwise be carried through channels alone.
    skip_connections: bool = False
    batch_size: int = 64
    lr: float = 1e-4
    epochs: int = 20
    lr_decay_epochs: tuple[int, ...] = (15, 17)
    lr_decay_factor: float = 0.1

    def __post_init__(self) -> None:
        _check_trunk_and_input(self.trunk, self.input_px, efficientnet=True)
        if not (self.trunk_width > 0 and self.trunk_depth > 0):
            raise ValueError(f"trunk_width and trunk_depth must be positive, got "
                             f"{self.trunk_width} and {self.trunk_depth}")
        if self.trunk in TRUNK_CHANNELS and (self.trunk_width, self.trunk_depth) != (1.0, 1.0):
            raise ValueError(f"trunk_width / trunk_depth scale EfficientNet trunks only; "
                             f"{self.trunk} has 1.0 / 1.0, got {self.trunk_width} / "
                             f"{self.trunk_depth}")
        if self.heatmap_px != self.input_px // 4:
            raise ValueError(
                f"heatmap_px must be input_px / 4 = {self.input_px // 4} (trunk stride 32, three "
                f"x2 upsamplers), got {self.heatmap_px}"
            )
        for name in ("depth_bins", "rel_root_bins", "upsampler_channels", "fc_hidden",
                     "batch_size", "epochs"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("depth_range_mm", "rel_root_range_mm", "sigma_voxels", "heatmap_peak", "lr"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("heatmap_loss_weight", "coord_loss_weight", "handedness_loss_weight"):
            if not float(getattr(self, name)) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.heatmap_loss_weight == 0 and self.coord_loss_weight == 0:
            raise ValueError("heatmap_loss_weight and coord_loss_weight are both 0: no pose loss")
        if self.handedness_from not in HANDEDNESS_INPUTS:
            raise ValueError(f"handedness_from must be one of {', '.join(HANDEDNESS_INPUTS)}, "
                             f"got {self.handedness_from!r}")
        if self.handedness_from == "heatmaps" and self.decoding != "soft-argmax":
            raise ValueError("handedness_from 'heatmaps' reads the heatmaps as logits: it needs "
                             "decoding 'soft-argmax' (integral regression)")
        if self.head_init not in ("paper", "pytorch"):
            raise ValueError(f"head_init must be 'paper' or 'pytorch', got {self.head_init!r}")
        if self.decoding not in ("argmax", "soft-argmax"):
            raise ValueError(f"decoding must be 'argmax' or 'soft-argmax', got {self.decoding!r}")
        object.__setattr__(self, "lr_decay_epochs", tuple(int(e) for e in self.lr_decay_epochs))

    @property
    def trunk_channels(self) -> int:
        """Channels of the trunk's stride-32 output (the input of the FC heads)."""
        if self.trunk in TRUNK_CHANNELS:
            return TRUNK_CHANNELS[self.trunk]
        return _efficientnet_head_channels(self.trunk_width)

    @property
    def joints_per_hand(self) -> int:
        from annotator.skeleton import JOINTS_PER_HAND

        return JOINTS_PER_HAND

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["lr_decay_epochs"] = list(self.lr_decay_epochs)
        return d


@dataclass(frozen=True)
class RootNetConfig:
    """RootNet: absolute root depth from a crop and its k value (Moon et al., ICCV 2019)."""

    name: str = "paper"
    trunk: str = "resnet50"
    input_px: int = 256
    #: Real-world area the box is assumed to cover, mm × mm (300 × 300 for hands).
    bbox_real_mm: tuple[float, float] = (300.0, 300.0)
    batch_size: int = 32
    lr: float = 1e-3
    epochs: int = 20
    lr_decay_epochs: tuple[int, ...] = field(default=(17,))
    lr_decay_factor: float = 0.1

    def __post_init__(self) -> None:
        _check_trunk_and_input(self.trunk, self.input_px)
        if len(self.bbox_real_mm) != 2 or min(self.bbox_real_mm) <= 0:
            raise ValueError(f"bbox_real_mm must be two positive sizes, got {self.bbox_real_mm}")
        object.__setattr__(self, "bbox_real_mm", tuple(float(v) for v in self.bbox_real_mm))
        object.__setattr__(self, "lr_decay_epochs", tuple(int(e) for e in self.lr_decay_epochs))

    @property
    def trunk_channels(self) -> int:
        return TRUNK_CHANNELS[self.trunk]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["lr_decay_epochs"] = list(self.lr_decay_epochs)
        d["bbox_real_mm"] = list(self.bbox_real_mm)
        return d


CONFIGS: dict[str, InterNetConfig] = {
    "paper": InterNetConfig(),
    "cpu-small": InterNetConfig(
        name="cpu-small",
        # The machine labeller's cpu-small backbone: its weights, trained on the same
        # studio's crops, start the trunk (--init-trunk labeler) as ImageNet's start the
        # paper's ResNet-50; and it trains ~1.5x the images/s of ResNet-18 here.
        trunk="efficientnet-b0",
        trunk_width=0.5,
        trunk_depth=0.5,
        # 96 px, 24³ volumes and 64-channel upsamplers: ~3x the training images/s of
        # 128 px / 32³ / 128 channels on a 2-core CPU (docs/internet_model.md).
        input_px=96,
        heatmap_px=24,
        depth_bins=24,
        rel_root_bins=64,
        sigma_voxels=2.0,  # only used if heatmap_loss_weight > 0
        # Integral regression (L1 on soft-argmax coordinates) instead of the 255-peak heatmap
        # L2, whose mean over the volume first drives every voxel to 0 and barely falls below
        # that in a few hundred CPU steps; decoded by soft-argmax (sub-voxel).
        heatmap_loss_weight=0.0,
        coord_loss_weight=1.0,
        decoding="soft-argmax",
        # With Adam at 1e-3, the public N(0, 0.001) head weights (followed by BN) change by
        # their own size every step; PyTorch's default scale keeps the updates relative.
        head_init="pytorch",
        skip_connections=True,
        upsampler_channels=64,
        fc_hidden=256,
        batch_size=16,
        lr=1e-3,
        epochs=20,
        lr_decay_epochs=(15, 17),
    ),
}

ROOTNET_CONFIGS: dict[str, RootNetConfig] = {
    "paper": RootNetConfig(),
    # The same crops as the cpu-small InterNet.
    "cpu-small": RootNetConfig(name="cpu-small", trunk="resnet18", input_px=96, batch_size=16),
}


def get_config(name: str) -> InterNetConfig:
    """The declared InterNet configuration called ``name`` ("paper" or "cpu-small")."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(
            f"unknown InterNet config {name!r}; expected one of {sorted(CONFIGS)}"
        ) from None


def get_rootnet_config(name: str) -> RootNetConfig:
    """The declared RootNet configuration called ``name``."""
    try:
        return ROOTNET_CONFIGS[name]
    except KeyError:
        raise ValueError(
            f"unknown RootNet config {name!r}; expected one of {sorted(ROOTNET_CONFIGS)}"
        ) from None


def config_from_dict(d: dict[str, Any], kind: str = "internet") -> InterNetConfig | RootNetConfig:
    """Rebuild a config from its ``to_dict()`` form; unknown keys are rejected."""
    cls = InterNetConfig if kind == "internet" else RootNetConfig
    if kind not in ("internet", "rootnet"):
        raise ValueError(f"kind must be 'internet' or 'rootnet', got {kind!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {', '.join(unknown)}")
    return cls(**d)
