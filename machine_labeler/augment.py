"""Training augmentation: a random similarity transform of the crop box (scale, shift,
rotation, horizontal flip that swaps the hands) and photometric jitter (per-channel gain,
brightness, contrast, grey as from a monochrome camera).

Geometry is one (2, 3) image->crop affine, so joints and pixels move together exactly;
a flip mirrors the crop and relabels every joint as its mirror in the other hand
(``annotator.skeleton.FLIP_INDEX``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from annotator.skeleton import FLIP_INDEX
from machine_labeler.crops import crop_affine

__all__ = ["GeometricAug", "sample_geometric", "augment_affine", "flip_joints", "photometric"]


@dataclass(frozen=True)
class GeometricAug:
    scale: float  # box side multiplier (>1 zooms out)
    shift: tuple[float, float]  # box centre shift, fraction of the box side
    angle_rad: float  # crop rotation, counter-clockwise in the image
    flip: bool  # mirror left-right (and swap the hands)

    @staticmethod
    def identity() -> GeometricAug:
        return GeometricAug(1.0, (0.0, 0.0), 0.0, False)


def sample_geometric(
    rng: np.random.Generator,
    scale_jitter: float,
    translate_jitter: float,
    rotation_deg: float,
    flip_prob: float,
) -> GeometricAug:
    """Draw scale U(1-s, 1+s), shift U(-t, t) per axis, angle U(-r, r), flip with p."""
    return GeometricAug(
        scale=float(rng.uniform(1 - scale_jitter, 1 + scale_jitter)),
        shift=(
            float(rng.uniform(-translate_jitter, translate_jitter)),
            float(rng.uniform(-translate_jitter, translate_jitter)),
        ),
        angle_rad=math.radians(float(rng.uniform(-rotation_deg, rotation_deg))),
        flip=bool(rng.random() < flip_prob),
    )


def augment_affine(box: np.ndarray, crop_px: int, aug: GeometricAug) -> np.ndarray:
    """(2, 3) image->crop affine of ``box`` (x0, y0, size) jittered by ``aug``."""
    x0, y0, size = (float(v) for v in box)
    cx = x0 + 0.5 * size + aug.shift[0] * size
    cy = y0 + 0.5 * size + aug.shift[1] * size
    s2 = size * aug.scale
    m = np.vstack([crop_affine(np.array([cx - 0.5 * s2, cy - 0.5 * s2, s2]), crop_px), [0, 0, 1]])
    c = 0.5 * (crop_px - 1)  # the crop's centre in pixel-centre coordinates
    if aug.angle_rad:
        co, si = math.cos(aug.angle_rad), math.sin(aug.angle_rad)
        rot = np.array([[co, si, c - co * c - si * c], [-si, co, c + si * c - co * c], [0, 0, 1]])
        m = rot @ m
    if aug.flip:
        m = np.array([[-1.0, 0, crop_px - 1], [0, 1, 0], [0, 0, 1]]) @ m
    return m[:2]


def flip_joints(values: np.ndarray) -> np.ndarray:
    """Relabel per-joint values (J, ...) after a mirror: right joint j <-> left joint j."""
    return np.asarray(values)[FLIP_INDEX]


def photometric(
    crop: np.ndarray, rng: np.random.Generator, jitter: float, grey_prob: float
) -> np.ndarray:
    """Colour jitter a (S, S, 3) uint8 RGB crop: channel gains, brightness and contrast
    within +-``jitter``; with probability ``grey_prob`` (or when the crop already is grey)
    the result is grey, three equal channels, like a monochrome camera's image."""
    x = crop.astype(np.float32)
    is_grey = bool(
        np.array_equal(crop[..., 0], crop[..., 1]) and np.array_equal(crop[..., 1], crop[..., 2])
    )
    if not is_grey and rng.random() < grey_prob:
        x = np.repeat((x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None], 3, axis=2)
        is_grey = True
    if jitter > 0:
        gains = rng.uniform(1 - jitter, 1 + jitter, size=3).astype(np.float32)
        if is_grey:
            gains[:] = gains[0]
        x *= gains
        mean = x.mean()
        contrast = np.float32(rng.uniform(1 - jitter, 1 + jitter))
        brightness = np.float32(rng.uniform(-jitter, jitter) * 255.0 * 0.5)
        x = (x - mean) * contrast + mean + brightness
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)
