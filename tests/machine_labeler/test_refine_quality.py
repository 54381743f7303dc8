"""Per-hand refinement in machine labelling, and the per-joint quality score."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from annotator import skeleton
from annotator.store import ProjectStore
from machine_labeler.labeling import SubjectBones, _nearer_channel_set, reference_bone_lengths
from machine_labeler.quality import bone_deviation, joint_evidence, quality_score
from tests.machine_labeler._labelled_project import label_from_ground_truth
from tests.machine_labeler.labeling_support import make_detector_checkpoint, make_synth
from triangulation import project


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    path = make_synth(tmp_path_factory.mktemp("refine") / "p", cameras=12, instants=6,
                      subjects=2)
    make_detector_checkpoint(path)
    label_from_ground_truth(path, instants=np.array([0, 3]), views=3, noise_px=0.5)
    return path


def _truth_views(store, i, noise_px=0.5, seed=0):
    """(joints (J, 3), uv (C, J, 2), weights (C, J), rig) of instant i from its truth."""
    gt = store.ground_truth(i)
    cap = store.instant(i).capture
    rig = store.rig(cap)
    mask = store.camera_mask(cap)
    uv = gt.uv_px[mask] + np.random.default_rng(seed).normal(0, noise_px, gt.uv_px[mask].shape)
    w = np.isfinite(uv).all(-1).astype(float)
    joints = np.where(gt.hand_present[np.array(
        [skeleton.HANDS.index(h) for h in skeleton.HAND_OF_JOINT])][:, None],
        gt.joints_world_mm, np.nan)
    return joints, uv, w, rig


def test_nearer_channel_set_picks_the_hand_next_to_its_reprojection():
    rng = np.random.default_rng(0)
    want = rng.uniform(0, 100, (3, 21, 2))
    near = want + rng.normal(0, 1.0, want.shape)
    far = want + 40.0
    pick = _nearer_channel_set(np.stack([near[0], far[1], near[2]]),
                               np.stack([far[0], near[1], np.full((21, 2), np.nan)]), want)
    assert pick.tolist() == [False, True, False]


def test_score_ranks_disturbed_joints_below_clean_ones(synth):
    with ProjectStore.open(synth) as store:
        i = int(np.flatnonzero([store.ground_truth(k).hand_present.any()
                                for k in range(store.num_instants)])[0])
        joints, uv, w, rig = _truth_views(store, i)
        bones = reference_bone_lengths(store)
    ok = np.isfinite(joints).all(-1)
    tip, mid, wrong = [int(j) for j in np.flatnonzero(ok)[[0, 5, 9]]]
    clean = quality_score(joint_evidence(joints, uv, w, rig, 6.0, bones), 6.0)
    assert np.all(clean[ok] > 0.3)
    # (a) most views see the joint somewhere else: RANSAC keeps a point two views agree on
    uv_a = uv.copy()
    seen = np.flatnonzero(w[:, tip] > 0)
    uv_a[seen[2:], tip] += np.random.default_rng(1).normal(0, 30, (seen.size - 2, 2))
    # (b) the 3D point is off by 12 mm along the bone (every view agrees on it: a bias
    # the views share), so the bones at it are the wrong length
    j_b = joints.copy()
    parent = int(skeleton.PARENTS[mid])
    j_b[mid] += 0.8 * (joints[mid] - joints[parent])
    uv_b = uv.copy()
    uv_b[:, mid] = np.swapaxes(project(j_b[mid:mid + 1], rig), 0, 1)[:, 0]
    # (c) the detections disagree with the point by 3x the threshold
    uv_c = uv.copy()
    uv_c[:, wrong] += 18.0
    # (a) and (c) lose most of their support; (b) only its bone term (exp(-0.5 |log 1.8|))
    cases = {tip: (joints, uv_a, 0.5), mid: (j_b, uv_b, 0.85), wrong: (joints, uv_c, 0.5)}
    for j, (jj, uu, factor) in cases.items():
        s = quality_score(joint_evidence(jj, uu, w, rig, 6.0, bones), 6.0)
        assert s[j] < factor * clean[j], (j, s[j], clean[j])
    # a hand whose chirality contradicts its slot scores lower everywhere
    bad_hand = quality_score(joint_evidence(joints, uv, w, rig, 6.0, bones,
                                            hand_ok=np.array([False, False])), 6.0)
    assert np.all(bad_hand[ok] < clean[ok])


def test_bone_deviation_is_zero_for_reference_lengths_and_grows_with_the_error():
    rng = np.random.default_rng(0)
    joints = rng.normal(0, 50, (skeleton.NUM_JOINTS, 3))
    child = np.nonzero(skeleton.PARENTS >= 0)[0]
    ref = np.linalg.norm(joints[child] - joints[skeleton.PARENTS[child]], axis=-1)
    assert np.allclose(bone_deviation(joints, ref), 0.0)
    assert np.allclose(bone_deviation(joints, None), 0.0)
    moved = joints.copy()
    moved[child[0]] = joints[skeleton.PARENTS[child[0]]] + 2 * (
        joints[child[0]] - joints[skeleton.PARENTS[child[0]]])
    dev = bone_deviation(moved, ref)
    assert dev[child[0]] > np.log(1.9) and dev[skeleton.PARENTS[child[0]]] > np.log(1.9)


def test_subject_bones_come_from_that_subjects_human_labels(synth):
    with ProjectStore.open(synth) as store:
        sb = SubjectBones(store)
        subject = store.instant_attr("subject")
        for i in (0, 3):
            own = reference_bone_lengths(store, instants=np.flatnonzero(subject == subject[i]))
            got = sb.of(i)
            both = np.isfinite(own)
            np.testing.assert_allclose(got[both], own[both])


def test_refinement_crops_each_hand_alone_and_stops_when_still(synth):
    """--refine K: one crop per present hand and view on top of the fine pass; an instant
    whose joints stop moving is not refined again."""
    from machine_labeler.checkpoint import load_detector, newest_checkpoint
    from machine_labeler.hand_finding import HandFindingSettings
    from machine_labeler.labeling import LabelingSettings, label_instants

    base = LabelingSettings(workers=0, batch_size=12, threshold_px=1000.0, refine=0,
                            hands=HandFindingSettings(coarse_threshold_px=1000.0))
    kept = []

    class Keep:
        def add(self, rec):
            kept.append(rec)

        def flush(self):
            pass

    with ProjectStore.open(synth) as store:
        det = load_detector(newest_checkpoint(store))
        plain = label_instants(store, det.model, det.config, [1], Keep(), base)
        one = label_instants(store, det.model, det.config, [1], Keep(),
                             dataclasses.replace(base, refine=1))
        still = label_instants(store, det.model, det.config, [1], None,
                               dataclasses.replace(base, refine=3, refine_tol_mm=1e9))
        views = len(store.rig(store.instant(1).capture))
    hands = int((kept[0].hand_present[0] == 1).sum())
    assert hands >= 1
    extra = one.crops - plain.crops
    assert 1 <= extra <= hands * views  # a crop per (present hand, view it reaches)
    assert still.crops == one.crops  # converged after the first refinement
    r = kept[1]
    assert np.isfinite(r.score[0]).all() and ((r.score[0] >= 0) & (r.score[0] <= 1)).all()
    # every joint below the review threshold carries the low-score bit, none above
    from annotator.store.machine_shards import QUALITY_LOW_SCORE

    low = (r.quality[0] & QUALITY_LOW_SCORE) > 0
    finite = np.isfinite(r.joints_world_mm[0]).all(-1)
    np.testing.assert_array_equal(low, finite & (r.score[0] < base.flag_below))


def test_refine_flags_are_checked_before_anything_runs(synth, capsys):
    from annotator.cli.main import main

    assert main(["machine-label", str(synth), "--refine", "-1"]) == 2
    assert "--refine must be >= 0" in capsys.readouterr().err
    assert main(["bootstrap", str(synth), "--rounds", "1", "--round-minutes", "0"]) == 2
    assert "--round-minutes must be > 0" in capsys.readouterr().err
    with ProjectStore.open(synth) as store:
        assert not (store.models_dir / "bootstrap").exists()
