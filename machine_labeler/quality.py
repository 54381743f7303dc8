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
form and weights are :class:`ScoreWeights`, chosen on the synthetic studio's ground truth
(``bench/qc_score.py``) so that the score ranks joints by their true error.
Joints below ``LabelingSettings.flag_below`` go to the app's review queue. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotator import skeleton
from annotator.machine_labels.hand_geometry import bone_deviation
from triangulation import CameraRig, project

__all__ = ["JointEvidence", "ScoreWeights", "joint_evidence", "quality_score", "bone_deviation"]



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
    """``score = support * min(inliers / inliers_full, 1) ** inliers_power
    * exp(-bone * bone_deviation) * (hand_factor if the hand is inconsistent)``.

    Chosen on the full demo's capture (80 cameras, 120 machine instants, cpu-small,
    ``bench/qc_score.py``): support alone ranks joints by their true error best (AUC 0.80
    for "within 10 mm"), the inlier count and bone lengths add a little; the reprojection
    error and the detector's confidence rank them the wrong way round there (AUC 0.36 and
    0.44: joints seen by many views carry more error yet are better), so they are left out.
    """

    inliers_full: float = 8.0  # inlier views at which the count stops adding confidence
    inliers_power: float = 0.5
    bone: float = 0.5  # per unit of |log(length / reference)|
    hand_factor: float = 0.5  # an inconsistent hand


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
    hand = np.ones(J, bool) if hand_ok is None else np.asarray(hand_ok, bool)[skeleton.HAND_INDEX]
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
    """(J,) score in [0, 1] per joint (0 for a joint with no 3D point); ``threshold_px``
    (the lifting's RANSAC threshold) is part of the evidence already (``support``)."""
    del threshold_px
    w = weights
    count = np.minimum(ev.inliers / w.inliers_full, 1.0) ** w.inliers_power
    score = np.clip(ev.support, 0.0, 1.0) * count * np.exp(-w.bone * ev.bone)
    score = np.where(ev.hand, score, w.hand_factor * score)
    return np.where(ev.inliers > 0, score, 0.0)
