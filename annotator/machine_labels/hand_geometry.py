"""Facts about hands measured on the labels, shared by labelling, quality checks and the
selection of machine labels (numpy only; no torch).

- :func:`chirality`: right from left in 3D. With ``n = (index MCP - wrist) x (pinky MCP -
  wrist)`` in right-hand joint order, a right hand's thumb tip and finger tips lie on the +n
  side, a left hand's on the -n side (the palm side is where fingers flex and the thumb
  opposes). :func:`chirality_agreement` checks the rule on a project's own human labels
  (:func:`human_hands`) before anything relies on it.
- bone lengths: :func:`reference_bone_lengths` (median per bone over human labels),
  :class:`SubjectBones` (per subject), :func:`bone_deviation` (how far lifted bones are off).
"""

from __future__ import annotations

import warnings

import numpy as np

from annotator import skeleton

__all__ = [
    "chirality",
    "chirality_agreement",
    "slots_contradicted",
    "human_hands",
    "reference_bone_lengths",
    "SubjectBones",
    "bone_deviation",
    "BONE_CHILD",
    "BONE_PARENT",
]

#: Bones as (child, parent) joint pairs: every joint with a parent in ``skeleton.PARENTS``.
BONE_CHILD = np.nonzero(skeleton.PARENTS >= 0)[0]
BONE_PARENT = skeleton.PARENTS[BONE_CHILD]
_BONE_CHILD, _BONE_PARENT = BONE_CHILD, BONE_PARENT
_H = skeleton.JOINTS_PER_HAND
_PARENT = skeleton.PARENTS[:_H]
_WRIST = int(np.nonzero(_PARENT < 0)[0][0])
_THUMB_TIP = 0
_MCP_INDEX_SIDE = (7, 11)  # index MCP, else middle MCP
_MCP_PINKY_SIDE = (19, 15)  # pinky MCP, else ring MCP
_FINGERS = ((4, 7), (8, 11), (12, 15), (16, 19))  # (tip, MCP) of index .. pinky
_THUMB_CHAIN = (0, 1, 2)  # thumb tip, IP, MCP


def _first_finite(hand: np.ndarray, joints: tuple[int, ...]) -> np.ndarray | None:
    for j in joints:
        if np.isfinite(hand[j]).all():
            return hand[j]
    return None


def chirality(hand_mm: np.ndarray) -> float:
    """Signed chirality of one hand's 21 joints in right-hand order: > 0 for a right hand.

    Offsets along the palm normal ``(index MCP - wrist) x (pinky MCP - wrist)`` (middle /
    ring MCP stand in for missing index / pinky MCPs), each as a unit vector's component:
    the sum of two means, the five tips' (the thumb tip from the wrist, the finger tips from
    their MCP: fingers curl to the palm side) and the thumb chain's (tip, IP and MCP from the
    wrist: the thumb sits on the palm side of the index). The thumb chain tells a lifted
    hand's side more often than the tips alone, which say little for a flat hand (full demo's
    machine-lifted hands: 93 % against 88 % right, 64 % against 58 % on the quick demo's;
    every ground-truth hand either way). NaN when the palm normal cannot be formed.
    """
    w = hand_mm[_WRIST]
    a = _first_finite(hand_mm, _MCP_INDEX_SIDE)
    b = _first_finite(hand_mm, _MCP_PINKY_SIDE)
    if a is None or b is None or not np.isfinite(w).all():
        return float("nan")
    n = np.cross(a - w, b - w)
    norm = float(np.linalg.norm(n))
    if norm < 1e-6:
        return float("nan")
    n = n / norm

    def along_normal(pairs) -> list[float]:
        out = []
        for tip, base in pairs:
            d = hand_mm[tip] - hand_mm[base]
            length = float(np.linalg.norm(d))
            if np.isfinite(length) and length > 1e-6:
                out.append(float(d @ n) / length)
        return out

    tips = along_normal(((_THUMB_TIP, _WRIST), *_FINGERS))
    thumb = along_normal((j, _WRIST) for j in _THUMB_CHAIN)
    means = [float(np.mean(t)) for t in (tips, thumb) if t]
    return float(np.sum(means)) if means else float("nan")


