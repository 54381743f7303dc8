"""interhand_metrics on hand-made cases; every expected number is worked out by hand here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pose_net.metrics import interhand_metrics

N_J = 42
R_WRIST, L_WRIST = 20, 41


def _case():
    """Three samples: right-only, left-only, interacting (see the comments for the errors)."""
    rng = np.random.default_rng(0)
    gt = rng.uniform(-50, 50, (3, N_J, 3)) + np.array([0.0, 0.0, 600.0])
    pred = gt.copy()
    valid = np.zeros((3, N_J), bool)
    # sample 0, right hand only: joint 0 off by (3, 4, 0) -> 5 mm.
    valid[0, :21] = True
    pred[0, 0] += (3, 4, 0)
    pred[0, 21:] = np.nan  # the absent hand's prediction must not matter
    # sample 1, left hand only: joint 21 off by (0, 0, 2) -> 2 mm.
    valid[1, 21:] = True
    pred[1, 21] += (0, 0, 2)
    pred[1, :21] = 1e6
    # sample 2, interacting: joint 0 off by (0, 6, 8) -> 10 mm, joint 22 by (1, 0, 0) -> 1 mm;
    # the whole predicted left hand is shifted by 100 mm in x (root alignment removes it,
    # MRRPE sees it).
    valid[2] = True
    pred[2, 0] += (0, 6, 8)
    pred[2, 22] += (1, 0, 0)
    pred[2, 21:] += (100, 0, 0)
    hand_type = ["right", "left", "interacting"]
    return pred, gt, valid, hand_type


def test_mpjpe_groups_by_hand():
    pred, gt, valid, hand_type = _case()
    m = interhand_metrics(pred, gt, valid, hand_type)
    # single: every joint has one sample; errors 5 (joint 0) and 2 (joint 21), others 0.
    assert m.mpjpe_single == pytest.approx(7 / 42)
    assert m.per_joint_single[0] == pytest.approx(5) and m.per_joint_single[21] == pytest.approx(2)
    # interacting: 10 (joint 0) and 1 (joint 22).
    assert m.mpjpe_interacting == pytest.approx(11 / 42)
    # all: joint 0 mean(5, 10) = 7.5, joint 21 mean(2, 0) = 1, joint 22 mean(0, 1) = 0.5.
    assert m.per_joint[0] == pytest.approx(7.5)
    assert m.per_joint[21] == pytest.approx(1.0)
    assert m.per_joint[22] == pytest.approx(0.5)
    assert m.mpjpe_all == pytest.approx(9 / 42)
    # MRRPE from pred_cam_mm: the left hand moved 100 mm relative to the right.
    assert m.mrrpe == pytest.approx(100.0)
    assert (m.n_single, m.n_interacting, m.n_mrrpe) == (2, 1, 1)
    assert math.isnan(m.handedness_accuracy)


def test_mrrpe_from_given_relative_root():
    pred, gt, valid, hand_type = _case()
    rel = gt[:, L_WRIST] - gt[:, R_WRIST] + np.array([0.0, 3.0, 4.0])
    rel[:2] = np.nan  # single-hand samples are not used
    m = interhand_metrics(pred, gt, valid, hand_type, pred_rel_root_mm=rel)
    assert m.mrrpe == pytest.approx(5.0)


def test_joint_without_valid_sample_is_left_out_of_its_group():
    pred, gt, valid, hand_type = _case()
    valid[2, 5] = False
    pred[2, 5] += 1000.0  # invalid: must not count
    m = interhand_metrics(pred, gt, valid, hand_type)
    assert math.isnan(m.per_joint_interacting[5])
    assert m.mpjpe_interacting == pytest.approx(11 / 41)
    assert m.per_joint[5] == pytest.approx(0.0)  # still has sample 0 in "all"
    assert m.mpjpe_all == pytest.approx(9 / 42)


def test_invalid_wrist_removes_its_hand_and_mrrpe():
    pred, gt, valid, hand_type = _case()
    valid[0, R_WRIST] = False  # sample 0's right hand can no longer be aligned
    valid[2, L_WRIST] = False  # sample 2's left hand neither; and no MRRPE sample remains
    m = interhand_metrics(pred, gt, valid, hand_type)
    # single: right-hand joints have no sample left -> only the left hand's 21 joints.
    assert np.isnan(m.per_joint_single[:21]).all()
    assert m.mpjpe_single == pytest.approx(2 / 21)
    # interacting: only the right hand of sample 2 counts -> joint 0 with 10 mm over 21 joints.
    assert m.mpjpe_interacting == pytest.approx(10 / 21)
    assert math.isnan(m.mrrpe) and m.n_mrrpe == 0


def test_handedness_accuracy_counting():
    pred, gt, valid, hand_type = _case()
    # right: correct; left: wrong (p_right > 0.5); interacting: wrong (0.5 is not > 0.5).
    probs = np.array([[0.9, 0.1], [0.6, 0.7], [0.5, 0.9]])
    m = interhand_metrics(pred, gt, valid, hand_type, handedness=probs)
    assert m.handedness_accuracy == pytest.approx(1 / 3)
    m = interhand_metrics(pred, gt, valid, hand_type, handedness=probs,
                          hand_type_valid=np.array([1, 1, 0]))
    assert m.handedness_accuracy == pytest.approx(1 / 2) and m.n_handedness == 2
    probs[2] = (0.51, 0.99)
    m = interhand_metrics(pred, gt, valid, hand_type, handedness=probs)
    assert m.handedness_accuracy == pytest.approx(2 / 3)
    # per hand type: right and interacting right, left wrong; 1 of 3 samples has two hands
    assert m.handedness_by_type == {"right": 1.0, "left": 0.0, "interacting": 1.0}
    assert m.interacting_share == pytest.approx(1 / 3)
    assert m.to_dict()["handedness_by_type"] == {"right": 1.0, "left": 0.0, "interacting": 1.0}
    # "both hands" everywhere scores exactly the two-hand share
    m = interhand_metrics(pred, gt, valid, hand_type, handedness=np.full((3, 2), 0.9))
    assert m.handedness_accuracy == pytest.approx(m.interacting_share)
    # a type without samples is NaN (None in JSON)
    m = interhand_metrics(pred[:2], gt[:2], valid[:2], hand_type[:2], handedness=probs[:2])
    assert math.isnan(m.handedness_by_type["interacting"]) and m.interacting_share == 0
    assert m.to_dict()["handedness_by_type"]["interacting"] is None


def test_hand_type_as_flags_or_codes_gives_the_same():
    pred, gt, valid, hand_type = _case()
    a = interhand_metrics(pred, gt, valid, hand_type).to_dict()
    b = interhand_metrics(pred, gt, valid, np.array([[1, 0], [0, 1], [1, 1]])).to_dict()
    c = interhand_metrics(pred, gt, valid, np.array([0, 1, 2])).to_dict()
    assert a == b == c


def test_bad_input_is_a_clear_error():
    pred, gt, valid, hand_type = _case()
    with pytest.raises(ValueError, match="hand type"):
        interhand_metrics(pred, gt, valid, ["right", "left", "both"])
    with pytest.raises(ValueError, match="joint_valid"):
        interhand_metrics(pred, gt, valid[:, :40], hand_type)
    with pytest.raises(ValueError, match="pred_cam_mm"):
        interhand_metrics(pred[:, :21], gt, valid, hand_type)
