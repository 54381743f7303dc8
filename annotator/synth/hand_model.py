"""Articulated hand model: joint angles with anatomical limits -> 21 joints and volumes.

The model is built for a right hand in its own frame (millimetres): ``x`` runs from the
wrist towards the fingers (distal), ``y`` towards the thumb (radial), ``z`` out of the back
of the hand (dorsal); the palm faces ``-z``. A left hand is the mirror image (world
``x -> -x``) of a right hand posed with the same parameters, so one pose description gives
mirror-symmetric hands (see :func:`pose_hand`).

Degrees of freedom (``ANGLE_NAMES``, radians): per finger in ``skeleton.FINGERS`` order the
base abduction and three flexions (finger MCP/PIP/DIP; thumb CMC/MCP/IP, the thumb's CMC
flexion being its opposition across the palm), then wrist flexion and radial/ulnar
deviation. Flexion is a rotation about the segment's local ``y`` axis that takes the bone
towards the palm. Limits (``ANGLE_LIMITS``) follow clinical active range-of-motion tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotator.skeleton import FINGERS, JOINTS_PER_HAND

__all__ = [
    "ANGLE_NAMES",
    "ANGLE_LIMITS",
    "NUM_ANGLES",
    "HandShape",
    "WristPose",
    "HandGeometry",
    "reference_shape",
    "clip_angles",
    "forward_kinematics",
    "pose_hand",
    "rot_x",
    "rot_y",
    "rot_z",
]

_DOF = ("abd", "flex1", "flex2", "flex3")
ANGLE_NAMES: tuple[str, ...] = tuple(f"{f}_{d}" for f in FINGERS for d in _DOF) + (
    "wrist_flex",
    "wrist_dev",
)
NUM_ANGLES = len(ANGLE_NAMES)

# Active range of motion in degrees (min, max); flexion positive towards the palm,
# abduction positive towards the thumb side. Fingers: MCP -20..90, PIP 0..110, DIP -5..80;
# the thumb's CMC flexion (opposition) -15..55, abduction 0..60, MCP -10..60, IP -15..80.
_FINGER_LIMITS_DEG = {
    "thumb": ((-5, 60), (-15, 55), (-10, 60), (-15, 80)),
    "index": ((-15, 20), (-20, 90), (0, 110), (-5, 80)),
    "middle": ((-12, 12), (-20, 90), (0, 110), (-5, 80)),
    "ring": ((-15, 12), (-20, 90), (0, 110), (-5, 80)),
    "pinky": ((-25, 15), (-20, 90), (0, 110), (-5, 80)),
}
_WRIST_LIMITS_DEG = ((-70, 75), (-30, 20))
ANGLE_LIMITS: np.ndarray = np.deg2rad(
    np.array([lim for f in FINGERS for lim in _FINGER_LIMITS_DEG[f]] + list(_WRIST_LIMITS_DEG))
)
ANGLE_LIMITS.setflags(write=False)

# Reference right hand (hand length wrist -> middle tip about 185 mm, an adult mean).
# Base joint (*1) positions in the hand frame: the thumb's is the CMC joint.
_BASE_MM = {
    "thumb": (26.0, 20.0, -12.0),
    "index": (86.0, 25.0, 0.0),
    "middle": (90.0, 6.0, 0.0),
    "ring": (84.0, -12.0, -3.0),
    "pinky": (74.0, -29.0, -7.0),
}
# Segment lengths from the base joint: (to *2, to *3, to the tip *4).
_SEGMENTS_MM = {
    "thumb": (44.0, 32.0, 29.0),
    "index": (43.0, 25.0, 23.0),
    "middle": (47.0, 29.0, 24.0),
    "ring": (44.0, 28.0, 24.0),
    "pinky": (35.0, 21.0, 21.0),
}
# Volume radii at (*1, *2, *3, *4) in mm.
_RADII_MM = {
    "thumb": (15.0, 11.0, 9.5, 8.5),
    "index": (10.0, 8.8, 7.8, 6.9),
    "middle": (10.3, 9.0, 8.0, 7.0),
    "ring": (9.8, 8.5, 7.6, 6.7),
    "pinky": (8.8, 7.6, 6.8, 6.1),
}
# Rest direction of each finger: yaw in the palm plane (towards the thumb) and pitch
# (towards the palm), degrees. The thumb rests pointing radially and palmar.
_REST_DEG = {
    "thumb": (42.0, 38.0),
    "index": (5.0, 0.0),
    "middle": (0.0, 0.0),
    "ring": (-5.0, 2.0),
    "pinky": (-11.0, 4.0),
}
# During opposition the thumb also rotates about its axis (coupled, per radian of CMC flex).
_THUMB_TWIST_COUPLING = 0.4


def _thumb_frame() -> np.ndarray:
    """Rest frame of the thumb metacarpal: columns x (along it), y (flexion axis), z."""
    x = np.array([0.75, 0.6, -0.2])
    x /= np.linalg.norm(x)
    towards = np.array([0.25, -1.0, -0.45])  # where flexion takes it: across the palm
    towards -= (towards @ x) * x
    z = -towards / np.linalg.norm(towards)
    return np.stack([x, np.cross(z, x), z], axis=1)


_THUMB_FRAME = _thumb_frame()


def rot_x(a: float) -> np.ndarray:
    """(3, 3) rotation by ``a`` radians about x."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(a: float) -> np.ndarray:
    """(3, 3) rotation by ``a`` radians about y; positive takes x towards -z (flexion)."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(a: float) -> np.ndarray:
    """(3, 3) rotation by ``a`` radians about z; positive takes x towards y (abduction)."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class HandShape:
    """One subject's hand: base joint positions, segment lengths and volume radii.

    Attributes:
        base_mm: (5, 3) base joint (*1) of each finger in the hand frame, mm.
        segments_mm: (5, 3) lengths *1->*2, *2->*3, *3->*4 per finger, mm.
        radii_mm: (5, 4) volume radius at *1..*4 per finger, mm.
        wrist_radius_mm: radius of the wrist/forearm volume at the wrist, mm.
        forearm_length_mm: wrist to elbow, mm.
    """

    base_mm: np.ndarray
    segments_mm: np.ndarray
    radii_mm: np.ndarray
    wrist_radius_mm: float = 26.0
    forearm_length_mm: float = 260.0

    def scaled(self, scale: float, jitter: np.ndarray | None = None) -> HandShape:
        """A copy scaled by ``scale``; ``jitter`` (5, 3) multiplies the segment lengths."""
        seg = self.segments_mm * scale * (1.0 if jitter is None else jitter)
        return HandShape(
            base_mm=self.base_mm * scale,
            segments_mm=seg,
            radii_mm=self.radii_mm * scale,
            wrist_radius_mm=self.wrist_radius_mm * scale,
            forearm_length_mm=self.forearm_length_mm * scale,
        )

    @property
    def hand_length_mm(self) -> float:
        """Wrist to the middle fingertip with the hand flat, mm."""
        m = FINGERS.index("middle")
        return float(np.linalg.norm(self.base_mm[m]) + self.segments_mm[m].sum())


