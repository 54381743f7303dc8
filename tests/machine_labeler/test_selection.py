"""The selection rule of multiview bootstrapping, and machine joints as training views."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from annotator import skeleton
from annotator.machine_labels.selection import (
    REJECT_BONE_LENGTH,
    REJECT_CHIRALITY,
    REJECT_DUPLICATE_HAND,
    REJECT_FEW_INLIERS,
    REJECT_HAND_ABSENT,
    REJECT_HIGH_ERROR,
    REJECT_LOW_SCORE,
    SelectionRule,
    select_machine_joints,
)
from annotator.store import ProjectStore
from machine_labeler.train_data import load_labelled_views, load_machine_views
from tests.machine_labeler._labelled_project import label_from_ground_truth
from tests.machine_labeler.labeling_support import copy_project, make_synth, records_from_truth

RIGHT = skeleton.hand_slice(skeleton.HANDS[0])
LEFT = skeleton.hand_slice(skeleton.HANDS[1])
H = skeleton.JOINTS_PER_HAND
WRIST = skeleton.RIGHT_ROOT  # the wrist's index within a hand (the right hand comes first)
HUMAN = [0, 1, 2]  # subject 0: hands R, R+L, L (4 hands: the chirality test runs)
MACHINE = [1, 3, 4, 5, 6, 7, 10]  # 1 is human-labelled: left out


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """12 instants of two subjects (0-5: subject 0, 6-11: subject 1); subject 0's instants
    0-2 carry exact human labels, subject 1 has none."""
    path = make_synth(tmp_path_factory.mktemp("sel") / "p", cameras=6, instants=12,
                      subjects=2, width=128, height=96)  # fmt: skip
    label_from_ground_truth(path, instants=np.array(HUMAN), noise_px=0.0)
    with ProjectStore.open(path) as store:
        subject = store.instant_attr("subject")
        present = np.array([store.ground_truth(i).hand_present for i in range(12)])
    assert subject.tolist() == [0] * 6 + [1] * 6  # the layout the tests below rely on
    assert present[[3, 6]].tolist() == [[True, False]] * 2 and present[[4, 7, 10]].all()
    assert present[5].tolist() == [False, True]
    return path


def _detections(store):
    """Truth-made detections of MACHINE (6 inliers, 0 px error), then one defect each."""
    rec = records_from_truth(store, MACHINE)
    joints = rec.joints_world_mm.copy()
    inliers = rec.inliers.copy()
    error = rec.reproj_error_px.copy()
    present = rec.hand_present.copy()
    row = {i: k for k, i in enumerate(MACHINE)}
    # instant 3 (right hand): one joint per per-joint reason
    k = row[3]
    inliers[k] = 4  # of the 6 cameras: enough ...
    inliers[k, 0] = 3  # ... but not for the thumb tip: 3 < 4 inlier views
    error[k, 4] = 7.0  # index tip: 7 px > 6 px
    joints[k, 8] = np.nan  # middle tip: not triangulated (not a candidate)
    d = joints[k, 12] - joints[k, 13]  # ring tip pushed outwards: bone 12-13 +80 %
    joints[k, 12] = joints[k, 13] + 1.8 * d
    score = np.ones(error.shape, np.float32)
    score[k, 16] = 0.1  # pinky tip: quality score 0.1 < 0.2
    # instant 4 (both hands): the left "hand" is the right one again, 2 mm off
    k = row[4]
    joints[k, LEFT] = joints[k, RIGHT] + 2.0
    # instant 5 (left hand): mirrored (same bones, a right hand's chirality)
    k = row[5]
    hand = joints[k, LEFT]
    hand[:, 0] = 2 * hand[WRIST, 0] - hand[:, 0]
    joints[k, LEFT] = hand
    # instant 6 (subject 1, no human labels): a hand 1.5x too large is not judged by bones
    k = row[6]
    hand = joints[k, RIGHT]
    joints[k, RIGHT] = hand[WRIST] + 1.5 * (hand - hand[WRIST])
    # instant 7 (both hands, subject 1): the left wrist moved 20 mm from the right one, but
    # the chiralities say right and left: two hands close together, not a duplicate
    k = row[7]
    r_wrist, l_wrist = joints[k, skeleton.RIGHT_ROOT], joints[k, skeleton.LEFT_ROOT]
    gap = (l_wrist - r_wrist) / np.linalg.norm(l_wrist - r_wrist) * 20.0
    joints[k, LEFT] += r_wrist + gap - l_wrist
    # instant 10 (both hands): the labeller says the left one is absent; right 6 mm off
    k = row[10]
    present[k, 1] = 0
    joints[k, RIGHT] += np.array([6.0, 0.0, 0.0])
    return dataclasses.replace(rec, joints_world_mm=joints, inliers=inliers,
                               reproj_error_px=error, hand_present=present,
                               score=score)  # fmt: skip


def test_each_rejection_reason_and_the_precision(project):
    with ProjectStore.open(project) as store:
        sel = select_machine_joints(store, _detections(store), SelectionRule())
        precision = sel.precision_5mm(store)
    assert sel.instants.tolist() == [3, 4, 5, 6, 7, 10] and sel.human_instants == 1
    assert sel.use_chirality
    row = {i: k for k, i in enumerate(sel.instants.tolist())}
    rej, kept = sel.rejected, sel.kept

    k = row[3]
    assert rej[k, 0] == REJECT_FEW_INLIERS and rej[k, 4] == REJECT_HIGH_ERROR
    assert not kept[k, 8]
    assert rej[k, 12] == REJECT_BONE_LENGTH and rej[k, 13] == REJECT_BONE_LENGTH
    assert rej[k, 9] == 0  # next to the untriangulated joint: its bone is unknown, no verdict
    assert rej[k, 16] == REJECT_LOW_SCORE
    assert kept[k, RIGHT].sum() == H - 6 and not kept[k, LEFT].any()
    assert (rej[k, LEFT] & REJECT_HAND_ABSENT).all()

    k = row[4]  # both "hands" of the duplicate go
    assert (rej[k, RIGHT] & REJECT_DUPLICATE_HAND).all()
    assert (rej[k, LEFT] & REJECT_DUPLICATE_HAND).all() and not kept[k].any()

    k = row[5]
    assert (rej[k, LEFT] == REJECT_CHIRALITY).all() and not kept[k].any()

    assert kept[row[6], RIGHT].all()  # subject 1's bones are unknown: no bone verdict
    assert kept[row[7]].all()  # close hands of opposite chirality stay

    k = row[10]
    assert (rej[k, LEFT] == REJECT_HAND_ABSENT).all() and kept[k, RIGHT].all()

    # the finite joints of the machine's instants (absent hands of the truth are NaN)
    assert sel.candidates == (H - 1) + 2 * H + H + H + 2 * H + 2 * H
    assert sel.kept_count == (H - 6) + H + 2 * H + H
    counts = sel.reason_counts()
    assert counts["few inlier views"] == 1 and counts["large reprojection error"] == 1
    assert counts["low quality score"] == 1
    assert counts["duplicate hand"] == 2 * H
    assert counts["chirality disagrees with the slot"] >= H
    # precision: instant 3's exact joints, instant 6's wrist and instant 7's right hand are
    # within 5 mm; the rest of instant 6's scaled hand, instant 7's moved left hand and
    # instant 10's shifted right hand are not
    assert precision == pytest.approx((H - 6 + 1 + H) / (5 * H - 6))
    assert sel.summary(store=None)["kept"] == 5 * H - 6
    assert np.isnan(sel.precision_5mm(SimpleNamespace(has_ground_truth=False)))


def test_bones_pool_every_human_label_without_a_subject_attribute(project, monkeypatch):
    with ProjectStore.open(project) as store:
        monkeypatch.setattr(type(store), "instant_attr_names", lambda self: [])
        sel = select_machine_joints(store, _detections(store))
    k = sel.instants.tolist().index(6)
    # subject 0's bones now judge subject 1's 1.5x hand (its wrist's bones are off too)
    assert (sel.rejected[k, RIGHT] & REJECT_BONE_LENGTH).all()


def test_thresholds_come_from_the_config():
    from machine_labeler.config import config_from_dict, get_config

    cfg = get_config("cpu-small").replace(select_min_inliers=6, select_max_error_px=1.5,
                                          select_min_score=0.7)
    rule = SelectionRule.from_config(cfg)
    assert (rule.min_inliers, rule.max_error_px, rule.bone_tolerance, rule.min_score) == (
        6, 1.5, 0.4, 0.7)
    # a checkpoint written before these fields existed still loads (defaults fill in)
    old = {k: v for k, v in cfg.to_dict().items()
           if not k.startswith("select_") and k != "machine_weight"}  # fmt: skip
    assert config_from_dict(old).select_min_inliers == 4
    with pytest.raises(ValueError, match="select_min_inliers"):
        cfg.replace(select_min_inliers=1)


def test_machine_views_are_the_kept_joints_projected_into_every_camera(project, tmp_path):
    """Each kept joint lands, with weight W, in every camera where it is in the image and
    in front, whatever its inlier views were: exactly the rows and 2D points a human label
    of the same joints gives; the instant's other joints weigh 0."""
    with ProjectStore.open(project) as store:
        sel = select_machine_joints(store, _detections(store))
        views = load_machine_views(store, sel, 0.25)
    twin = copy_project(project, tmp_path / "twin")
    picked = sel.instants[sel.kept.any(axis=1)]
    with ProjectStore.open(twin, "w") as store:
        for k in np.nonzero(sel.kept.any(axis=1))[0].tolist():
            joints = np.where(sel.kept[k][:, None], sel.joints_world_mm[k], np.nan)
            store.set_joints_3d(int(sel.instants[k]), joints, source="human")
    with ProjectStore.open(twin) as store:
        human = load_labelled_views(store, picked)
    assert picked.tolist() == [3, 6, 7, 10]
    np.testing.assert_array_equal(views.instants, human.instants)
    np.testing.assert_array_equal(views.cameras, human.cameras)
    np.testing.assert_array_equal(views.sizes, human.sizes)
    assert [p.replace(str(project), "") for p in views.paths] == [
        p.replace(str(twin), "") for p in human.paths]
    np.testing.assert_allclose(views.uv_px, human.uv_px, atol=1e-4)
    np.testing.assert_array_equal(views.weight, 0.25 * human.weight)
    # instant 3: all 6 cameras see the hand (4 were inliers); weights W / 0
    rows = views.instants == 3
    assert rows.sum() == 6
    k = sel.instants.tolist().index(3)
    np.testing.assert_array_equal(views.weight[rows], np.where(sel.kept[k], 0.25, 0.0)[None]
                                  .repeat(rows.sum(), 0))  # fmt: skip
    with pytest.raises(ValueError, match="weight"):
        load_machine_views(None, sel, 0.0)
