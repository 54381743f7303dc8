"""Pairing the two hands across views, chirality, and the two-hand permutation loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from annotator import skeleton
from annotator.store import ProjectStore
from machine_labeler.config import get_config
from machine_labeler.hand_pairing import (
    chirality,
    chirality_agreement,
    duplicate_hand,
    hands_in_order,
    pair_views,
)
from machine_labeler.train import detector_loss
from tests.machine_labeler.labeling_support import make_synth

FLIP = np.asarray(skeleton.FLIP_INDEX)
RIGHT = skeleton.hand_joints(skeleton.HANDS[0])
LEFT = skeleton.hand_joints(skeleton.HANDS[1])


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    """Ground truth of every instant of a 16-camera capture, and its rig."""
    path = make_synth(tmp_path_factory.mktemp("pairing") / "p", cameras=16, instants=12,
                      subjects=1)
    with ProjectStore.open(path) as store:
        gts = [store.ground_truth(i) for i in range(store.num_instants)]
        rig = store.rig(store.captures[0])
    return gts, rig


def test_chirality_tells_right_from_left_and_flips_with_a_mirror(truth):
    gts, _ = truth
    hands = []
    for g in gts:
        for h, name in enumerate(skeleton.HANDS):
            if g.hand_present[h]:
                hands.append((name, g.joints_world_mm[skeleton.hand_joints(name)]))
    agree, n = chirality_agreement(hands)
    assert n == len(hands) > 5 and agree == 1.0
    name, joints = hands[0]
    mirrored = joints * np.array([-1.0, 1.0, 1.0])
    assert np.sign(chirality(mirrored)) == -np.sign(chirality(joints))
    assert np.isnan(chirality(np.full((21, 3), np.nan)))


def test_an_open_hand_with_fingers_bent_back_keeps_its_side_by_the_thumb(truth):
    """An open hand whose fingers are bent slightly back (their tips a little behind the palm
    plane) and whose thumb tip lies in that plane: the tips alone point the wrong way, the
    thumb's IP and MCP, on the palm side, keep the hand a right hand (and its mirror a left
    one)."""
    gts, _ = truth
    g = next(g for g in gts if g.hand_present[0])
    hand = g.joints_world_mm[RIGHT].copy()
    wrist, index_mcp, pinky_mcp = hand[20], hand[7], hand[19]
    n = np.cross(index_mcp - wrist, pinky_mcp - wrist)
    n /= np.linalg.norm(n)
    thumb_palm_side = [(hand[j] - wrist) @ n for j in (1, 2)]
    for chain in ((4, 5, 6, 7), (8, 9, 10, 11), (12, 13, 14, 15), (16, 17, 18, 19)):
        mcp = hand[chain[-1]]
        for k, j in enumerate(chain[:-1]):  # straighten onto the palm plane, then bend back
            along = hand[j] - mcp - ((hand[j] - mcp) @ n) * n
            hand[j] = mcp + along - (0.15 * (3 - k) / 3 + 0.05) * np.linalg.norm(along) * n
    hand[0] -= ((hand[0] - wrist) @ n) * n  # the thumb tip in the palm plane
    tips_only = np.mean([(hand[t] - hand[m]) @ n / np.linalg.norm(hand[t] - hand[m])
                         for t, m in ((4, 7), (8, 11), (12, 15), (16, 19))])
    assert tips_only < 0 and min(thumb_palm_side) > 0  # the case the thumb chain decides
    assert chirality(hand) > 0
    assert chirality(hand * np.array([-1.0, 1.0, 1.0])) < 0


def test_hands_in_order_spots_hands_in_each_others_slots(truth):
    gts, _ = truth
    g = next(g for g in gts if g.hand_present.all())
    joints = g.joints_world_mm
    assert hands_in_order(joints, np.array([True, True]))
    assert not hands_in_order(joints[FLIP], np.array([True, True]))
    # one hand: its own chirality must match the slot it sits in
    assert hands_in_order(joints, np.array([True, False]))
    assert hands_in_order(joints, np.array([False, True]))
    assert not hands_in_order(joints[FLIP], np.array([True, False]))
    assert not hands_in_order(joints[FLIP], np.array([False, True]))
    assert hands_in_order(np.full_like(joints, np.nan), np.array([True, False]))


def test_pair_views_undoes_random_hand_swaps(truth):
    gts, rig = truth
    rng = np.random.default_rng(3)
    tested = 0
    for g in gts:
        if not g.hand_present.all():
            continue
        uv = g.uv_px.astype(np.float64) + rng.normal(0, 1.5, g.uv_px.shape)
        conf = np.where(np.isfinite(uv).all(-1), 0.9, 0.0)
        swapped = rng.random(len(rig)) < 0.5
        uv_in = np.where(swapped[:, None, None], uv[:, FLIP], uv)
        conf_in = np.where(swapped[:, None], conf[:, FLIP], conf)
        got = pair_views(uv_in, conf_in, rig, clip_px=16.0)
        # after pairing every view agrees with the reference view, whichever way that was
        has = (conf > 0).any(1)
        net = (got ^ swapped)[has]
        assert net.all() or not net.any()
        tested += 1
    assert tested >= 2


def test_pair_views_leaves_single_hand_views_alone():
    from tests._support.rigs import dome_rig

    rig = dome_rig(6)
    uv = np.full((6, skeleton.NUM_JOINTS, 2), np.nan)
    uv[:, RIGHT] = 100.0
    conf = np.where(np.isfinite(uv).all(-1), 1.0, 0.0)
    assert not pair_views(uv, conf, rig, clip_px=10.0).any()


def _crops(both_hands: bool, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    B, J, h = 3, skeleton.NUM_JOINTS, 12
    target = torch.zeros(B, J, h, h)
    idx = torch.randint(0, h, (B, J, 2), generator=g)
    for b in range(B):
        for j in range(J):
            target[b, j, idx[b, j, 0], idx[b, j, 1]] = 1.0
    weight = torch.ones(B, J)
    if not both_hands:
        weight[:, LEFT] = 0.0
        target[:, LEFT] = 0.0
    return target, weight


def test_either_loss_accepts_the_hands_in_either_channel_set_only_for_two_hand_crops():
    either = get_config("cpu-small").replace(two_hand_channels="either")
    channels = get_config("cpu-small").replace(two_hand_channels="channels")
    flip = torch.from_numpy(FLIP.copy())
    for both in (True, False):
        target, weight = _crops(both)
        logits = torch.where(target > 0, 8.0, -8.0)
        exact = detector_loss(target, logits, target, weight, either)
        swapped = detector_loss(target[:, flip], logits[:, flip], target, weight, either)
        if both:
            assert float(swapped) == pytest.approx(float(exact), abs=1e-6)
        else:
            assert float(swapped) > float(exact) + 1e-3
        strict = detector_loss(target[:, flip], logits[:, flip], target, weight, channels)
        assert float(strict) > float(exact) + 1e-3


def test_duplicate_hand_drops_a_copy_but_not_a_real_second_hand(truth):
    gts, _ = truth
    both = next(g for g in gts if g.hand_present.all())
    assert duplicate_hand(both.joints_world_mm, np.full(42, 10), np.array([True, True])) == -1
    rng = np.random.default_rng(0)
    one = next(g for g in gts if g.hand_present.sum() == 1)
    h = int(np.argmax(one.hand_present))
    src = skeleton.hand_joints(skeleton.HANDS[h])
    dst = skeleton.hand_joints(skeleton.HANDS[1 - h])
    joints = np.full((42, 3), np.nan)
    joints[src] = one.joints_world_mm[src]
    joints[dst] = one.joints_world_mm[src] + rng.normal(0, 5.0, (21, 3))  # the ghost copy
    views = np.full(42, 20)
    views[dst] = 7  # the copy has fewer inlier views: it goes
    present = np.array([True, True])
    assert duplicate_hand(joints, views, present) == 1 - h
    views[dst], views[src] = 20, 7
    assert duplicate_hand(joints, views, present) == h
    # a hand and its mirror image close together (palms touching) are two real hands
    # (reflected through the palm's own plane, so the joints stay within the 30 mm)
    hand = one.joints_world_mm[src]
    centre = hand.mean(axis=0)
    _, _, vt = np.linalg.svd(hand - centre)
    n = vt[2]
    mirror = joints.copy()
    mirror[dst] = hand - 2.0 * ((hand - centre) @ n)[:, None] * n
    assert np.median(np.linalg.norm(mirror[dst] - hand, axis=1)) < 30.0
    assert np.sign(chirality(mirror[dst])) == -np.sign(chirality(hand))
    assert duplicate_hand(mirror, views, present) == -1
    # one hand present: nothing to drop
    assert duplicate_hand(joints, views, np.array([True, False])) == -1
    joints[dst] += 200.0  # far apart: two hands
    assert duplicate_hand(joints, views, present) == -1