def reference_shape() -> HandShape:
    """The reference adult right hand (hand length about 185 mm)."""
    return HandShape(
        base_mm=np.array([_BASE_MM[f] for f in FINGERS], dtype=np.float64),
        segments_mm=np.array([_SEGMENTS_MM[f] for f in FINGERS], dtype=np.float64),
        radii_mm=np.array([_RADII_MM[f] for f in FINGERS], dtype=np.float64),
    )


@dataclass(frozen=True)
class WristPose:
    """Where a hand is: wrist position and forearm orientation (right-hand convention).

    The forearm frame starts palm down with the fingers along world ``+y`` and the thumb
    towards world ``-x`` (a right hand held in front of a subject who faces ``+y``, world
    ``z`` up); then ``roll`` turns it about the forearm axis (positive turns the palm
    towards ``-x``), ``pitch`` raises the fingers, ``yaw`` turns them towards ``-x``.
    For a left hand the same values give the mirror image (world ``x -> -x``).

    Attributes:
        position_mm: (3,) wrist position in world mm (before mirroring for a left hand).
        yaw, pitch, roll: radians.
    """

    position_mm: tuple[float, float, float] = (80.0, 0.0, 0.0)
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0

    def rotation(self) -> np.ndarray:
        """(3, 3) rotation from the forearm frame to world (right-hand convention)."""
        base = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
        return rot_z(self.yaw) @ rot_x(self.pitch) @ base @ rot_x(self.roll)


