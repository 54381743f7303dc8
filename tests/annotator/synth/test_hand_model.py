"""Hand model: joint limits respected, bone lengths constant, mirror symmetry."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.skeleton import BONES, FINGERS, finger_chain, hand_slice
from annotator.synth.hand_model import (
    ANGLE_LIMITS,
    NUM_ANGLES,
    WristPose,
    clip_angles,
    pose_hand,
    reference_shape,
)
from annotator.synth.poses import TARGET_POSES, pose_angles, random_pose
from annotator.synth.subjects import HAND_LENGTH_RANGE_MM, make_subjects


def _bend_angles(joints21: np.ndarray, hand: str) -> np.ndarray:
    """(5, 2) angles (rad) between consecutive bones at *2 and *3 of each finger."""
    base = hand_slice(hand).start
    out = np.zeros((5, 2))
    for f, finger in enumerate(FINGERS):
        chain = [j - base for j in finger_chain(hand, finger)]  # wrist, *1, *2, *3, *4
        p = joints21[chain]
        for k, mid in enumerate((2, 3)):
            a, b = p[mid] - p[mid - 1], p[mid + 1] - p[mid]
            out[f, k] = np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))
    return out


@pytest.mark.parametrize("hand", ["right", "left"])
def test_random_poses_bend_within_limits(hand):
    rng = np.random.default_rng(0)
    shape = reference_shape()
    flex_max = ANGLE_LIMITS[[4 * f + k for f in range(5) for k in (2, 3)], 1].reshape(5, 2)
    for _ in range(50):
        angles = random_pose(rng)
        assert np.all(angles >= ANGLE_LIMITS[:, 0] - 1e-12)
        assert np.all(angles <= ANGLE_LIMITS[:, 1] + 1e-12)
        wrist = WristPose(yaw=rng.uniform(-1, 1), roll=rng.uniform(-2, 2))
        g = pose_hand(hand, angles, shape, wrist)
        bend = _bend_angles(g.joints_mm, hand)
        assert np.all(bend <= flex_max + 1e-6)


def test_clip_angles_enforces_limits_and_flexion_bends_towards_the_palm():
    angles = clip_angles(np.full(NUM_ANGLES, 10.0))
    np.testing.assert_array_equal(angles, ANGLE_LIMITS[:, 1])
    with pytest.raises(ValueError, match="last axis"):
        clip_angles(np.zeros(5))
    # Flexing the index PIP moves its tip towards the palm side (-z in the hand frame; the
    # default wrist pose is palm down, so world -z).
    shape = reference_shape()
    straight = pose_hand("right", pose_angles("spread"), shape, WristPose())
    fist = pose_hand("right", pose_angles("fist"), shape, WristPose())
    tip = finger_chain("right", "index")[-1]
    assert fist.joints_mm[tip, 2] < straight.joints_mm[tip, 2] - 20


def test_left_hand_mirrors_right():
    shape = reference_shape()
    angles = pose_angles("ok")
    wrist = WristPose((40.0, 10.0, 5.0), 0.3, 0.4, 0.5)
    r = pose_hand("right", angles, shape, wrist).joints_mm
    left = pose_hand("left", angles, shape, wrist).joints_mm
    np.testing.assert_allclose(left, r * [-1, 1, 1])


def test_subjects_have_adult_hand_lengths_and_differ():
    subjects = make_subjects(8, seed=1)
    lengths = np.array([s.hand_length_mm for s in subjects])
    lo, hi = HAND_LENGTH_RANGE_MM
    assert np.all((lengths > lo * 0.95) & (lengths < hi * 1.05))
    assert np.ptp(lengths) > 5.0
    tones = np.array([s.appearance.albedo_bgr[1] for s in subjects])
    assert np.ptp(tones.sum(axis=1)) > 50


def test_bone_lengths_constant_within_subject_over_time(small_studio):
    joints = small_studio.joints_world_mm()
    subj = np.array([p.subject for p in small_studio.plan])
    lengths = np.stack([np.linalg.norm(joints[:, c] - joints[:, p], axis=-1) for c, p in BONES], 1)
    checked = 0
    for s in np.unique(subj):
        block = lengths[subj == s]
        for b in range(block.shape[1]):
            col = block[:, b][np.isfinite(block[:, b])]
            if col.size >= 2:
                np.testing.assert_allclose(col, col[0], atol=1e-9)
                checked += 1
    assert checked > 20


def test_every_target_pose_is_written_within_limits():
    # The written degrees themselves must be anatomical (clipping would hide a bad pose).
    for name, spec in TARGET_POSES.items():
        for finger, values in spec.items():
            f = FINGERS.index(finger)
            lim = np.rad2deg(ANGLE_LIMITS[4 * f : 4 * f + 4])
            ok = (np.array(values) >= lim[:, 0] - 1e-9) & (np.array(values) <= lim[:, 1] + 1e-9)
            assert ok.all(), (name, finger)
    with pytest.raises(ValueError, match="unknown pose"):
        pose_angles("jazz_hands")
