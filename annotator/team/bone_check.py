"""Bone lengths per subject: a label whose bones do not fit its subject's hand is flagged.

A subject's bones keep their length from instant to instant, so a joint clicked in the
wrong place shows as bones that are too long or too short. :func:`subject_bone_stats`
measures, per subject and per length (the 40 (child, parent) bones of
``hand_geometry.BONE_CHILD`` / ``BONE_PARENT``, then 8 palm spans: the distances between
neighbouring knuckles and index to pinky knuckle, as rigid as a bone, then 10 finger-plane
offsets, below), the median length over every labelled instant, a robust spread
(1.4826 * MAD) and the threshold beyond which a length is deviant:

    threshold = max(K_SIGMA * spread, FLOOR_MM, REL_FLOOR * |median|)

A fingertip has one bone, and a tip moved across it barely changes its length. But a
finger's two distal joints (PIP and DIP; the thumb's MCP and IP) are hinges about one axis,
so its four joints lie in one plane: the **finger-plane offset** is the tip's signed
distance from the plane of the three joints below it, a "length" whose median is about
0 mm. The plane's normal is the cross product of the finger's two proximal segments where
the middle joint bends by at least PLANE_MIN_DEG; a straighter finger (not the thumb) takes
it from its proximal segment and the palm's normal (wrist, index and pinky knuckles),
since the hinge axis lies across the palm; a straight thumb is not judged.

K_SIGMA robust sigmas (3, the usual outlier rule: a normal error passes it about once in
370 bones) scales the threshold with the project's own label noise, whatever it is;
FLOOR_MM (2 mm, about a pixel of click at studio distance) stops a bone that happens to
measure very consistently from flagging sub-millimetre jitter; REL_FLOOR (5 %) allows for
joint centres that slide a little along a bone as the finger bends. A bone measured on
fewer than MIN_COUNT instants of a subject gets no threshold (NaN: not judged). None of
these depend on the project's ground truth.

:func:`check_bones` compares each labelled bone of each instant with its subject's median.
A moved joint makes all of its bones deviant, its neighbours only the one bone they share
with it, so every deviant bone is blamed on the endpoint whose bones, all of them, speak
more for its having been moved (:func:`blame`: a log-likelihood ratio per bone, a
neighbour's other bones that fit count against it), and on both endpoints when they are
explained about equally well; a deviant finger plane on its tip, unless another of the
finger's joints speaks clearly more for having moved. One finding per blamed joint names
its worst bone.
:func:`apply_bone_flags` writes them as review flags (``store.set_flag``) whose reasons
start with :data:`BONE_FLAG_PREFIX`, e.g.
``bone length r_index3–r_index2 38.2 mm, subject 0: 25.1 mm ± 2.0`` (median ± threshold).

numpy only; reads and writes the project through :mod:`annotator.store`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from annotator import skeleton
from annotator.machine_labels.hand_geometry import BONE_CHILD, BONE_PARENT
from annotator.store import JOINT_SOURCES

__all__ = [
    "BONE_FLAG_PREFIX",
    "K_SIGMA",
    "FLOOR_MM",
    "REL_FLOOR",
    "MIN_COUNT",
    "BONE_NAMES",
    "NUM_SKELETON_BONES",
    "PALM_SPANS",
    "FINGER_PLANES",
    "NUM_FINGER_PLANES",
    "PLANE_MIN_DEG",
    "finger_plane_offsets",
    "SEGMENT_CHILD",
    "SEGMENT_PARENT",
    "MEMBERS",
    "TIE_EVIDENCE",
    "BoneStats",
    "BoneFindings",
    "InstantBones",
    "subject_bone_stats",
    "check_bones",
    "apply_bone_flags",
    "instant_bones",
    "joint_flag_share",
    "bone_reason",
    "bone_lengths",
    "blame",
    "flagged_joints",
    "subject_of_instants",
    "stats_summary",
    "refresh_bone_flags",
]

#: Every review flag this check writes has a reason starting with this.
BONE_FLAG_PREFIX = "bone length"
#: Robust sigmas (1.4826 * MAD) beyond the subject's median that make a bone deviant.
K_SIGMA = 3.0
#: The threshold is never below this (mm).
FLOOR_MM = 2.0
#: ... nor below this share of the bone's median length.
REL_FLOOR = 0.05
#: Attribution: a bone within this many robust sigmas speaks against its joint being moved.
Z0 = 2.0
#: A (subject, bone) measured on fewer instants than this is not judged.
MIN_COUNT = 5

#: An endpoint whose evidence is within this of the other endpoint's is blamed too.
TIE_EVIDENCE = 2.0

_J = skeleton.NUM_JOINTS
#: The skeleton's bones (the first NUM_SKELETON_BONES rows of every (…, B) array).
NUM_SKELETON_BONES = len(BONE_CHILD)
#: Palm spans, per hand: knuckle-to-knuckle distances (index–middle, middle–ring,
#: ring–pinky and index–pinky MCPs), rigid in the palm as a bone is along a finger.
PALM_SPANS: tuple[tuple[str, str], ...] = (
    ("index1", "middle1"), ("middle1", "ring1"), ("ring1", "pinky1"), ("index1", "pinky1"))
_SPAN_A = np.array([skeleton.joint_index(f"{side}_{a}") for side in ("r", "l")
                    for a, _ in PALM_SPANS], np.int64)
_SPAN_B = np.array([skeleton.joint_index(f"{side}_{b}") for side in ("r", "l")
                    for _, b in PALM_SPANS], np.int64)
#: A finger's plane is taken from its own joints where the middle one bends at least this
#: much (degrees), else (not the thumb) from its proximal segment and the palm's normal.
PLANE_MIN_DEG = 20.0
#: Per hand and finger (thumb first), the chain (*1, *2, *3, *4: knuckle to tip) whose tip's
#: offset from the plane of the other three is measured.
FINGER_PLANES = np.array([skeleton.finger_chain(hand, finger)[1:] for hand in skeleton.HANDS
                          for finger in skeleton.FINGERS], np.int64)
#: Per hand, its wrist and index / pinky knuckles (the palm's normal), one row per plane.
_PALM = np.array([[skeleton.ROOT_INDEX[hand], skeleton.joint_index(f"{hand[0]}_index1"),
                   skeleton.joint_index(f"{hand[0]}_pinky1")]
                  for hand in skeleton.HANDS for _ in skeleton.FINGERS], np.int64)
_THUMB_PLANE = np.array([f == "thumb" for _ in skeleton.HANDS for f in skeleton.FINGERS])
NUM_FINGER_PLANES = len(FINGER_PLANES)
#: First / second joint of each measured length: the bones (child, parent), then the spans,
#: then the finger planes (tip, the joint below it: the tip is the one judged).
SEGMENT_CHILD = np.concatenate([BONE_CHILD, _SPAN_A, FINGER_PLANES[:, 3]])
SEGMENT_PARENT = np.concatenate([BONE_PARENT, _SPAN_B, FINGER_PLANES[:, 2]])
_B = SEGMENT_CHILD.size
_FIRST_PLANE = _B - NUM_FINGER_PLANES
#: Name of each measured length: "child–parent" joint names for the 40 bones (e.g.
#: "r_index3–r_index2") and the 8 palm spans ("r_index1–r_middle1"), then the tip's offset
#: from its finger's plane ("r_index4 off plane").
BONE_NAMES: tuple[str, ...] = tuple(
    f"{skeleton.JOINT_NAMES[c]}–{skeleton.JOINT_NAMES[p]}"
    for c, p in zip(SEGMENT_CHILD[:_FIRST_PLANE].tolist(),
                    SEGMENT_PARENT[:_FIRST_PLANE].tolist(), strict=True)
) + tuple(f"{skeleton.JOINT_NAMES[t]} off plane" for t in FINGER_PLANES[:, 3].tolist())
#: (B, 4) the joints each length depends on (child, parent, -1, -1 for a bone or a span;
#: tip, DIP, PIP, knuckle for a finger plane): its evidence goes to each, and it can be
#: blamed on any of them.
MEMBERS = np.full((_B, 4), -1, np.int64)
MEMBERS[:, 0], MEMBERS[:, 1] = SEGMENT_CHILD, SEGMENT_PARENT
MEMBERS[_FIRST_PLANE:] = FINGER_PLANES[:, ::-1]
#: (B, J) incidence: length b depends on joint j.
_INCIDENCE = np.zeros((_B, _J), np.int64)
_INCIDENCE[np.nonzero(MEMBERS >= 0)[0], MEMBERS[MEMBERS >= 0]] = 1


@dataclass(frozen=True)
class BoneStats:
    """Per subject (S) and length (B = 58: 40 bones, 8 palm spans, 10 finger planes)
    statistics of the labels, in mm.

    subjects: (S,) int64 subject ids; median_mm, spread_mm (1.4826 * MAD), threshold_mm
    (NaN: not judged) (S, B) float64; count (S, B) int64 instants measured; sources: the
    joint sources the statistics were taken from.
    """

    subjects: np.ndarray
    median_mm: np.ndarray
    spread_mm: np.ndarray
    threshold_mm: np.ndarray
    count: np.ndarray
    sources: tuple[str, ...] = ("human",)

    def of_subject(self, subject) -> int | None:
        """Row of ``subject`` in the arrays, or None when it has no statistics."""
        hit = np.flatnonzero(self.subjects == int(subject))
        return int(hit[0]) if hit.size else None


@dataclass(frozen=True)
class BoneFindings:
    """One row per joint blamed for a deviant bone (N rows), with its worst bone.

    instant, joint, bone (index into BONE_NAMES), subject: (N,) int64; length_mm,
    median_mm, threshold_mm: (N,) float64 of that bone.
    """

    instant: np.ndarray
    joint: np.ndarray
    bone: np.ndarray
    subject: np.ndarray
    length_mm: np.ndarray
    median_mm: np.ndarray
    threshold_mm: np.ndarray

    def __len__(self) -> int:
        return int(self.instant.size)

    def reasons(self) -> list[str]:
        """The flag reason of each row (:func:`bone_reason`)."""
        return [bone_reason(int(b), float(x), int(s), float(m), float(t))
                for b, x, s, m, t in zip(self.bone, self.length_mm, self.subject,
                                         self.median_mm, self.threshold_mm, strict=True)]


@dataclass(frozen=True)
class InstantBones:
    """The bones of one instant against its subject's, one row per length (B = 58: the 40
    bones, the 8 palm spans, then the 10 finger-plane offsets), for the app's chart.
    length_mm: now (NaN: an end unlabelled); median_mm, low_mm, high_mm: the subject's
    median and band (median ± threshold; NaN: not judged); deviant: bool."""

    bone: np.ndarray
    child: np.ndarray
    parent: np.ndarray
    names: tuple[str, ...]
    length_mm: np.ndarray
    median_mm: np.ndarray
    low_mm: np.ndarray
    high_mm: np.ndarray
    deviant: np.ndarray


def bone_reason(bone: int, length_mm: float, subject: int, median_mm: float,
                threshold_mm: float) -> str:
    """Flag reason of one deviant bone, e.g. ``bone length r_index3–r_index2 38.2 mm,
    subject 0: 25.1 mm ± 2.0``."""
    return (f"{BONE_FLAG_PREFIX} {BONE_NAMES[bone]} {length_mm:.1f} mm, subject {subject}: "
            f"{median_mm:.1f} mm ± {threshold_mm:.1f}")


def _source_codes(sources) -> np.ndarray:
    if isinstance(sources, str):
        sources = (sources,)
    sources = tuple(sources)
    bad = [s for s in sources if s not in JOINT_SOURCES[1:]]
    if not sources or bad:
        raise ValueError(f"sources must be a non-empty subset of {JOINT_SOURCES[1:]}, "
                         f"got {sources!r}")
    return np.array([JOINT_SOURCES.index(s) for s in sources], np.int8)


def subject_of_instants(store) -> np.ndarray:
    """(F,) int64 subject of every instant (0 where the project has no subjects)."""
    if "subject" in store.instant_attr_names():
        sub = np.asarray(store.instant_attr("subject"))
        if sub.shape != (store.num_instants,):
            raise ValueError(f"instant attr 'subject' has shape {sub.shape}, expected "
                             f"({store.num_instants},)")
        return sub.astype(np.int64)
    return np.zeros(store.num_instants, np.int64)


def _labelled_lengths(store, sources) -> tuple[np.ndarray, np.ndarray]:
    """(F, J, 3) joints of ``sources`` (NaN otherwise) and (F, B) bone lengths."""
    codes = _source_codes(sources)
    xyz, src = store.joints_3d_all()
    xyz = np.where(np.isin(src, codes)[..., None], xyz, np.nan)
    return xyz, bone_lengths(xyz)


def bone_lengths(joints_world_mm: np.ndarray) -> np.ndarray:
    """(..., B) length of each bone and palm span, then each tip's signed offset from its
    finger's plane (``BONE_NAMES`` order), of (..., J, 3) joints; NaN where a joint it needs
    is NaN (or, for a plane, where the plane is not defined)."""
    x = np.asarray(joints_world_mm, np.float64)
    if x.shape[-2:] != (_J, 3):
        raise ValueError(f"joints must have shape (..., {_J}, 3), got {x.shape}")
    seg = SEGMENT_CHILD[:_FIRST_PLANE], SEGMENT_PARENT[:_FIRST_PLANE]
    lengths = np.linalg.norm(x[..., seg[0], :] - x[..., seg[1], :], axis=-1)
    return np.concatenate([lengths, finger_plane_offsets(x)], axis=-1)


def _unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / norm, norm[..., 0]


def finger_plane_offsets(joints_world_mm: np.ndarray) -> np.ndarray:
    """(..., 10) signed distance (mm) of each finger's tip from the plane of its other
    three joints (``FINGER_PLANES`` order; the module docstring gives the plane), NaN where
    a joint is NaN or the plane is not defined."""
    x = np.asarray(joints_world_mm, np.float64)
    p = x[..., FINGER_PLANES, :]  # (..., F, 4, 3) knuckle .. tip
    s1, s2 = p[..., 1, :] - p[..., 0, :], p[..., 2, :] - p[..., 1, :]
    tip = p[..., 3, :] - p[..., 2, :]
    u1, l1 = _unit(s1)
    own, sin_own = _unit(np.cross(u1, _unit(s2)[0]))
    w = x[..., _PALM, :]  # (..., F, 3, 3) wrist, index and pinky knuckles
    palm_n = _unit(np.cross(w[..., 1, :] - w[..., 0, :], w[..., 2, :] - w[..., 0, :]))[0]
    across, sin_palm = _unit(np.cross(u1, palm_n))
    lim = np.sin(np.radians(PLANE_MIN_DEG))
    with np.errstate(invalid="ignore"):
        # one sign for both normals of a finger (the hinge axis across the palm)
        flip = ~_THUMB_PLANE & (np.sum(own * across, axis=-1) < 0)
        own = np.where(flip[..., None], -own, own)
        use_own = sin_own >= lim
        use_palm = ~use_own & ~_THUMB_PLANE & (sin_palm >= lim)
        normal = np.where(use_own[..., None], own,
                          np.where(use_palm[..., None], across, np.nan))
        return np.where(l1 > 0, np.sum(normal * tip, axis=-1), np.nan)


def subject_bone_stats(store, sources=("human",)) -> BoneStats:
    """Median, robust spread, count and threshold of every bone per subject, over all
    instants with 3D joints of ``sources`` (the module docstring gives the threshold rule)."""
    _, lengths = _labelled_lengths(store, sources)
    subject = subject_of_instants(store)
    subjects = np.unique(subject)
    S = subjects.size
    median = np.full((S, _B), np.nan)
    spread = np.full((S, _B), np.nan)
    count = np.zeros((S, _B), np.int64)
    with warnings.catch_warnings():  # bones nobody labelled for a subject: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        for k, sub in enumerate(subjects.tolist()):
            rows = lengths[subject == sub]
            rows = rows[np.isfinite(rows).any(axis=1)]
            count[k] = np.isfinite(rows).sum(axis=0)
            if rows.shape[0]:
                median[k] = np.nanmedian(rows, axis=0)
                spread[k] = 1.4826 * np.nanmedian(np.abs(rows - median[k]), axis=0)
    threshold = np.maximum.reduce([K_SIGMA * spread, np.full_like(spread, FLOOR_MM),
                                   REL_FLOOR * np.abs(median)])
    threshold = np.where((count >= MIN_COUNT) & np.isfinite(median), threshold, np.nan)
    return BoneStats(subjects.astype(np.int64), median, spread, threshold, count,
                     tuple((sources,) if isinstance(sources, str) else sources))


def _check_instants(store, instants) -> np.ndarray:
    F = store.num_instants
    if instants is None:
        return np.arange(F, dtype=np.int64)
    inst = np.unique(np.asarray(instants).reshape(-1))
    if inst.size and (not np.issubdtype(inst.dtype, np.integer) or inst[0] < 0
                      or inst[-1] >= F):
        raise ValueError(f"instants must be integer indices in 0..{F - 1}")
    return inst.astype(np.int64)


def _subject_rows(stats: BoneStats, subject: np.ndarray) -> np.ndarray:
    """(N,) row of each subject in ``stats``, -1 where it has none."""
    order = np.argsort(stats.subjects)
    pos = np.searchsorted(stats.subjects[order], subject)
    pos = np.clip(pos, 0, max(stats.subjects.size - 1, 0))
    if stats.subjects.size == 0:
        return np.full(subject.shape, -1, np.int64)
    row = order[pos]
    return np.where(stats.subjects[row] == subject, row, -1).astype(np.int64)


def _judge(lengths: np.ndarray, rows: np.ndarray, stats: BoneStats):
    """(N, B) median, threshold (NaN where not judged) and deviant mask of ``lengths``."""
    ok = rows >= 0
    med = np.full(lengths.shape, np.nan)
    thr = np.full(lengths.shape, np.nan)
    med[ok] = stats.median_mm[rows[ok]]
    thr[ok] = stats.threshold_mm[rows[ok]]
    with np.errstate(invalid="ignore"):
        deviant = np.abs(lengths - med) > thr  # NaN compares False: not judged
    return med, thr, deviant


def check_bones(store, stats: BoneStats | None = None, sources=("human",),
                instants=None) -> BoneFindings:
    """Joints of ``instants`` (None: all) blamed for a bone deviating from their subject's
    median beyond its threshold (``stats``: :func:`subject_bone_stats` of ``sources`` by
    default). See the module docstring for the attribution rule."""
    inst = _check_instants(store, instants)
    _, lengths = _labelled_lengths(store, sources)
    if stats is None:
        stats = subject_bone_stats(store, sources)
    subject = subject_of_instants(store)[inst]
    lengths = lengths[inst]
    med, thr, deviant = _judge(lengths, _subject_rows(stats, subject), stats)
    blamed = blame(lengths, med, thr, deviant)  # (N, B, 4) MEMBERS blamed
    with np.errstate(invalid="ignore", divide="ignore"):
        excess = np.where(deviant, np.abs(lengths - med) / thr, -1.0)
    # worst bone per (instant, joint): scan bones in order of excess, keep the first
    n, b, end = np.nonzero(blamed)
    j = MEMBERS[b, end]
    order = np.lexsort((-excess[n, b], j, n))
    n, b, j = n[order], b[order], j[order]
    first = np.ones(n.size, bool)
    first[1:] = (n[1:] != n[:-1]) | (j[1:] != j[:-1])
    n, b, j = n[first], b[first], j[first]
    return BoneFindings(
        instant=inst[n], joint=j.astype(np.int64), bone=b.astype(np.int64),
        subject=subject[n], length_mm=lengths[n, b], median_mm=med[n, b],
        threshold_mm=thr[n, b])


def blame(lengths: np.ndarray, median_mm: np.ndarray, threshold_mm: np.ndarray,
          deviant: np.ndarray) -> np.ndarray:
    """(N, B, 4) bool: which of its joints (:data:`MEMBERS`: child and parent for a bone or a
    span) each deviant length is blamed on.

    Each judged length gives its two endpoints the evidence ``(z**2 - Z0**2) / 2`` with
    ``z = |length - median| / (threshold / K_SIGMA)``: the log-likelihood ratio, up to a
    constant, of "this joint was moved" (a flat spread of lengths) against label noise (a
    normal of that sigma); a length within Z0 sigmas counts against it. A deviant length
    is blamed on the endpoint with more evidence summed over all its judged lengths (a
    moved joint's lengths are all off, a neighbour's other lengths are not), and on the
    other endpoint too when its evidence is within :data:`TIE_EVIDENCE` of that (about one
    fitting length's worth): a joint moved along the sphere of one bone, or a tip with a
    single bone, is explained as well by either end, and both are shown for review. A
    finger-plane offset depends on the finger's four joints and its evidence goes to all
    four, but a joint moved across the finger changes no length, so the plane is blamed on
    its tip (which has no other check) unless another of its joints has more evidence by
    TIE_EVIDENCE, and then on that one alone (blaming all four would flag whole fingers).
    """
    judged = np.isfinite(lengths) & np.isfinite(threshold_mm) & np.isfinite(median_mm)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.abs(lengths - median_mm) * K_SIGMA / threshold_mm
    evidence = np.where(judged, 0.5 * (z * z - Z0 * Z0), 0.0) @ _INCIDENCE  # (N, J)
    ends = np.where(MEMBERS >= 0, evidence[:, np.maximum(MEMBERS, 0)], -np.inf)  # (N, B, 4)
    best = ends.max(axis=-1, keepdims=True)
    out = ends >= best - TIE_EVIDENCE
    # a plane: its tip unless another of its joints has clearly more evidence, else that one
    planes = ends[:, _FIRST_PLANE:]
    tip_ok = planes[..., 0] >= planes[..., 1:].max(axis=-1) - TIE_EVIDENCE
    other = np.arange(4) == np.argmax(planes, axis=-1)[..., None]
    out[:, _FIRST_PLANE:] = np.where(tip_ok[..., None], np.arange(4) == 0, other)
    return np.asarray(deviant, bool)[..., None] & out


def _bone_flags(store, instants: np.ndarray | None) -> dict[tuple[int, int], str]:
    """(instant, joint) -> reason of the bone flags now in the store (on ``instants``)."""
    out = {}
    flagged = store.flagged_instants()
    if instants is not None:
        flagged = np.intersect1d(flagged, instants)
    for i in flagged.tolist():
        for j, reason in store.labels(int(i)).flags:
            if j >= 0 and reason.startswith(BONE_FLAG_PREFIX):
                out[(int(i), int(j))] = reason
    return out


def apply_bone_flags(store, findings: BoneFindings, instants=None) -> tuple[int, int]:
    """Make the store's bone flags (on ``instants``, None: everywhere) those of
    ``findings``; returns (added, removed). A joint that already carries another check's
    flag keeps it (it is in the review queue already). Pending until the caller saves."""
    inst = None if instants is None else _check_instants(store, instants)
    keep = None if inst is None else set(inst.tolist())
    want: dict[tuple[int, int], str] = {}
    for i, j, reason in zip(findings.instant.tolist(), findings.joint.tolist(),
                            findings.reasons(), strict=True):
        if keep is None or i in keep:
            want[(int(i), int(j))] = reason
    have = _bone_flags(store, inst)
    removed = 0
    for (i, j) in have.keys() - want.keys():
        store.set_flag(i, j, None)
        removed += 1
    added = 0
    others = {}
    for (i, j), reason in want.items():
        if have.get((i, j)) == reason:
            continue
        if (i, j) not in have:
            if i not in others:
                others[i] = {jj for jj, _ in store.labels(i).flags}
            if j in others[i]:
                continue  # another check's flag: never overwritten
        store.set_flag(i, j, reason)
        added += int((i, j) not in have)
    return added, removed


def instant_bones(stats: BoneStats | None, subject, joints_world_mm) -> InstantBones:
    """The 40 bones of one instant's (J, 3) joints against ``subject``'s statistics (NaN
    medians and bands where the subject or the bone has none)."""
    lengths = bone_lengths(joints_world_mm)
    if lengths.ndim != 1:
        raise ValueError("instant_bones takes the joints of one instant, shape (J, 3)")
    row = None if stats is None else stats.of_subject(subject)
    if row is None:
        med = thr = np.full(_B, np.nan)
    else:
        med, thr = stats.median_mm[row], stats.threshold_mm[row]
    with np.errstate(invalid="ignore"):
        deviant = np.abs(lengths - med) > thr
    return InstantBones(np.arange(_B), SEGMENT_CHILD.copy(), SEGMENT_PARENT.copy(), BONE_NAMES,
                        lengths, med, med - thr, med + thr, deviant)


def joint_flag_share(findings: BoneFindings, instants, joints) -> float:
    """Share of the (instant, joint) pairs given (e.g. an annotator's labelled joints)
    that the findings blame; NaN for no pairs."""
    i = np.asarray(instants, np.int64).reshape(-1)
    j = np.asarray(joints, np.int64).reshape(-1)
    if i.shape != j.shape:
        raise ValueError(f"instants and joints differ in length: {i.size} vs {j.size}")
    if i.size == 0:
        return float("nan")
    if ((j < 0) | (j >= _J)).any():
        raise ValueError(f"joint indices must be in 0..{_J - 1}")
    pairs = np.unique(i * _J + j)
    hit = np.isin(pairs, findings.instant * _J + findings.joint)
    return float(hit.mean())


def flagged_joints(stats: BoneStats | None, subject, joints_world_mm) -> np.ndarray:
    """(J,) bool: the joints of one instant's (J, 3) joints that the check blames, judged
    against ``subject``'s statistics (none where the subject has none). For answers kept
    outside the project's labels (a quality report's gold and repeat rows)."""
    lengths = bone_lengths(joints_world_mm)
    if lengths.ndim != 1:
        raise ValueError("flagged_joints takes the joints of one instant, shape (J, 3)")
    out = np.zeros(_J, bool)
    row = None if stats is None else stats.of_subject(subject)
    if row is None:
        return out
    lengths = lengths[None]
    med, thr, deviant = _judge(lengths, np.array([row], np.int64), stats)
    blamed = blame(lengths, med, thr, deviant)[0]
    out[MEMBERS[blamed]] = True
    return out


def stats_summary(stats: BoneStats) -> dict:
    """JSON-ready statistics: ``{"bones": names, "k_sigma", "floor_mm", "rel_floor",
    "subjects": [{"subject", "median_mm", "threshold_mm", "count"}]}`` (None = not judged)."""
    def clean(row) -> list:
        return [None if not np.isfinite(v) else round(float(v), 3) for v in row]

    return {
        "bones": list(BONE_NAMES), "k_sigma": K_SIGMA, "floor_mm": FLOOR_MM,
        "rel_floor": REL_FLOOR,
        "subjects": [
            {"subject": int(s), "median_mm": clean(stats.median_mm[k]),
             "threshold_mm": clean(stats.threshold_mm[k]),
             "count": [int(c) for c in stats.count[k]]}
            for k, s in enumerate(stats.subjects.tolist())
        ],
    }


def refresh_bone_flags(store) -> tuple[int, int]:
    """Run the check on every human-labelled instant of ``store`` (open for writing) and make
    the bone flags match; returns (added, removed); pending until the caller saves."""
    return apply_bone_flags(store, check_bones(store))