@dataclass(frozen=True)
class HandGeometry:
    """A posed hand in world mm: its joints and the volumes that render it.

    Attributes:
        joints_mm: (21, 3) joints in the skeleton's within-hand order.
        joint_radius_mm: (21,) radius of the volume around each joint.
        caps_a_mm, caps_b_mm: (P, 3) capsule axis end points.
        caps_ra_mm, caps_rb_mm: (P,) radii at those ends.
        caps_part: (P,) int8 part code: 0 skin (hand and bare forearm), 1 sleeve.
        elbow_mm: (3,) elbow position (end of the forearm).
    """

    joints_mm: np.ndarray
    joint_radius_mm: np.ndarray
    caps_a_mm: np.ndarray
    caps_b_mm: np.ndarray
    caps_ra_mm: np.ndarray
    caps_rb_mm: np.ndarray
    caps_part: np.ndarray
    elbow_mm: np.ndarray


def clip_angles(angles: np.ndarray) -> np.ndarray:
    """Clip ``angles`` (..., NUM_ANGLES) radians to ``ANGLE_LIMITS``."""
    angles = np.asarray(angles, dtype=np.float64)
    if angles.shape[-1] != NUM_ANGLES:
        raise ValueError(f"angles must have last axis {NUM_ANGLES}, got shape {angles.shape}")
    return np.clip(angles, ANGLE_LIMITS[:, 0], ANGLE_LIMITS[:, 1])


def _finger_frames(angles: np.ndarray, shape: HandShape) -> list[list[tuple]]:
    """Per finger, the (position, rotation) of *1, *2, *3, *4 in the hand frame."""
    out = []
    for f, finger in enumerate(FINGERS):
        abd, f1, f2, f3 = angles[4 * f : 4 * f + 4]
        yaw, pitch = np.deg2rad(_REST_DEG[finger])
        rest = rot_z(yaw) @ rot_y(pitch)
        if finger == "thumb":
            # The thumb's own frame: x along the metacarpal, flexion (about y) sweeps it
            # across the palm towards the little finger, abduction (about z) lifts it away
            # from the palm; opposition adds a pronation about its axis.
            rest = _THUMB_FRAME @ rot_x(_THUMB_TWIST_COUPLING * f1)
            r1 = rest @ rot_z(abd) @ rot_y(f1)
        else:
            r1 = rest @ rot_z(abd) @ rot_y(f1)
        r2 = r1 @ rot_y(f2)
        r3 = r2 @ rot_y(f3)
        seg = shape.segments_mm[f]
        p1 = shape.base_mm[f]
        p2 = p1 + r1[:, 0] * seg[0]
        p3 = p2 + r2[:, 0] * seg[1]
        p4 = p3 + r3[:, 0] * seg[2]
        out.append([(p1, r1), (p2, r2), (p3, r3), (p4, r3)])
    return out


