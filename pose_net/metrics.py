"""InterHand2.6M evaluation metrics with the public evaluation code's semantics.

``interhand_metrics`` reproduces ``Dataset.evaluate`` of the public InterNet code
(data/InterHand2.6M/dataset.py), vectorised:

- Each hand is aligned on its own root (wrist): joints of the right hand minus the right
  wrist, joints of the left hand minus the left wrist, in prediction and ground truth alike.
- A joint counts only where it is valid *and* its hand's wrist is valid (the public loader
  zeroes a hand's validity when its wrist is invalid).
- Per joint: the mean Euclidean error over the samples where it counts, separately over
  single-hand samples (hand type "right" or "left") and interacting samples; per joint over
  both groups together for "all". MPJPE = the mean of the per-joint means.
- MRRPE: over interacting samples with both wrists valid, ‖pred_rel − gt_rel‖ where
  ``gt_rel`` = left wrist − right wrist (camera mm) and ``pred_rel`` is ``pred_rel_root_mm``
  when given, else the same difference of ``pred_cam_mm``'s wrists.
- Handedness accuracy: over samples with a valid hand type; a sample is right when both
  probabilities fall on the correct side of 0.5 (right: p_r > 0.5 and p_l < 0.5; left: the
  reverse; interacting: both > 0.5); a probability of exactly 0.5 is never correct. Beside
  the overall figure, the accuracy over each hand type's samples (``handedness_by_type``),
  and the share of two-hand samples (``interacting_share``): a network that answers "both
  hands" for every crop scores exactly that share.

Where a joint has no counted sample in a group, it is left out of that group's MPJPE (the
public code would give NaN for the whole group); its per-joint entry is NaN. A metric with no
sample at all is NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from annotator.skeleton import HANDS, JOINTS_PER_HAND, LEFT_ROOT, NUM_JOINTS, RIGHT_ROOT, hand_slice

__all__ = ["InterHandMetrics", "interhand_metrics", "hand_type_codes", "HAND_TYPES"]

#: Hand-type names of the public annotations; their codes are the indices.
HAND_TYPES: tuple[str, ...] = ("right", "left", "interacting")


@dataclass(frozen=True)
class InterHandMetrics:
    """Results of :func:`interhand_metrics` (errors in mm, accuracy in [0, 1]).

    per_joint*: (42,) per-joint mean errors (NaN where the joint has no counted sample).
    n_*: the numbers of samples behind each figure.
    """

    mpjpe_all: float
    mpjpe_single: float
    mpjpe_interacting: float
    mrrpe: float
    handedness_accuracy: float
    per_joint: np.ndarray
    per_joint_single: np.ndarray
    per_joint_interacting: np.ndarray
    n_single: int
    n_interacting: int
    n_mrrpe: int
    n_handedness: int
    #: accuracy over the samples of each hand type ("right", "left", "interacting"; NaN for a
    #: type without samples)
    handedness_by_type: dict[str, float] | None = None
    #: share of interacting samples among those with a valid hand type
    interacting_share: float = float("nan")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: floats (NaN as None) and per-joint lists."""

        def f(x: float) -> float | None:
            return None if not np.isfinite(x) else float(x)

        return {
            "mpjpe_all": f(self.mpjpe_all),
            "mpjpe_single": f(self.mpjpe_single),
            "mpjpe_interacting": f(self.mpjpe_interacting),
            "mrrpe": f(self.mrrpe),
            "handedness_accuracy": f(self.handedness_accuracy),
            "per_joint": [f(v) for v in self.per_joint],
            "per_joint_single": [f(v) for v in self.per_joint_single],
            "per_joint_interacting": [f(v) for v in self.per_joint_interacting],
            "n_single": self.n_single,
            "n_interacting": self.n_interacting,
            "n_mrrpe": self.n_mrrpe,
            "n_handedness": self.n_handedness,
            "handedness_by_type": {k: f(v) for k, v in (self.handedness_by_type or {}).items()},
            "interacting_share": f(self.interacting_share),
        }


def hand_type_codes(hand_type: Sequence[str] | np.ndarray) -> np.ndarray:
    """(N,) codes 0 right, 1 left, 2 interacting from names, codes, or (N, 2) presence flags."""
    arr = np.asarray(hand_type)
    if arr.ndim == 2 and arr.shape[1] == 2:
        r, lf = arr[:, 0] > 0.5, arr[:, 1] > 0.5
        if np.any(~r & ~lf):
            raise ValueError("hand_type presence rows must have at least one hand present")
        return np.where(r & lf, 2, np.where(r, 0, 1)).astype(np.int64)
    if arr.ndim != 1:
        raise ValueError(f"hand_type must be (N,) names/codes or (N, 2) flags, got {arr.shape}")
    if arr.dtype.kind in "iu":
        if np.any((arr < 0) | (arr > 2)):
            raise ValueError("hand_type codes must be 0 (right), 1 (left) or 2 (interacting)")
        return arr.astype(np.int64)
    codes = np.empty(arr.shape[0], np.int64)
    for i, name in enumerate(arr.tolist()):
        if name not in HAND_TYPES:
            raise ValueError(f"unknown hand type {name!r} at sample {i}; expected {HAND_TYPES}")
        codes[i] = HAND_TYPES.index(name)
    return codes


