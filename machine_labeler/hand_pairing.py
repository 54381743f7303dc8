"""Which detected hand is which, across views and in 3D.

On views with both hands the detector may put the right hand's channels on the left hand:
telling two capsule-like hands apart in one picture is hard, and the ``either`` training
mode (``LabelerConfig.two_hand_channels``) leaves the order of the two hands in such crops
to the network on purpose. Before lifting, the views are therefore *paired*:

1. :func:`pair_views`: a reference view (the most confident one with both hands) is paired
   with every other view v twice, v's channels as they are and with the hands swapped; each
   pairing is triangulated from the two views (weighted DLT) and reprojected into all views,
   where each joint is scored against the nearer of that view's two hand candidates (views
   are not paired yet), the error clipped so that a wrong detection costs a bounded amount.
   The pairing with the smaller total wins: v is swapped or not.
2. after RANSAC lifting, :func:`chirality` tells right from left in 3D: with
   ``n = (index MCP - wrist) x (pinky MCP - wrist)`` in right-hand joint order, a right
   hand's thumb tip and finger tips lie on the +n side, a left hand's on the -n side (the
   palm side is where fingers flex and the thumb opposes). The rule is checked on the
   project's own human labels (:func:`chirality_agreement`) before it is used.
"""

from __future__ import annotations

import numpy as np

from annotator import skeleton
from annotator.machine_labels.hand_geometry import chirality, chirality_agreement
from triangulation import CameraRig, project, triangulate

__all__ = ["chirality", "chirality_agreement", "duplicate_hand", "hands_in_order", "pair_views"]

_H = skeleton.JOINTS_PER_HAND
_FLIP = np.asarray(skeleton.FLIP_INDEX)
_PARENT = skeleton.PARENTS[:_H]


def pair_views(
    uv_px: np.ndarray,
    weights: np.ndarray,
    rig: CameraRig,
    clip_px: float,
    min_joints: int = 4,
) -> np.ndarray:
    """(C,) bool: the views whose two hands' channels should be swapped to agree with the
    reference view (module docstring, step 1).

    Args:
        uv_px: (C, J, 2) detections on the rig's camera axis (NaN: none).
        weights: (C, J) confidences, 0 where unusable.
        clip_px: reprojection errors are clipped here (a few RANSAC thresholds).
        min_joints: joints per hand a view needs to count as showing that hand.
    """
    C = len(rig)
    w = np.where(np.isfinite(uv_px).all(-1), weights, 0.0)
    swap = np.zeros(C, bool)
    n_per_hand = np.stack([(w[:, skeleton.hand_joints(h)] > 0).sum(1) for h in skeleton.HANDS])
    both = (n_per_hand >= min_joints).all(0)
    if both.sum() < 2:
        return swap
    r = int(np.argmax(np.where(both, w.sum(1), -1.0)))
    others = np.nonzero((w > 0).any(1) & (np.arange(C) != r))[0]
    if others.size == 0:
        return swap
    # (2 pairings, V, J, C, 2): only views r and v hold observations
    obs = np.full((2, others.size, skeleton.NUM_JOINTS, C, 2), np.nan)
    wts = np.zeros((2, others.size, skeleton.NUM_JOINTS, C))
    obs[:, :, :, r] = uv_px[r]
    wts[:, :, :, r] = w[r]
    for k, flip in enumerate((None, _FLIP)):
        uv_v = uv_px[others] if flip is None else uv_px[others][:, flip]
        w_v = w[others] if flip is None else w[others][:, flip]
        obs[k, np.arange(others.size), :, others] = uv_v
        wts[k, np.arange(others.size), :, others] = w_v
    pts = triangulate(obs, rig, weights=wts, reproj_error=False).points_world_mm  # (2,V,J,3)
    proj = project(pts, rig)  # (2, V, J, C, 2)
    cand = np.moveaxis(uv_px, 0, 1)  # (J, C, 2): each view's candidate for joint j
    pu, pv = proj[..., 0], proj[..., 1]
    d_own = np.hypot(pu - cand[..., 0], pv - cand[..., 1])
    d_other = np.hypot(pu - cand[_FLIP, :, 0], pv - cand[_FLIP, :, 1])
    d = np.fmin(d_own, d_other)  # the nearer of the view's two candidates
    seen = np.moveaxis(np.fmax(w, w[:, _FLIP]) > 0, 0, 1)  # (J, C)
    cost = np.where(seen & np.isfinite(d), np.minimum(d, clip_px), clip_px)
    cost = np.where(np.isfinite(pts).all(-1)[..., None], cost, clip_px)
    total = cost.sum(axis=(2, 3))  # (2, V)
    swap[others] = total[1] < total[0]
    return swap


def hands_in_order(joints_world_mm: np.ndarray, present: np.ndarray) -> bool:
    """False when the lifted hands (J, 3) sit in the wrong slots by chirality (step 2): with
    both present, the left slot's hand is the more right-handed one; with one present, its
    chirality has the other hand's sign."""
    right = chirality(joints_world_mm[skeleton.hand_joints(skeleton.HANDS[0])])
    left = chirality(joints_world_mm[skeleton.hand_joints(skeleton.HANDS[1])])
    if present.all():
        if not (np.isfinite(right) and np.isfinite(left)):
            return True
        return right >= left
    if present[0]:
        return not right < 0
    if present[1]:
        return not left > 0
    return True


def duplicate_hand(
    joints_world_mm: np.ndarray, n_views: np.ndarray, present: np.ndarray,
    max_distance_mm: float = 30.0,
) -> int:
    """The hand (0 right, 1 left) to drop as a copy of the other, or -1.

    A detector that fires both hands' channels on the one hand in view gives a second "hand"
    on top of the first. Two present hands are taken for one when their corresponding joints
    lie within ``max_distance_mm`` of each other (median over joints) and their chiralities
    do not say right and left; the copy with fewer inlier views goes. Real hands held
    palm to palm are about 33 mm apart and have opposite chiralities.
    """
    if not present.all():
        return -1
    r, l_ = skeleton.hand_joints(skeleton.HANDS[0]), skeleton.hand_joints(skeleton.HANDS[1])
    d = np.linalg.norm(joints_world_mm[r] - joints_world_mm[l_], axis=1)
    if not np.isfinite(d).any() or np.nanmedian(d) >= max_distance_mm:
        return -1
    cr, cl = chirality(joints_world_mm[r]), chirality(joints_world_mm[l_])
    if np.isfinite(cr) and np.isfinite(cl) and cr > 0 > cl:
        return -1
    return int(n_views[r].sum() >= n_views[l_].sum())