def forward_kinematics(
    angles: np.ndarray, shape: HandShape, wrist: WristPose, *, mirror: bool = False
) -> HandGeometry:
    """Pose one hand: joint angles -> joints and capsule volumes in world mm.

    Args:
        angles: (NUM_ANGLES,) radians; clipped to ``ANGLE_LIMITS``.
        shape: the subject's hand.
        wrist: wrist position and forearm orientation.
        mirror: build a left hand (world ``x -> -x`` of the right-hand result).

    Returns:
        HandGeometry with joints in the skeleton's within-hand order (tip first per finger,
        wrist last).
    """
    angles = clip_angles(angles)
    r_arm = wrist.rotation()
    wf, wd = angles[-2], angles[-1]
    # The hand turns at the wrist relative to the forearm: deviation then flexion.
    r_hand = r_arm @ rot_z(wd) @ rot_y(wf)
    origin = np.asarray(wrist.position_mm, dtype=np.float64)
    frames = _finger_frames(angles, shape)

    local = np.zeros((JOINTS_PER_HAND, 3))
    radius = np.zeros(JOINTS_PER_HAND)
    caps: list[tuple[np.ndarray, np.ndarray, float, float, int]] = []
    for f in range(len(FINGERS)):
        rads = shape.radii_mm[f]
        for k in range(4):  # *1..*4 -> skeleton slot tip-first
            local[4 * f + 3 - k] = frames[f][k][0]
            radius[4 * f + 3 - k] = rads[k]
        for k in range(3):
            a, b = frames[f][k][0], frames[f][k + 1][0]
            if k == 2:
                # The tip joint lies inside the pad: the volume ends half a radius beyond it.
                b = b + frames[f][3][1][:, 0] * 0.5 * rads[3]
            caps.append((a, b, rads[k], rads[k + 1], 0))
    wr = shape.wrist_radius_mm
    radius[-1] = wr
    # Palm: a slab made of overlapping capsules from the carpus to each knuckle, a knuckle
    # bar, and the thenar eminence towards the thumb's CMC and MCP joints.
    base = shape.base_mm
    s = shape.hand_length_mm / 185.0
    pr = 12.5 * s
    for f, finger in enumerate(FINGERS):
        if finger == "thumb":
            continue
        carpal = np.array([16.0 * s, base[f, 1] * 0.55, base[f, 2] * 0.3])
        caps.append((carpal, base[f], pr + 1.5 * s, pr, 0))
    caps.append((base[1], base[4], pr, pr * 0.9, 0))
    mid = 0.5 * (base[1] + base[4]) - np.array([30.0 * s, 0.0, 0.0])
    caps.append((base[1] - np.array([30.0 * s, 0.0, 0.0]), mid, pr + 1, pr + 1, 0))
    thumb_mcp = frames[0][1][0]
    caps.append((np.array([12.0 * s, 6.0 * s, -4.0 * s]), base[0], 17.0 * s, 15.0 * s, 0))
    thenar = 0.55 * base[0] + 0.45 * thumb_mcp
    caps.append((np.array([40.0 * s, 10.0 * s, -6.0 * s]), thenar, 14.0 * s, 12.0 * s, 0))
    across = np.array([0.0, 14.0 * s, 0.0])
    caps.append((across, -across, wr * 0.85, wr * 0.85, 0))

    pts_a = np.array([c[0] for c in caps])
    pts_b = np.array([c[1] for c in caps])
    world = lambda p: p @ r_hand.T + origin  # noqa: E731
    joints = world(local)
    caps_a, caps_b = world(pts_a), world(pts_b)
    ra = np.array([c[2] for c in caps])
    rb = np.array([c[3] for c in caps])
    part = np.array([c[4] for c in caps], dtype=np.int8)

    # Forearm: bare skin near the wrist, then a sleeve, up to the elbow.
    arm_dir = -r_arm[:, 0]
    elbow = origin + arm_dir * shape.forearm_length_mm
    cuff = origin + arm_dir * 0.35 * shape.forearm_length_mm
    fa = np.array([origin, cuff])
    fb = np.array([cuff, elbow])
    fra = np.array([wr, wr * 1.12])
    frb = np.array([wr * 1.12, wr * 1.35])
    # The sleeve is a little wider than the arm under it.
    fra[1] += 6.0
    frb[1] += 8.0
    caps_a = np.vstack([caps_a, fa])
    caps_b = np.vstack([caps_b, fb])
    ra = np.concatenate([ra, fra])
    rb = np.concatenate([rb, frb])
    part = np.concatenate([part, np.array([0, 1], dtype=np.int8)])
    if mirror:
        flip = np.array([-1.0, 1.0, 1.0])
        joints, caps_a, caps_b, elbow = joints * flip, caps_a * flip, caps_b * flip, elbow * flip
    return HandGeometry(
        joints_mm=joints,
        joint_radius_mm=radius,
        caps_a_mm=caps_a,
        caps_b_mm=caps_b,
        caps_ra_mm=ra,
        caps_rb_mm=rb,
        caps_part=part,
        elbow_mm=elbow,
    )


def pose_hand(
    hand: str, angles: np.ndarray, shape: HandShape, wrist: WristPose
) -> HandGeometry:
    """Pose the ``hand`` ("right" or "left"); a left hand mirrors the right-hand result."""
    if hand not in ("right", "left"):
        raise ValueError(f"unknown hand {hand!r}; expected 'right' or 'left'")
    return forward_kinematics(angles, shape, wrist, mirror=(hand == "left"))
