"""Capture scripts: sequences of key poses per subject, instants sampled from them, scenes.

Like InterHand2.6M's studio sessions, each subject performs peak-pose sequences (neutral ->
target pose -> neutral) with the right hand, the left hand and both hands interacting,
and range-of-motion sequences (free conversational gestures). Frames are numbered at 30 fps
within a capture (one capture per subject); ``plan_instants`` spreads the requested number
of instants over all sequences of all subjects, peaks first, so that even a handful of
instants covers single and interacting hands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotator.skeleton import NUM_JOINTS, hand_slice
from annotator.synth.hand_model import WristPose, pose_hand
from annotator.synth.poses import (
    INTERACTIONS,
    HandState,
    interpolate,
    pose_angles,
    random_pose,
)
from annotator.synth.render import LABELS, Scene
from annotator.synth.subjects import Subject

__all__ = ["Sequence", "InstantPlan", "subject_script", "plan_instants", "state_at", "build_scene"]

_PEAK_RIGHT = ("fist", "point", "count_two", "spread", "thumbs_up", "max_bent", "ok",
               "count_three", "rock", "call_me", "count_four", "pinch")
_PEAK_LEFT = ("spread", "fist", "count_two", "max_bent", "point", "ok", "thumbs_up",
              "count_four", "call_me", "count_three", "pinch", "rock")
_FRAMES_PER_SEQUENCE = 300  # frame-number block reserved per sequence


@dataclass(frozen=True)
class Sequence:
    """A scripted sequence: key frames of (right, left) hand states (None = hand absent)."""

    name: str
    kind: str  # "peak" or "rom"
    hands: str  # "right", "left" or "interacting"
    key_frames: tuple[int, ...]
    right: tuple[HandState | None, ...]
    left: tuple[HandState | None, ...]
    peak_frame: int
    frame_offset: int

    @property
    def num_frames(self) -> int:
        return self.key_frames[-1] + 1


@dataclass(frozen=True)
class InstantPlan:
    """One instant to generate: which subject, sequence and frame (within the capture)."""

    subject: int
    capture: str
    sequence: int  # index into subject_script(subject)
    sequence_name: str
    frame: int  # frame number within the capture
    local_frame: int  # frame within the sequence


def _wrist_at(center, yaw: float, pitch: float, roll: float) -> WristPose:
    """Wrist placement putting the palm centre (60 mm along the hand) at ``center`` (mm)."""
    w = WristPose((0.0, 0.0, 0.0), np.deg2rad(yaw), np.deg2rad(pitch), np.deg2rad(roll))
    p = np.asarray(center, dtype=np.float64) - w.rotation()[:, 0] * 60.0
    return WristPose((float(p[0]), float(p[1]), float(p[2])), w.yaw, w.pitch, w.roll)


def _random_wrist(rng: np.random.Generator, center=(0.0, 0.0, 0.0)) -> WristPose:
    c = np.asarray(center) + rng.normal(0.0, 25.0, 3)
    return _wrist_at(c, rng.uniform(-35, 35), rng.uniform(-15, 75), rng.uniform(-40, 130))


def _peak(name: str, target: str, hand: str, rng: np.random.Generator, offset: int) -> Sequence:
    wrist0 = _random_wrist(rng)
    wrist1 = _random_wrist(rng)
    wf, wd = rng.uniform(-20, 20), rng.uniform(-10, 10)
    neutral = HandState(pose_angles("neutral"), wrist0)
    peak = HandState(pose_angles(target, wf, wd), wrist1)
    states = (neutral, peak, peak, neutral)
    none = (None,) * 4
    return Sequence(name, "peak", hand, (0, 30, 45, 75),
                    states if hand == "right" else none, states if hand == "left" else none,
                    peak_frame=38, frame_offset=offset)


def _interaction(name: str, key: str, rng: np.random.Generator, offset: int) -> Sequence:
    rp, rw, lp, lw = INTERACTIONS[key]
    shift = rng.normal(0.0, 20.0, 3)

    def moved(w: WristPose, mirror: bool) -> WristPose:
        s = shift * (np.array([-1.0, 1.0, 1.0]) if mirror else 1.0)
        p = np.asarray(w.position_mm) + s
        return WristPose((float(p[0]), float(p[1]), float(p[2])), w.yaw, w.pitch, w.roll)

    r_peak = HandState(pose_angles(rp), moved(rw, False))
    l_peak = HandState(pose_angles(lp), moved(lw, True))
    r_rest = HandState(pose_angles("neutral"), _wrist_at((90, -30, -40), 10, 20, 60))
    l_rest = HandState(pose_angles("neutral"), _wrist_at((90, -30, -40), 10, 20, 60))
    return Sequence(name, "peak", "interacting", (0, 30, 45, 75),
                    (r_rest, r_peak, r_peak, r_rest), (l_rest, l_peak, l_peak, l_rest),
                    peak_frame=38, frame_offset=offset)


def _rom(name: str, hands: str, rng: np.random.Generator, offset: int, n_keys: int = 5) -> Sequence:
    keys = tuple(int(k) for k in np.arange(n_keys) * 20)
    right: list[HandState | None] = []
    left: list[HandState | None] = []
    for _ in keys:
        if hands == "interacting":
            c = rng.normal(0.0, 20.0, 3)
            right.append(HandState(random_pose(rng), _random_wrist(rng, c + (45, 0, 0))))
            c_left = -c * (-1, 1, 1) + (45, 0, 0)
            left.append(HandState(random_pose(rng), _random_wrist(rng, c_left)))
        else:
            s = HandState(random_pose(rng), _random_wrist(rng))
            right.append(s if hands == "right" else None)
            left.append(s if hands == "left" else None)
    return Sequence(name, "rom", hands, keys, tuple(right), tuple(left),
                    peak_frame=keys[len(keys) // 2], frame_offset=offset)


def subject_script(subject: int, seed: int = 0) -> list[Sequence]:
    """The sequences one subject performs, interleaved so early ones cover every kind."""
    rng = np.random.default_rng([seed, 0x5C, subject])
    inter = list(INTERACTIONS)
    out: list[Sequence] = []
    n = max(len(_PEAK_RIGHT), len(inter))
    for k in range(n):
        groups = []
        if k < len(_PEAK_RIGHT):
            t = _PEAK_RIGHT[(k + subject) % len(_PEAK_RIGHT)]
            groups.append(("right", t))
        if k < len(inter):
            groups.append(("interacting", inter[(k + subject) % len(inter)]))
        if k < len(_PEAK_LEFT):
            groups.append(("left", _PEAK_LEFT[(k + subject) % len(_PEAK_LEFT)]))
        if k % 3 == 2:
            groups.append(("rom", ("right", "interacting", "left")[(k // 3) % 3]))
        for hand, what in groups:
            i = len(out)
            off = i * _FRAMES_PER_SEQUENCE
            if hand == "rom":
                out.append(_rom(f"ROM{i:02d}_{what}_conversation", what, rng, off))
            elif hand == "interacting":
                out.append(_interaction(f"{i:04d}_interacting_{what}", what, rng, off))
            else:
                out.append(_peak(f"{i:04d}_{hand}_{what}", what, hand, rng, off))
    return out


def plan_instants(n_instants: int, n_subjects: int, seed: int = 0) -> list[InstantPlan]:
    """Spread ``n_instants`` over the subjects' sequences (subjects and sequences interleaved).

    With fewer instants than sequences, each chosen sequence contributes its peak frame;
    otherwise frames are spread evenly over every sequence.
    """
    if n_instants < 1:
        raise ValueError(f"need at least one instant, got {n_instants}")
    scripts = [subject_script(s, seed) for s in range(n_subjects)]
    order = [(s, q) for q in range(max(len(x) for x in scripts)) for s in range(n_subjects)
             if q < len(scripts[s])]
    per = np.full(len(order), n_instants // len(order))
    per[: n_instants % len(order)] += 1
    plans: list[InstantPlan] = []
    for (s, q), k in zip(order, per, strict=True):
        if k == 0:
            continue
        seq = scripts[s][q]
        if k == 1:
            frames = [seq.peak_frame]
        else:
            frames = np.unique(np.round(np.linspace(0, seq.num_frames - 1, k)).astype(int))
        for f in frames:
            plans.append(InstantPlan(s, f"Capture{s}", q, seq.name,
                                     int(seq.frame_offset + f), int(f)))
    plans.sort(key=lambda p: (p.subject, p.frame))
    return plans


def state_at(seq: Sequence, frame: int) -> tuple[HandState | None, HandState | None]:
    """(right, left) states at ``frame`` within the sequence (interpolated between keys)."""
    keys = seq.key_frames
    k = int(np.clip(np.searchsorted(keys, frame, side="right") - 1, 0, len(keys) - 2))
    s = float(np.clip((frame - keys[k]) / max(keys[k + 1] - keys[k], 1), 0.0, 1.0))
    out = []
    for states in (seq.right, seq.left):
        a, b = states[k], states[k + 1]
        out.append(None if a is None or b is None else interpolate(a, b, s))
    return out[0], out[1]


def build_scene(subject: Subject, right: HandState | None, left: HandState | None) -> Scene:
    """The studio scene at one instant: posed hands, forearms, upper arms and the torso."""
    s = subject.hand_length_mm / 185.0
    joints = np.full((NUM_JOINTS, 3), np.nan)
    radius = np.zeros(NUM_JOINTS)
    parts = []
    torso_y = -420.0 * s
    for hand, state in (("right", right), ("left", left)):
        if state is None:
            continue
        g = pose_hand(hand, state.angles, subject.shapes[hand], state.wrist)
        sl = hand_slice(hand)
        joints[sl] = g.joints_mm
        radius[sl] = g.joint_radius_mm
        skin, sleeve = LABELS[f"{hand}_skin"], LABELS[f"{hand}_sleeve"]
        lab = np.where(g.caps_part == 0, skin, sleeve).astype(np.int8)
        shoulder = np.array([190.0 * s * (1 if hand == "right" else -1), torso_y, 120.0 * s])
        parts.append((g.caps_a_mm, g.caps_b_mm, g.caps_ra_mm, g.caps_rb_mm, lab))
        # Upper arm from the elbow to the shoulder, in the sleeve.
        parts.append((g.elbow_mm[None], shoulder[None], np.array([44.0 * s]),
                      np.array([50.0 * s]), np.array([sleeve], np.int8)))
    # Torso: a wide capsule in the shirt, behind the hands.
    body = LABELS["body"]
    parts.append((np.array([[0.0, torso_y, -650.0 * s]]), np.array([[0.0, torso_y, 80.0 * s]]),
                  np.array([170.0 * s]), np.array([175.0 * s]), np.array([body], np.int8)))
    a = np.vstack([p[0] for p in parts])
    b = np.vstack([p[1] for p in parts])
    return Scene(
        caps_a_mm=a,
        caps_b_mm=b,
        caps_ra_mm=np.concatenate([p[2] for p in parts]),
        caps_rb_mm=np.concatenate([p[3] for p in parts]),
        caps_label=np.concatenate([p[4] for p in parts]).astype(np.int8),
        joints_mm=joints,
        joint_radius_mm=radius,
    )

