"""Named hand poses and two-hand placements, in the spirit of InterHand2.6M's capture scripts.

A hand pose is a vector of ``NUM_ANGLES`` joint angles (``hand_model.ANGLE_NAMES``). Target
poses are written in degrees per finger as (abduction, flex1, flex2, flex3); fingers not
listed keep the relaxed values. Two-hand placements (:data:`INTERACTIONS`) give each hand's
pose and wrist placement for touching, clasped, crossed and occluding hands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotator.skeleton import FINGERS
from annotator.synth.hand_model import NUM_ANGLES, WristPose, clip_angles

__all__ = [
    "HandState",
    "TARGET_POSES",
    "INTERACTIONS",
    "pose_angles",
    "random_pose",
    "interpolate",
]

_RELAXED = {
    "thumb": (15, 10, 10, 10),
    "index": (2, 12, 18, 8),
    "middle": (0, 15, 20, 10),
    "ring": (-2, 18, 22, 10),
    "pinky": (-5, 20, 25, 12),
}
_FOLDED = (0, 85, 100, 60)
_STRAIGHT = (0, 0, 2, 0)
_THUMB_IN = (10, 45, 45, 35)  # across the folded fingers

#: Target poses: finger -> (abduction, flex1, flex2, flex3) in degrees.
TARGET_POSES: dict[str, dict[str, tuple[float, float, float, float]]] = {
    "neutral": {},
    "fist": {"thumb": _THUMB_IN, "index": _FOLDED, "middle": _FOLDED, "ring": _FOLDED,
             "pinky": _FOLDED},
    "point": {"thumb": _THUMB_IN, "index": _STRAIGHT, "middle": _FOLDED, "ring": _FOLDED,
              "pinky": _FOLDED},
    "count_two": {"thumb": _THUMB_IN, "index": (10, 0, 2, 0), "middle": (-8, 0, 2, 0),
                  "ring": _FOLDED, "pinky": _FOLDED},
    "count_three": {"thumb": _THUMB_IN, "index": (10, 0, 2, 0), "middle": (0, 0, 2, 0),
                    "ring": (-10, 0, 2, 0), "pinky": _FOLDED},
    "count_four": {"thumb": _THUMB_IN, "index": (10, 0, 2, 0), "middle": (0, 0, 2, 0),
                   "ring": (-8, 0, 2, 0), "pinky": (-15, 0, 2, 0)},
    "spread": {"thumb": (55, -10, 0, 0), "index": (20, -5, 0, 0), "middle": (3, -5, 0, 0),
               "ring": (-15, -5, 0, 0), "pinky": (-25, -5, 0, 0)},
    "thumbs_up": {"thumb": (40, -10, 0, -10), "index": _FOLDED, "middle": _FOLDED,
                  "ring": _FOLDED, "pinky": _FOLDED},
    "max_bent": {"thumb": (5, 55, 60, 80), "index": (0, 0, 110, 80), "middle": (0, 0, 110, 80),
                 "ring": (0, 0, 110, 80), "pinky": (0, 0, 110, 80)},
    "ok": {"thumb": (30, 35, 20, 25), "index": (5, 45, 60, 35), "middle": (2, 5, 8, 3),
           "ring": (-6, 8, 8, 3), "pinky": (-14, 10, 10, 5)},
    "rock": {"thumb": _THUMB_IN, "index": (10, 0, 2, 0), "middle": _FOLDED, "ring": _FOLDED,
             "pinky": (-15, 0, 2, 0)},
    "call_me": {"thumb": (55, -10, 0, 0), "index": _FOLDED, "middle": _FOLDED,
                "ring": _FOLDED, "pinky": (-20, 0, 2, 0)},
    "pinch": {"thumb": (25, 40, 25, 20), "index": (5, 50, 45, 25), "middle": (0, 55, 70, 40),
              "ring": (-3, 60, 75, 40), "pinky": (-6, 65, 80, 45)},
}


@dataclass(frozen=True)
class HandState:
    """One hand at one instant: joint angles (NUM_ANGLES,) radians and wrist placement."""

    angles: np.ndarray
    wrist: WristPose


def pose_angles(name: str, wrist_flex_deg: float = 0.0, wrist_dev_deg: float = 0.0) -> np.ndarray:
    """(NUM_ANGLES,) radians of the named target pose (``TARGET_POSES``)."""
    if name not in TARGET_POSES:
        raise ValueError(f"unknown pose {name!r}; expected one of {sorted(TARGET_POSES)}")
    spec = {**_RELAXED, **TARGET_POSES[name]}
    deg = [v for f in FINGERS for v in spec[f]] + [wrist_flex_deg, wrist_dev_deg]
    return clip_angles(np.deg2rad(np.array(deg, dtype=np.float64)))


def random_pose(rng: np.random.Generator) -> np.ndarray:
    """A random (NUM_ANGLES,) pose for range-of-motion gestures: fingers move together
    (each finger's flexions are correlated, as tendons couple them), within the limits."""
    from annotator.synth.hand_model import ANGLE_LIMITS

    lo, hi = ANGLE_LIMITS[:, 0], ANGLE_LIMITS[:, 1]
    u = np.empty(NUM_ANGLES)
    for f in range(len(FINGERS)):
        curl = rng.beta(0.8, 1.2)
        u[4 * f] = rng.uniform(0.2, 0.8)
        u[4 * f + 1 : 4 * f + 4] = np.clip(curl + rng.normal(0, 0.12, 3), 0.0, 1.0)
    u[-2:] = rng.uniform(0.3, 0.7, 2)
    # Keep clear of hyperextension: map 0 to the neutral angle, not the minimum.
    base = np.maximum(lo, 0.0)
    return clip_angles(base + u * (hi - base))


def interpolate(a: HandState, b: HandState, s: float) -> HandState:
    """Blend two states with a smoothstep in ``s`` in [0, 1] (angles, position, yaw/pitch/roll)."""
    w = s * s * (3.0 - 2.0 * s)
    wa, wb = a.wrist, b.wrist
    pos = tuple((1 - w) * np.asarray(wa.position_mm) + w * np.asarray(wb.position_mm))
    wrist = WristPose(
        position_mm=(float(pos[0]), float(pos[1]), float(pos[2])),
        yaw=(1 - w) * wa.yaw + w * wb.yaw,
        pitch=(1 - w) * wa.pitch + w * wb.pitch,
        roll=(1 - w) * wa.roll + w * wb.roll,
    )
    return HandState(angles=(1 - w) * a.angles + w * b.angles, wrist=wrist)


def _wp(x: float, y: float, z: float, yaw: float, pitch: float, roll: float) -> WristPose:
    return WristPose((x, y, z), np.deg2rad(yaw), np.deg2rad(pitch), np.deg2rad(roll))


#: Two-hand placements: name -> (right pose, right wrist, left pose, left wrist). The left
#: wrist is given in the mirrored frame (``WristPose``), so equal values mean a mirror pose.
INTERACTIONS: dict[str, tuple[str, WristPose, str, WristPose]] = {
    # Palms pressed together, fingers up.
    "prayer": ("neutral", _wp(18, -10, -60, -5, 60, 90), "neutral", _wp(18, -10, -60, -5, 60, 90)),
    # Fingertips of both hands touching, palms facing, a gap between the palms.
    "fingertips_touch": ("spread", _wp(90, -40, -60, -35, 55, 90), "spread",
                         _wp(90, -40, -60, -35, 55, 90)),
    # Hands clasped: fingers folded round the other hand.
    "clasped": ("fist", _wp(45, -40, -30, -20, 20, 80), "max_bent", _wp(30, -20, -40, -10, 35, 95)),
    # Forearms crossed at the wrists, right hand over the left.
    "crossed": ("neutral", _wp(-60, 10, 25, 35, 10, 10), "spread", _wp(-60, 10, -25, 35, 10, 10)),
    # Right hand in front of and above the left hand, both palm down.
    "occluding": ("neutral", _wp(50, 30, 45, 20, 5, 0), "fist", _wp(40, 0, -30, 15, 0, 0)),
    # The right hand holds the left hand's fingers.
    "grasp": ("pinch", _wp(20, 70, 0, 40, 10, 70), "point", _wp(40, 10, -10, -20, 0, 60)),
}
