"""Declared detector configurations: the frozen dataclass is the truth, stored in every
checkpoint (``dataclasses.asdict``) so inference rebuilds the model from the file alone."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["LabelerConfig", "CONFIGS", "get_config", "config_from_dict"]


@dataclass(frozen=True)
class LabelerConfig:
    name: str  # "paper" | "cpu-small" | a test config
    backbone: str  # efficientnet-pytorch model name, e.g. "efficientnet-b0"
    width_coefficient: float  # channel multiplier (1.0 = the named model's own)
    depth_coefficient: float  # block-repeat multiplier (1.0 = the named model's own)
    crop_px: int  # square network input, a multiple of 32 (the backbone's stride)
    heatmap_px: int  # heatmap side; crop_px // heatmap_px is the output stride (4)
    sigma_px: float  # Gaussian sigma of the target heatmaps, in heatmap px
    head_channels: int  # channels of the FPN-style upsampling head
    batch_size: int
    lr: float  # Adam learning rate before decay
    epochs: int  # default length when neither --epochs nor --steps is given
    lr_decay_at: tuple[float, ...] = (0.75, 0.9)  # fractions of training where lr *= 0.1
    warmup_steps: int = 50  # linear lr warm-up (Adam's first steps are large otherwise)
    weight_decay: float = 0.0
    box_pad: float = 1.25  # square hand box = tight box of both hands' joints x box_pad
    whole_view_fraction: float = 0.2  # share of samples that are whole letterboxed views
    # share of the crops of views with both hands that hold one hand only (a box around
    # that hand's joints, as machine-label's per-hand refinement crops it); 0: none
    hand_crop_fraction: float = 0.0
    scale_jitter: float = 0.25  # box size x U(1 - s, 1 + s)
    translate_jitter: float = 0.15  # box centre shift, fraction of the box size
    rotation_deg: float = 45.0  # uniform +- rotation of the crop
    flip_prob: float = 0.5  # horizontal flip (swaps right and left hands)
    color_jitter: float = 0.2  # per-channel gain / brightness / contrast +- this
    grey_prob: float = 0.15  # share of colour crops turned grey (monochrome cameras)
    checkpoint_every: int = 500  # steps between checkpoints (and always at the end)
    # "mse": one Gaussian heatmap per joint, MSE loss, position and confidence from it.
    # "dual": also one location logit map per joint trained with a spatial softmax cross-
    # entropy against the normalised Gaussian (converges much faster from scratch); the
    # position comes from the logits, the confidence from the MSE heatmap.
    loss: str = "mse"
    ce_weight: float = 0.01  # weight of the cross-entropy term against the heatmap MSE
    drop_connect_rate: float = 0.2  # EfficientNet's stochastic depth (0 trains faster)
    bn_momentum: float = 0.01  # PyTorch BatchNorm momentum (EfficientNet's own: 0.01)
    # Crops with both hands: "channels" trains each hand's channels on that hand; "either"
    # scores the crop against the targets as they are and with the hands' channels swapped
    # and keeps the smaller loss, so which channel set takes which hand is the network's
    # choice there (it must still give two whole hands); lifting then pairs the hands across
    # views and tells right from left in 3D (machine_labeler/hand_pairing.py). Single-hand
    # crops always train the hand's own channels.
    two_hand_channels: str = "channels"
    # Multiview bootstrapping (annotator/machine_selection.py, docs/labeler_training.md): which
    # merged machine joints a ``--labels human+machine`` training takes, and their weight.
    select_min_inliers: int = 4  # RANSAC inlier views a machine joint needs
    # its mean reprojection error over those views, at most (the labelling's RANSAC threshold:
    # on the full demo's capture a lower error did not mean a better joint, bench/qc_score.py)
    select_max_error_px: float = 6.0
    select_bone_tolerance: float = 0.4  # bones within +-40 % of the subject's human medians
    # its quality score (machine_labeler/quality.py: the share of views agreeing, ...) at
    # least this; 0.2 kept 443 of 2,749 joints at 8.3 mm median (the labels' own: 20.1 mm)
    select_min_score: float = 0.2
    select_duplicate_mm: float = 30.0  # wrists closer than this: one hand found twice
    machine_weight: float = 0.5  # loss weight of a selected machine joint (a human one: 1)

    def __post_init__(self) -> None:
        if self.crop_px <= 0 or self.crop_px % 32:
            raise ValueError(f"config {self.name!r}: crop_px must be a positive multiple of 32")
        if self.heatmap_px <= 0 or self.crop_px % self.heatmap_px:
            raise ValueError(f"config {self.name!r}: heatmap_px must divide crop_px")
        if self.crop_px // self.heatmap_px not in (4, 8):
            raise ValueError(f"config {self.name!r}: heatmap stride must be 4 or 8")
        if not (self.sigma_px > 0 and self.lr > 0 and self.batch_size > 0 and self.epochs > 0):
            raise ValueError(f"config {self.name!r}: sigma_px, lr, batch_size, epochs must be > 0")
        if self.loss not in ("mse", "dual"):
            raise ValueError(f"config {self.name!r}: loss must be 'mse' or 'dual'")
        if self.two_hand_channels not in ("channels", "either"):
            raise ValueError(f"config {self.name!r}: two_hand_channels must be 'channels' or "
                             "'either'")
        if not 0.0 <= self.hand_crop_fraction <= 1.0:
            raise ValueError(f"config {self.name!r}: hand_crop_fraction must be in [0, 1]")
        if not 0.0 <= self.whole_view_fraction <= 1.0:
            raise ValueError(f"config {self.name!r}: whole_view_fraction must be in [0, 1]")
        if not 0.0 <= self.select_min_score <= 1.0:
            raise ValueError(f"config {self.name!r}: select_min_score must be in [0, 1]")
        if self.select_min_inliers < 2:
            raise ValueError(f"config {self.name!r}: select_min_inliers must be >= 2")
        if not (self.select_max_error_px > 0 and self.select_bone_tolerance > 0
                and self.select_duplicate_mm >= 0 and self.machine_weight > 0):
            raise ValueError(f"config {self.name!r}: select_max_error_px, "
                             "select_bone_tolerance and machine_weight must be > 0, "
                             "select_duplicate_mm >= 0")

    @property
    def stride(self) -> int:
        """Crop pixels per heatmap pixel."""
        return self.crop_px // self.heatmap_px

    def replace(self, **changes: Any) -> LabelerConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["lr_decay_at"] = list(self.lr_decay_at)
        return d


CONFIGS: dict[str, LabelerConfig] = {
    # The paper's detector: EfficientNet-b0 on 256 px crops, 64 px heatmaps (a GPU job).
    "paper": LabelerConfig(
        name="paper",
        backbone="efficientnet-b0",
        width_coefficient=1.0,
        depth_coefficient=1.0,
        crop_px=256,
        heatmap_px=64,
        sigma_px=2.0,
        head_channels=128,
        batch_size=64,
        lr=1e-3,
        epochs=20,
        rotation_deg=45.0,
        warmup_steps=200,
        checkpoint_every=2000,
        loss="dual",
        ce_weight=0.05,
        two_hand_channels="either",
        hand_crop_fraction=0.3,
    ),
    # b0 at half width / half depth on 96 px crops: trains in minutes on 2 CPU cores.
    "cpu-small": LabelerConfig(
        name="cpu-small",
        backbone="efficientnet-b0",
        width_coefficient=0.5,
        depth_coefficient=0.5,
        crop_px=96,
        heatmap_px=24,
        sigma_px=1.5,
        head_channels=48,
        batch_size=16,
        lr=6e-3,
        epochs=30,
        loss="dual",
        ce_weight=0.05,
        # From scratch on a few CPU minutes: no stochastic depth, faster BN statistics,
        # lighter geometric jitter (bench/labeler_detector.py, docs/labeler_training.md).
        drop_connect_rate=0.0,
        bn_momentum=0.1,
        rotation_deg=10.0,
        scale_jitter=0.15,
        translate_jitter=0.1,
        # two-hand crops: the network picks which channel set takes which hand; lifting
        # pairs the views and chirality names the hands (interacting-hand machine labels
        # 35.4 -> 13.2 mm median on a 32-camera capture, docs/labeler_training.md)
        two_hand_channels="either",
        # a third of two-hand views cropped around one hand, as per-hand refinement sees them
        hand_crop_fraction=0.3,
    ),
}


def get_config(name: str) -> LabelerConfig:
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown labeler config {name!r} (have {', '.join(CONFIGS)})") from None


def config_from_dict(d: dict[str, Any]) -> LabelerConfig:
    """Rebuild a config stored in a checkpoint; unknown keys are rejected, missing ones
    (fields added since the checkpoint was written) take their defaults."""
    fields = {f.name for f in dataclasses.fields(LabelerConfig)}
    unknown = sorted(set(d) - fields)
    if unknown:
        raise ValueError(f"unknown labeler config keys {unknown}")
    d = dict(d)
    if "lr_decay_at" in d:
        d["lr_decay_at"] = tuple(float(x) for x in d["lr_decay_at"])
    return LabelerConfig(**d)