def slots_contradicted(joints_world_mm: np.ndarray) -> np.ndarray:
    """(2,) bool per hand slot (skeleton.HANDS order): the hand lifted in that slot has a
    definite chirality (finite, non-zero) of the other hand's sign."""
    out = np.zeros(len(skeleton.HANDS), bool)
    for h, name in enumerate(skeleton.HANDS):
        c = chirality(joints_world_mm[skeleton.hand_joints(name)])
        out[h] = bool(np.isfinite(c) and c != 0 and (c > 0) != (h == 0))
    return out


def chirality_agreement(hands: list[tuple[str, np.ndarray]]) -> tuple[float, int]:
    """(share of hands whose chirality sign matches their label, hands scored) over
    ``(hand name, (21, 3) joints)`` pairs, e.g. the project's human labels."""
    ok = n = 0
    for name, joints in hands:
        c = chirality(joints)
        if np.isfinite(c) and c != 0:
            n += 1
            ok += int((c > 0) == (name == skeleton.HANDS[0]))
    return (ok / n if n else float("nan")), n


def human_hands(store, max_instants: int = 2000) -> list[tuple[str, np.ndarray]]:
    """(hand name, (21, 3) joints) of every fully human-labelled hand (up to
    ``max_instants`` instants), e.g. to check the chirality rule on this capture."""
    out = []
    for i in store.labelled_instants("human")[:max_instants].tolist():
        lab = store.labels(int(i))
        for name in skeleton.HANDS:
            sel = skeleton.hand_joints(name)
            if (lab.joint_source[sel] == "human").all():
                out.append((name, lab.joints_world_mm[sel]))
    return out


def reference_bone_lengths(
    store, max_instants: int = 2000, instants: np.ndarray | None = None
) -> np.ndarray | None:
    """(B,) median length of each bone (child joint of ``skeleton.PARENTS``) over the human
    labels (of ``instants`` when given), or None without human labels."""
    inst = store.labelled_instants("human")
    if instants is not None:
        inst = np.intersect1d(inst, np.asarray(instants, np.int64))
    inst = inst[:max_instants]
    if inst.size == 0:
        return None
    lengths = []
    for i in inst.tolist():
        lab = store.labels(int(i))
        x = np.where((lab.joint_source == "human")[:, None], lab.joints_world_mm, np.nan)
        lengths.append(np.linalg.norm(x[_BONE_CHILD] - x[_BONE_PARENT], axis=-1))
    with warnings.catch_warnings():  # bones of a hand nobody labelled: NaN, no check
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(np.stack(lengths), axis=0)
    return med if np.isfinite(med).any() else None


class SubjectBones:
    """Reference bone lengths per subject, measured on the human labels.

    A capture's hands belong to a subject (the per-instant attribute ``subject`` where the
    project has one); each subject's bones are the median over its human-labelled instants
    (bones nobody labelled for that subject: the median over all human labels). A subject
    nobody labelled has no reference (None: bones are not judged, another person's hand
    would be the wrong size); a project without subjects uses all human labels.
    ``of(instant)`` -> (B,) lengths or None.
    """

    def __init__(self, store, max_instants: int = 2000):
        self.pooled = reference_bone_lengths(store, max_instants)
        self.subject: np.ndarray | None = None
        self.by_subject: dict[int, np.ndarray | None] = {}
        if "subject" in store.instant_attr_names():
            self.subject = np.asarray(store.instant_attr("subject")).astype(np.int64)
            for sub in np.unique(self.subject).tolist():
                own = reference_bone_lengths(
                    store, max_instants, np.flatnonzero(self.subject == sub)
                )
                if own is not None and self.pooled is not None:
                    own = np.where(np.isfinite(own), own, self.pooled)
                self.by_subject[int(sub)] = own
        self.any = self.pooled is not None

    def of(self, instant: int) -> np.ndarray | None:
        if self.subject is None:
            return self.pooled
        return self.by_subject.get(int(self.subject[int(instant)]))


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
