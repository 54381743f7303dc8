"""Studio backgrounds per camera: dark walls with the other cameras' lights, or textured walls.

InterHand2.6M's studio is dark; each camera sees the LED rings of the cameras opposite as
bright spots. Most synthetic cameras get that look (the spots drawn where the other cameras
of the rig actually project); the rest see a textured wall (low-frequency colour noise,
stripes or tiles) so that detectors trained on this data do not learn one background.
Backgrounds are static per camera (a fixed studio), drawn deterministically from the seed.
"""

from __future__ import annotations

import cv2
import numpy as np

from annotator.synth.render import camera_points
from triangulation.camera import CameraRig

__all__ = ["make_background", "is_grayscale"]

#: Share of monochrome cameras (real studios mix colour and monochrome cameras).
GRAYSCALE_FRACTION = 0.15


def is_grayscale(seed: int, camera_index: int) -> bool:
    """Whether camera ``camera_index`` is monochrome (deterministic from the seed)."""
    return bool(np.random.default_rng([seed, 0x6A, camera_index]).random() < GRAYSCALE_FRACTION)


def _smooth_noise(rng: np.random.Generator, H: int, W: int, cells: int, ch: int) -> np.ndarray:
    """(H, W, ch) float32 smooth noise in [-1, 1] from a coarse grid upsampled bicubically."""
    small = rng.uniform(-1, 1, (max(2, cells * H // W), cells, ch)).astype(np.float32)
    out = cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC)
    return out.reshape(H, W, ch)


def make_background(rig: CameraRig, camera_index: int, seed: int) -> np.ndarray:
    """(H, W, 3) uint8 BGR background of camera ``camera_index`` of ``rig``."""
    cam = rig[camera_index]
    H, W = cam.height, cam.width
    rng = np.random.default_rng([seed, 0xB6, camera_index])
    style = rng.choice(3, p=[0.65, 0.2, 0.15])
    yy = np.linspace(0.0, 1.0, H, dtype=np.float32)[:, None, None]
    if style == 0:
        # Dark studio: near-black with a faint gradient, LED spots of the other cameras.
        base = rng.uniform(6, 22) + 10.0 * yy * rng.uniform(-1, 1)
        img = np.broadcast_to(base, (H, W, 3)).astype(np.float32).copy()
        img += 6.0 * _smooth_noise(rng, H, W, 6, 3)
        others = np.delete(np.arange(len(rig)), camera_index)
        if others.size:
            uv, z = camera_points(rig.centers_world[others], cam)
            glow = np.zeros((H, W), np.float32)
            for (u, v), d in zip(uv, z, strict=True):
                if d > 0 and -20 < u < W + 20 and -20 < v < H + 20:
                    r = int(np.clip(5000.0 / d, 2, 8))
                    cv2.circle(glow, (int(round(u)), int(round(v))), r, 1.0, -1, cv2.LINE_AA)
            glow = np.maximum(glow, cv2.GaussianBlur(glow, (0, 0), 4.0) * 1.6)
            tint = np.array([1.0, rng.uniform(0.9, 1.0), rng.uniform(0.8, 1.0)], np.float32)
            img += 255.0 * np.minimum(glow, 1.0)[:, :, None] * tint
    elif style == 1:
        # A painted or fabric wall: mid-tone colour with blotchy low-frequency texture.
        colour = rng.uniform(40, 170, 3).astype(np.float32)
        img = colour * (0.8 + 0.25 * _smooth_noise(rng, H, W, 8, 1))
        img += 12.0 * _smooth_noise(rng, H, W, 40, 3)
        img *= 1.0 - 0.3 * yy
    else:
        # Stripes or tiles (studio panels, a curtain).
        colour = rng.uniform(30, 140, 3).astype(np.float32)
        xx = np.arange(W, dtype=np.float32)[None, :, None]
        period = rng.uniform(20, 70)
        stripes = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * xx / period))
        if rng.random() < 0.5:
            stripes = stripes * (0.5 + 0.5 * np.sign(np.sin(2 * np.pi * yy * H / period)))
        img = colour * (0.6 + 0.4 * stripes) + 8.0 * _smooth_noise(rng, H, W, 30, 3)
        img = img * (1.0 - 0.25 * yy)
    return np.clip(img, 0, 255).astype(np.uint8)
