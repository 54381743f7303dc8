"""Synthetic subjects: hand size and proportions, skin tone, clothing.

Hand lengths (wrist crease to middle fingertip) of adults span about 165-205 mm (5th to
95th percentile over women and men); each subject draws a length in that range, then every
bone gets a small independent jitter (+-4 %), so proportions differ between subjects too.
Skin tones are interpolated along a light-to-dark palette of measured skin reflectances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotator.synth.hand_model import HandShape, reference_shape
from annotator.synth.render import LABELS, Appearance

__all__ = ["Subject", "make_subjects", "HAND_LENGTH_RANGE_MM"]

#: Adult hand length range drawn from (mm).
HAND_LENGTH_RANGE_MM = (165.0, 205.0)
# Skin reflectance palette, light to dark, BGR 0-255.
_SKIN_BGR = np.array(
    [[176, 196, 236], [140, 170, 222], [105, 140, 198], [78, 108, 160], [52, 74, 112],
     [38, 52, 78]],
    dtype=np.float64,
)
_CLOTH_BGR = np.array(
    [[40, 40, 40], [200, 200, 200], [140, 60, 30], [40, 40, 150], [60, 120, 60], [150, 150, 60],
     [90, 60, 120], [30, 90, 160], [120, 110, 100], [20, 20, 90]],
    dtype=np.float64,
)


@dataclass(frozen=True)
class Subject:
    """One person in the studio.

    Attributes:
        index: subject number.
        shapes: per hand ("right", "left") the HandShape (the two hands differ slightly).
        appearance: colours for the renderer.
    """

    index: int
    shapes: dict[str, HandShape]
    appearance: Appearance

    @property
    def hand_length_mm(self) -> float:
        return self.shapes["right"].hand_length_mm


def make_subjects(n: int, seed: int = 0) -> list[Subject]:
    """``n`` subjects drawn deterministically from ``seed``."""
    if n < 1:
        raise ValueError(f"make_subjects: need at least one subject, got {n}")
    ref = reference_shape()
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, 0x5B, i])
        length = rng.uniform(*HAND_LENGTH_RANGE_MM)
        scale = length / ref.hand_length_mm
        jitter = rng.uniform(0.96, 1.04, ref.segments_mm.shape)
        shapes = {
            hand: ref.scaled(scale, jitter * rng.uniform(0.99, 1.01, jitter.shape))
            for hand in ("right", "left")
        }
        tone = rng.uniform(0.0, len(_SKIN_BGR) - 1)
        k = int(np.floor(tone))
        k2 = min(k + 1, len(_SKIN_BGR) - 1)
        skin = _SKIN_BGR[k] * (1 - (tone - k)) + _SKIN_BGR[k2] * (tone - k)
        skin = skin * rng.uniform(0.95, 1.05, 3)
        sleeve = _CLOTH_BGR[rng.integers(len(_CLOTH_BGR))] * rng.uniform(0.85, 1.1)
        shirt = sleeve if rng.random() < 0.6 else _CLOTH_BGR[rng.integers(len(_CLOTH_BGR))]
        albedo = np.zeros((len(LABELS), 3))
        albedo[LABELS["right_skin"]] = albedo[LABELS["left_skin"]] = skin
        albedo[LABELS["right_sleeve"]] = albedo[LABELS["left_sleeve"]] = sleeve
        albedo[LABELS["body"]] = shirt
        appearance = Appearance(
            albedo_bgr=np.clip(albedo, 0, 255), shirt_pattern=int(rng.integers(3))
        )
        out.append(Subject(index=i, shapes=shapes, appearance=appearance))
    return out
