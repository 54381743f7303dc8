"""Automatic view choice: coverage, spread of viewing directions, occlusion, fallback."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from annotator import skeleton
from annotator.session.views import choose_views, rig_centre, score_cameras
from tests._support.rigs import dome_rig


def hands(offset_mm=(0.0, 0.0, 0.0), separation_mm: float = 120.0, seed: int = 0):
    """(42, 3) two rough hands (21 points in a 90 mm blob each) side by side at the origin."""
    rng = np.random.default_rng(seed)
    pts = rng.normal(0.0, 30.0, (skeleton.NUM_JOINTS, 3))
    pts[skeleton.hand_slice("right"), 0] -= separation_mm / 2
    pts[skeleton.hand_slice("left"), 0] += separation_mm / 2
    return pts + np.asarray(offset_mm)


def min_pairwise_angle(rig, idx, target) -> float:
    d = rig.centers_world[idx] - target
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    pairs = itertools.combinations(range(len(idx)), 2)
    return min(np.arccos(np.clip(d[a] @ d[b], -1, 1)) for a, b in pairs)


def test_rig_centre_of_a_dome_is_where_it_looks():
    rig = dome_rig(80)
    assert np.linalg.norm(rig_centre(rig)) < 1.0


def test_no_estimate_falls_back_to_cameras_facing_the_centre_spread_out():
    rig = dome_rig(80)
    idx = choose_views(rig, None, 6)
    assert len(set(idx.tolist())) == 6
    assert np.array_equal(idx, choose_views(rig, np.full((42, 3), np.nan), 6))  # deterministic
    scores = score_cameras(rig, None)
    assert not scores.estimated and np.all(scores.score[idx] > 0.99)
    assert min_pairwise_angle(rig, idx, np.zeros(3)) > np.deg2rad(35)


def test_views_cover_the_hands_and_spread_more_than_best_scores_alone():
    rig = dome_rig(80)
    pts = hands()
    idx = choose_views(rig, pts, 6)
    scores = score_cameras(rig, pts)
    assert scores.estimated and np.all(scores.coverage[idx] == 1.0)
    top = np.argsort(-scores.score, kind="stable")[:6]
    centre = pts.mean(0)
    assert min_pairwise_angle(rig, idx, centre) > min_pairwise_angle(rig, top, centre)
    assert min_pairwise_angle(rig, idx, centre) > np.deg2rad(35)


def test_candidates_restrict_and_order_is_best_first():
    rig = dome_rig(40)
    pts = hands()
    allowed = np.zeros(40, bool)
    allowed[[3, 7, 11, 19, 23]] = True
    idx = choose_views(rig, pts, 3, candidates=allowed)
    assert set(idx.tolist()) <= {3, 7, 11, 19, 23} and len(idx) == 3
    scores = score_cameras(rig, pts).score
    assert idx[0] == np.flatnonzero(allowed)[np.argmax(scores[allowed])]
    assert len(choose_views(rig, pts, 10, candidates=allowed)) == 5
    with pytest.raises(ValueError, match="positive"):
        choose_views(rig, pts, 0)


def test_other_hand_in_front_lowers_the_score():
    rig = dome_rig(80)
    k = 5
    pts = hands(separation_mm=0.0)
    right = skeleton.hand_slice("right")
    left = skeleton.hand_slice("left")
    pts[left] = pts[right] * 0.8  # a slightly smaller left hand ...
    toward_k = rig.centers_world[k] / np.linalg.norm(rig.centers_world[k])
    pts[left] += 250.0 * toward_k  # ... straight between camera k and the right hand
    s = score_cameras(rig, pts)
    assert s.occlusion[k] > 0.7
    d = rig.centers_world / np.linalg.norm(rig.centers_world, axis=1, keepdims=True)
    side = np.arccos(np.clip(d @ toward_k, -1, 1)) > np.deg2rad(70)
    assert np.median(s.occlusion[side]) < 0.3
    assert k not in choose_views(rig, pts, 6).tolist()


def test_closer_camera_sees_the_hands_larger():
    rig = dome_rig(80)
    k = 11
    toward_k = rig.centers_world[k] / np.linalg.norm(rig.centers_world[k])
    s = score_cameras(rig, hands(offset_mm=300.0 * toward_k, separation_mm=40.0))
    assert s.size[k] == pytest.approx(s.size.max(), rel=0.05)
