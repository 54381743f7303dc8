"""Which merged machine joints are good enough to train the next detector on.

Multiview bootstrapping (Simon et al., *Hand keypoint detection in single images using
multiview bootstrapping*, CVPR 2017; InterHand2.6M's machine annotation loop): a detector
trained on the human labels labels the other instants, RANSAC lifts its detections to 3D,
and the 3D joints that many views agree on become training labels of the next detector,
projected into every camera, including the views where the detector failed.

:func:`select_machine_joints` applies the rule (:class:`SelectionRule`, whose thresholds
are fields of the labeller's config, ``machine_labeler.config.LabelerConfig``) to the
merged detections (``machine/detections.h5``,
:func:`annotator.machine_labels.merge.read_detections`). A machine joint of an instant is kept when

1. the instant has no human (or imported) 3D joint: human instants always win;
2. it is finite, has at least ``min_inliers`` RANSAC inlier views, a mean inlier
   reprojection error of at most ``max_error_px`` and a quality score
   (``machine_labeler.quality``: mostly the share of views that agree with it) of at least
   ``min_score`` (detections merged before scores existed skip this test);
3. every bone touching it (``skeleton.PARENTS``, child -> parent) whose two ends are finite
   is within ``±bone_tolerance`` (relative) of that subject's median bone length over the
   human labels (``store.instant_attr("subject")`` where the project has it, else all human
   labels pooled); a bone whose reference is unknown does not reject;
4. its hand is consistent: the labeller found the hand present; the two hands are not one
   hand seen twice (wrists closer than ``duplicate_mm`` reject both, unless their
   chiralities say right and left: real hands held palm to palm); and where the chirality
   rule holds on the project's own human labels (at least ``chirality_min_agreement`` of
   at least ``chirality_min_hands`` hands,
   :func:`annotator.machine_labels.hand_geometry.chirality_agreement`) the hand's chirality agrees
   with its slot (> 0 in the right slot, < 0 in the left).

:class:`Selection` keeps the per-instant masks, the reason bits of every rejection, and
scores the kept joints against ground truth where the project has it
(:meth:`Selection.precision_5mm`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from annotator import skeleton
from annotator.machine_labels.hand_geometry import (
    BONE_CHILD,
    BONE_PARENT,
    SubjectBones,
    chirality,
    chirality_agreement,
    human_hands,
    slots_contradicted,
)

__all__ = [
    "SelectionRule",
    "Selection",
    "select_machine_joints",
    "REJECT_REASONS",
]

_J = skeleton.NUM_JOINTS
_RIGHT = skeleton.hand_slice(skeleton.HANDS[0])
_LEFT = skeleton.hand_slice(skeleton.HANDS[1])

#: Rejection bits of :attr:`Selection.rejected` -> what they mean.
REJECT_NOT_FINITE = 1
REJECT_FEW_INLIERS = 2
REJECT_HIGH_ERROR = 4
REJECT_BONE_LENGTH = 8
REJECT_HAND_ABSENT = 16
REJECT_DUPLICATE_HAND = 32
REJECT_CHIRALITY = 64
REJECT_LOW_SCORE = 128
REJECT_REASONS: dict[int, str] = {
    REJECT_NOT_FINITE: "not triangulated",
    REJECT_FEW_INLIERS: "few inlier views",
    REJECT_HIGH_ERROR: "large reprojection error",
    REJECT_BONE_LENGTH: "bone length off the subject's",
    REJECT_HAND_ABSENT: "hand not found",
    REJECT_DUPLICATE_HAND: "duplicate hand",
    REJECT_CHIRALITY: "chirality disagrees with the slot",
    REJECT_LOW_SCORE: "low quality score",
}


@dataclass(frozen=True)
class SelectionRule:
    """Thresholds of the rule (module docstring); :meth:`from_config` reads them from a
    labeller config."""

    min_inliers: int = 4
    max_error_px: float = 6.0
    bone_tolerance: float = 0.4
    min_score: float = 0.2  # the labeller's quality score (shards written before it: no test)
    duplicate_mm: float = 30.0
    chirality_min_agreement: float = 0.9
    chirality_min_hands: int = 4

    def __post_init__(self) -> None:
        if self.min_inliers < 2:
            raise ValueError(f"selection: min_inliers must be >= 2, got {self.min_inliers}")
        if not (self.max_error_px > 0 and self.bone_tolerance > 0 and self.duplicate_mm >= 0):
            raise ValueError("selection: max_error_px and bone_tolerance must be > 0, "
                             "duplicate_mm >= 0")

    @classmethod
    def from_config(cls, config) -> SelectionRule:  # noqa: ANN001 (a LabelerConfig)
        return cls(
            min_inliers=config.select_min_inliers,
            max_error_px=config.select_max_error_px,
            bone_tolerance=config.select_bone_tolerance,
            min_score=config.select_min_score,
            duplicate_mm=config.select_duplicate_mm,
        )


@dataclass(frozen=True)
class Selection:
    """The rule's verdict on M machine-labelled instants (human instants left out).

    instants: (M,) int64 instant indices; joints_world_mm: (M, J, 3) the lifted joints;
    kept: (M, J) bool the joints to train on; rejected: (M, J) uint8 bit set of
    ``REJECT_*`` reasons (0 for kept joints and for non-candidates' other bits);
    candidates: finite machine joints of those instants; human_instants: machine instants
    left out because a human labelled them; use_chirality: whether the chirality test ran.
    """

    instants: np.ndarray
    joints_world_mm: np.ndarray
    kept: np.ndarray
    rejected: np.ndarray
    candidates: int
    human_instants: int = 0
    use_chirality: bool = False
    rule: SelectionRule = field(default_factory=SelectionRule)

    @property
    def kept_count(self) -> int:
        return int(self.kept.sum())

    def reason_counts(self) -> dict[str, int]:
        """Candidate joints rejected for each reason (a joint may have several)."""
        finite = np.isfinite(self.joints_world_mm).all(-1)
        return {
            text: int(((self.rejected & bit) != 0)[finite].sum())
            for bit, text in REJECT_REASONS.items()
            if bit != REJECT_NOT_FINITE
        }

    def precision_5mm(self, store, radius_mm: float = 5.0) -> float:  # noqa: ANN001
        """Share of kept joints within ``radius_mm`` of the ground truth (a kept joint where
        the truth has none counts as a miss); NaN without ground truth or kept joints."""
        if not store.has_ground_truth or not self.kept.any():
            return float("nan")
        hits = total = 0
        for k in np.nonzero(self.kept.any(axis=1))[0].tolist():
            gt = store.ground_truth(int(self.instants[k]))
            if gt is None:
                continue
            sel = self.kept[k]
            err = np.linalg.norm(self.joints_world_mm[k, sel] - gt.joints_world_mm[sel], axis=-1)
            hits += int((err <= radius_mm).sum())  # NaN truth compares False: a miss
            total += int(sel.sum())
        return hits / total if total else float("nan")

    def summary(self, store=None) -> dict:  # noqa: ANN001
        """JSON-ready counts (and the 5 mm precision when ``store`` is given)."""
        out = {
            "kept": self.kept_count,
            "candidates": int(self.candidates),
            "instants": int(self.kept.any(axis=1).sum()),
            "human_instants_skipped": int(self.human_instants),
            "chirality_test": bool(self.use_chirality),
            "rejected": self.reason_counts(),
        }
        if store is not None:
            p = self.precision_5mm(store)
            out["ground_truth"] = bool(store.has_ground_truth)
            out["precision_5mm"] = None if np.isnan(p) else round(p, 4)
        return out


def select_machine_joints(store, detections, rule: SelectionRule | None = None) -> Selection:  # noqa: ANN001
    """Apply the selection rule (module docstring) to merged machine detections.

    Args:
        store: an open ProjectStore (read-only is fine): human labels, subjects, truth.
        detections: :class:`annotator.machine_labels.merge.Detections` (``read_detections``) or
            its ``records`` (columns ``instants (N,)``, ``joints_world_mm (N, J, 3)``,
            ``inliers (N, J)``, ``reproj_error_px (N, J)``, ``hand_present (N, 2)``).
        rule: the thresholds (default :class:`SelectionRule`'s).
    Returns:
        :class:`Selection` over the detections' instants that no human labelled.
    """
    rule = rule or SelectionRule()
    rec = getattr(detections, "records", detections)
    instants = np.asarray(rec.instants, np.int64)
    humans = np.union1d(store.labelled_instants("human"), store.labelled_instants("imported"))
    mine = ~np.isin(instants, humans)
    instants = instants[mine]
    joints = np.asarray(rec.joints_world_mm, np.float64)[mine]
    inliers = np.asarray(rec.inliers)[mine]
    error = np.asarray(rec.reproj_error_px, np.float64)[mine]
    present = np.asarray(rec.hand_present)[mine]
    M = instants.size

    rejected = np.zeros((M, _J), np.uint8)
    finite = np.isfinite(joints).all(-1)
    rejected[~finite] |= REJECT_NOT_FINITE
    rejected[inliers < rule.min_inliers] |= REJECT_FEW_INLIERS
    rejected[~(error <= rule.max_error_px)] |= REJECT_HIGH_ERROR  # NaN error fails too
    score = getattr(rec, "score", None)
    if score is not None:
        score = np.asarray(score, np.float64)[mine]
        known = np.isfinite(score).all(axis=1)  # NaN rows: written before scores existed
        rejected[known[:, None] & ~(score >= rule.min_score)] |= REJECT_LOW_SCORE

    # bones: each touching joint against its subject's human median
    ref = _reference_bones(store, instants)  # (M, B), NaN = unknown
    length = np.linalg.norm(joints[:, BONE_CHILD] - joints[:, BONE_PARENT], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        off = np.abs(length / ref - 1.0) > rule.bone_tolerance  # NaN (unknown) -> False
    bad_bone = np.zeros((M, _J), bool)
    for b in range(BONE_CHILD.size):
        bad_bone[off[:, b], BONE_CHILD[b]] = True
        bad_bone[off[:, b], BONE_PARENT[b]] = True
    rejected[bad_bone] |= REJECT_BONE_LENGTH

    # hands: present, not one hand twice, chirality in its slot
    agree, n_hands = chirality_agreement(human_hands(store))
    use_chirality = bool(n_hands >= rule.chirality_min_hands
                         and agree >= rule.chirality_min_agreement)
    slices = [_RIGHT, _LEFT]
    for k in range(M):
        for h, sl in enumerate(slices):
            if present[k, h] != 1:
                rejected[k, sl] |= REJECT_HAND_ABSENT
        if (present[k] == 1).all() and _one_hand_twice(joints[k], rule.duplicate_mm):
            rejected[k] |= REJECT_DUPLICATE_HAND
        if use_chirality:
            for h in np.flatnonzero(slots_contradicted(joints[k])).tolist():
                rejected[k, slices[h]] |= REJECT_CHIRALITY

    kept = finite & (rejected == 0)
    return Selection(
        instants=instants,
        joints_world_mm=joints,
        kept=kept,
        rejected=rejected,
        candidates=int(finite.sum()),
        human_instants=int((~mine).sum()),
        use_chirality=use_chirality,
        rule=rule,
    )


def _one_hand_twice(joints: np.ndarray, max_mm: float) -> bool:
    """Whether the two present hands of (J, 3) ``joints`` are one hand found twice: wrists
    closer than ``max_mm`` (the median distance of corresponding joints where a wrist is
    missing), unless their chiralities say right and left (hands palm to palm)."""
    if max_mm <= 0:
        return False
    d = float(np.linalg.norm(joints[skeleton.RIGHT_ROOT] - joints[skeleton.LEFT_ROOT]))
    if not np.isfinite(d):
        each = np.linalg.norm(joints[_RIGHT] - joints[_LEFT], axis=-1)
        if not np.isfinite(each).any():
            return False
        d = float(np.nanmedian(each))
    if d >= max_mm:
        return False
    cr, cl = chirality(joints[_RIGHT]), chirality(joints[_LEFT])
    return not (np.isfinite(cr) and np.isfinite(cl) and cr > 0 > cl)


def _reference_bones(store, instants: np.ndarray) -> np.ndarray:  # noqa: ANN001
    """(M, B) reference bone lengths of each instant's subject (:class:`SubjectBones`);
    NaN where unknown."""
    out = np.full((instants.size, BONE_CHILD.size), np.nan)
    bones = SubjectBones(store)
    for k, i in enumerate(instants.tolist()):
        ref = bones.of(int(i))
        if ref is not None:
            out[k] = ref
    return out
