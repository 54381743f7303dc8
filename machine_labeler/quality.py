"""How far to trust each machine-labelled joint: a score from the evidence of its views.

A lifted joint is only as good as the detections behind it, and the failures that matter
are shared by the views (the detector puts a joint in the same wrong place in most views),
so no single number tells good from bad. :func:`joint_evidence` gathers, per joint, what the
stored results say about it (everything is recomputed from the 3D joints and the per-view
detections, so the labeller and an offline check of ``machine/detections.h5`` agree):

- ``support``: the confidence-weighted share of the views with a usable detection whose
  detection lies within the RANSAC threshold of the lifted joint's reprojection. A joint the
  views agree on has support near 1; one that RANSAC built from a few views out of many
  disagreeing ones has little;
- ``inliers``: how many views agree (a count: two agreeing views prove less than twenty);
- ``error_px``: the confidence-weighted mean reprojection error over those views;
- ``confidence``: the mean detector confidence of those views (a flat, unsure heatmap
  decodes to a point pulled towards the crop's middle);
- ``bone``: the largest relative deviation of a bone at the joint from the subject's
  bone length measured on the human labels (|log(length / reference)|, 0 when unknown);
- ``hand``: whether the joint's hand is consistent (present, and its chirality agrees
  with its slot where the human labels confirm the rule).

:func:`quality_score` folds them into one number in [0, 1] (1: every sign is good); its
weights are :class:`ScoreWeights`, chosen on the synthetic studio's ground truth
(``bench/labeler_accuracy.py --qc``) so that the score ranks joints by their true error.
Joints below ``LabelingSettings.flag_below`` go to the app's review queue. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotator import skeleton
from triangulation import CameraRig, project

__all__ = ["JointEvidence", "ScoreWeights", "joint_evidence", "quality_score", "bone_deviation"]

_BONE_CHILD = np.nonzero(skeleton.PARENTS >= 0)[0]
_BONE_PARENT = skeleton.PARENTS[_BONE_CHILD]
_HAND_OF = np.array([skeleton.HANDS.index(h) for h in skeleton.HAND_OF_JOINT], np.int64)


@dataclass(frozen=True)
class JointEvidence:
    """Per joint (J,) arrays of the evidence for one instant (module docstring)."""

    support: np.ndarray
    inliers: np.ndarray
    error_px: np.ndarray
    confidence: np.ndarray
    bone: np.ndarray
    hand: np.ndarray  # bool


@dataclass(frozen=True)
class ScoreWeights:
    """The score is ``exp(-(sum of penalties))``; each penalty is 0 for perfect evidence."""

    support: float = 3.0  # x (1 - support)
    inliers_full: float = 8.0  # inlier views at which the count stops adding confidence
    inliers: float = 1.0  # x (1 - min(inliers / inliers_full, 1))
    error: float = 0.5  # x error_px / threshold_px
    confidence: float = 1.0  # x (1 - confidence / confidence_full), clipped at 0
    confidence_full: float = 0.5
    bone: float = 6.0  # x bone deviation (|log ratio|)
    hand: float = 3.0  # an inconsistent hand


def bone_deviation(joints_world_mm: np.ndarray, reference_mm: np.ndarray | None) -> np.ndarray:
    """(..., J) the largest |log(bone length / reference)| over the bones at each joint (0
    where no bone at the joint has both ends and a reference)."""
    joints = np.asarray(joints_world_mm, np.float64)
    out = np.zeros(joints.shape[:-1])
    if reference_mm is None:
        return out
    length = np.linalg.norm(joints[..., _BONE_CHILD, :] - joints[..., _BONE_PARENT, :], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dev = np.abs(np.log(length / np.asarray(reference_mm, np.float64)))
    dev = np.where(np.isfinite(dev), dev, 0.0)
    for b, (child, parent) in enumerate(zip(_BONE_CHILD, _BONE_PARENT, strict=True)):
        out[..., child] = np.maximum(out[..., child], dev[..., b])
        out[..., parent] = np.maximum(out[..., parent], dev[..., b])
    return out


def joint_evidence(
    joints_world_mm: np.ndarray,
    uv_px: np.ndarray,
    weights: np.ndarray,
    rig: CameraRig,
    threshold_px: float,
    bones_mm: np.ndarray | None = None,
    hand_ok: np.ndarray | None = None,
) -> JointEvidence:
    """The evidence of one instant's joints (module docstring).

    Args:
        joints_world_mm: (J, 3) lifted joints (NaN: none).
        uv_px: (C, J, 2) per-view detections on the rig's camera axis (NaN: none).
        weights: (C, J) usable confidences (0: not used).
        threshold_px: the RANSAC inlier threshold the joints were lifted with.
        bones_mm: (B,) reference bone lengths (children of ``skeleton.PARENTS``) or None.
        hand_ok: (2,) bool per hand (skeleton.HANDS order); None: both consistent.
    """
    J = joints_world_mm.shape[0]
    w = np.where(np.isfinite(uv_px).all(-1), np.nan_to_num(weights), 0.0)  # (C, J)
    proj = np.swapaxes(project(joints_world_mm, rig), 0, 1)  # (C, J, 2)
    r = np.linalg.norm(proj - uv_px, axis=-1)
    agree = (w > 0) & np.isfinite(r) & (r <= threshold_px)
    wa = np.where(agree, w, 0.0)
    total = w.sum(0)
    agreeing = wa.sum(0)
    n_in = agree.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        support = np.where(total > 0, agreeing / total, 0.0)
        error = np.where(agreeing > 0, (np.where(agree, r, 0.0) * wa).sum(0) / agreeing, np.nan)
        conf = np.where(n_in > 0, wa.sum(0) / np.maximum(n_in, 1), 0.0)
    finite = np.isfinite(joints_world_mm).all(-1)
    hand = np.ones(J, bool) if hand_ok is None else np.asarray(hand_ok, bool)[_HAND_OF]
    return JointEvidence(
        support=np.where(finite, support, 0.0),
        inliers=np.where(finite, n_in, 0),
        error_px=np.where(finite, error, np.nan),
        confidence=np.where(finite, conf, 0.0),
        bone=bone_deviation(joints_world_mm, bones_mm),
        hand=hand & finite,
    )


def quality_score(
    ev: JointEvidence, threshold_px: float, weights: ScoreWeights = ScoreWeights()
) -> np.ndarray:
    """(J,) score in [0, 1] per joint (0 for a joint with no 3D point)."""
    w = weights
    pen = w.support * (1.0 - np.clip(ev.support, 0.0, 1.0))
    pen = pen + w.inliers * (1.0 - np.minimum(ev.inliers / w.inliers_full, 1.0))
    pen = pen + w.error * np.nan_to_num(ev.error_px / threshold_px, nan=1.0)
    pen = pen + w.confidence * np.clip(1.0 - ev.confidence / w.confidence_full, 0.0, 1.0)
    pen = pen + w.bone * ev.bone
    pen = pen + w.hand * (~ev.hand)
    return np.where(ev.inliers > 0, np.exp(-pen), 0.0)