def handedness_correct(probabilities: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(N,) bool: the (N, 2) [right, left] probabilities name the hand type of ``codes``
    (:func:`hand_type_codes`): right only above 0.5 and left below for 0, the other way
    round for 1, both above for 2 (exactly 0.5 is never right)."""
    p = np.asarray(probabilities, dtype=np.float64)
    r_hi, r_lo = p[:, 0] > 0.5, p[:, 0] < 0.5
    l_hi, l_lo = p[:, 1] > 0.5, p[:, 1] < 0.5
    return np.where(codes == 0, r_hi & l_lo, np.where(codes == 1, r_lo & l_hi, r_hi & l_hi))


def _group_means(err: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """(N, J) errors and mask -> (J,) mean over counted samples (NaN where none)."""
    n = counted.sum(axis=0)
    s = np.where(counted, err, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def _mean_present(per_joint: np.ndarray) -> float:
    ok = np.isfinite(per_joint)
    return float(per_joint[ok].mean()) if ok.any() else float("nan")


def interhand_metrics(pred_cam_mm: np.ndarray, gt_cam_mm: np.ndarray, joint_valid: np.ndarray,
                      hand_type: Sequence[str] | np.ndarray, handedness: np.ndarray | None = None,
                      hand_type_valid: np.ndarray | None = None,
                      pred_rel_root_mm: np.ndarray | None = None) -> InterHandMetrics:
    """MPJPE (all / single / interacting), MRRPE and handedness accuracy (module docstring).

    pred_cam_mm, gt_cam_mm: (N, 42, 3) camera-space joints, mm (only the shape of each hand
    relative to its wrist matters for MPJPE). joint_valid: (N, 42). hand_type: (N,) names
    "right" / "left" / "interacting", codes 0 / 1 / 2, or (N, 2) presence flags.
    handedness: (N, 2) predicted probabilities [right, left]. hand_type_valid: (N,) (default
    all valid). pred_rel_root_mm: (N, 3) predicted left wrist minus right wrist, camera mm.
    """
    pred = np.asarray(pred_cam_mm, dtype=np.float64)
    gt = np.asarray(gt_cam_mm, dtype=np.float64)
    if pred.ndim != 3 or pred.shape[1:] != (NUM_JOINTS, 3) or gt.shape != pred.shape:
        raise ValueError(f"pred_cam_mm and gt_cam_mm must both be (N, {NUM_JOINTS}, 3), got "
                         f"{pred.shape} and {gt.shape}")
    n = pred.shape[0]
    valid = np.asarray(joint_valid).astype(bool)
    if valid.shape != (n, NUM_JOINTS):
        raise ValueError(f"joint_valid must be ({n}, {NUM_JOINTS}), got {valid.shape}")
    codes = hand_type_codes(hand_type)
    if codes.shape != (n,):
        raise ValueError(f"hand_type must have {n} entries, got {codes.shape[0]}")

    counted = valid.copy()
    pred_rel = np.empty_like(pred)
    gt_rel = np.empty_like(gt)
    for hand in HANDS:
        s = hand_slice(hand)
        root = s.start + JOINTS_PER_HAND - 1
        counted[:, s] &= valid[:, root, None]
        pred_rel[:, s] = pred[:, s] - pred[:, root, None]
        gt_rel[:, s] = gt[:, s] - gt[:, root, None]
    err = np.linalg.norm(pred_rel - gt_rel, axis=-1)
    err = np.where(counted, err, 0.0)  # NaN/inf of uncounted joints must not leak
    single = codes < 2
    inter = codes == 2
    pj_single = _group_means(err, counted & single[:, None])
    pj_inter = _group_means(err, counted & inter[:, None])
    pj_all = _group_means(err, counted)

    both_roots = inter & valid[:, RIGHT_ROOT] & valid[:, LEFT_ROOT]
    gt_rr = gt[:, LEFT_ROOT] - gt[:, RIGHT_ROOT]
    if pred_rel_root_mm is not None:
        prr = np.asarray(pred_rel_root_mm, dtype=np.float64)
        if prr.shape != (n, 3):
            raise ValueError(f"pred_rel_root_mm must be ({n}, 3), got {prr.shape}")
    else:
        prr = pred[:, LEFT_ROOT] - pred[:, RIGHT_ROOT]
    rr_err = np.linalg.norm(prr[both_roots] - gt_rr[both_roots], axis=-1)
    mrrpe = float(rr_err.mean()) if rr_err.size else float("nan")

    acc, n_hand, share = float("nan"), 0, float("nan")
    by_type: dict[str, float] | None = None
    if handedness is not None:
        by_type = {}
        p = np.asarray(handedness, dtype=np.float64)
        if p.shape != (n, 2):
            raise ValueError(f"handedness must be ({n}, 2), got {p.shape}")
        htv = (np.ones(n, bool) if hand_type_valid is None
               else np.asarray(hand_type_valid).astype(bool).reshape(-1))
        if htv.shape != (n,):
            raise ValueError(f"hand_type_valid must be ({n},), got {htv.shape}")
        correct = handedness_correct(p, codes)
        n_hand = int(htv.sum())
        if n_hand:
            acc = float((correct & htv).sum() / n_hand)
            share = float((htv & (codes == 2)).sum() / n_hand)
        for k, name in enumerate(HAND_TYPES):
            mine = htv & (codes == k)
            by_type[name] = float(correct[mine].mean()) if mine.any() else float("nan")

    return InterHandMetrics(
        mpjpe_all=_mean_present(pj_all),
        mpjpe_single=_mean_present(pj_single),
        mpjpe_interacting=_mean_present(pj_inter),
        mrrpe=mrrpe,
        handedness_accuracy=acc,
        per_joint=pj_all,
        per_joint_single=pj_single,
        per_joint_interacting=pj_inter,
        n_single=int(single.sum()),
        n_interacting=int(inter.sum()),
        n_mrrpe=int(both_roots.sum()),
        n_handedness=n_hand,
        handedness_by_type=by_type,
        interacting_share=share,
    )
