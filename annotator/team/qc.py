"""``annotator qc``: how good and how fast each annotator is, in millimetres and joints per hour.

Everything is measured on what ``collect`` brought back (``team/answers/``), per annotator
over all their packages:

- ``instants``, ``joints``: queue rows with at least one 3D joint, and their 3D joints;
  ``clicks_per_joint``: clicks / 3D joints;
- ``active_hours``: the sum of the gaps between consecutive clicks (sorted by time, each
  package apart) that are at most :data:`IDLE_GAP_S`; a longer gap is a break and does not
  count; ``joints_per_hour`` = joints / active hours;
- ``gold_median_mm``, ``gold_p90_mm``: 3D distance of every joint answered on a gold row to
  the trusted 3D frozen at assignment (``team/gold.h5``);
- ``repeat_median_mm``: how far apart two answers *of this annotator* to the same instant
  are (median 3D distance over the joints both answers labelled). Repeats pair the annotator
  with others (or with themselves), so each pair's distance mixes two people's error: with
  ``m_ab`` the median distance over all pairs of annotators ``a`` and ``b`` (``a == b`` for
  an instant one annotator answered twice), ``m_ab**2 = x_a + x_b`` (two independent
  isotropic 3D errors: the median of their difference grows with the root of the summed
  variances), solved for every ``x`` by weighted least squares (weights: joints compared);
  the figure is ``sqrt(2 x_a)``, an annotator's own median repeat distance. Where the pairs
  cannot separate the annotators (two annotators and no self repeats), it is the plain
  median over the pairs they are in. ``repeat_pooled_median_mm`` is always that plain median.
- ``bone_flagged_share``: the share of their 3D joints the per-subject bone-length check
  (:mod:`annotator.team.bone_check`, with the subject's bones measured on the project's
  human labels) flags.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from annotator import skeleton
from annotator.store.team_files import PackageAnswers, TeamLedger, read_ledger
from annotator.team import bone_check
from annotator.team.collect import collected_answers, gold_distances

__all__ = ["IDLE_GAP_S", "AnnotatorQuality", "quality_report", "annotator_errors",
           "own_repeat_medians"]

#: A gap between two clicks longer than this (seconds) is a break, not labelling time.
IDLE_GAP_S = 300.0
J = skeleton.NUM_JOINTS


@dataclass
class _Acc:
    packages: int = 0
    instants: int = 0
    joints: int = 0
    clicks: int = 0
    active_s: float = 0.0
    flagged: int = 0


def annotator_errors(store, ledger: TeamLedger, answers: dict[str, PackageAnswers]) -> dict:
    """Per annotator: ``{"gold": (N,) mm, "repeat": (M,) mm, "own": float | None}`` (module
    docstring)."""
    out: dict[str, dict[str, list]] = {}
    by_instant: dict[int, list[tuple[str, np.ndarray]]] = {}
    for record in ledger.packages:
        a = answers.get(record.id)
        if a is None:
            continue
        out.setdefault(record.annotator, {"repeat": []})
        dense = a.joints_dense(J)
        answered = np.isfinite(dense[..., 0]).any(axis=1)
        for k in np.flatnonzero(answered & (record.kinds != "gold")).tolist():
            by_instant.setdefault(int(record.instants[k]), []).append(
                (record.annotator, dense[k]))
    pairs: dict[tuple[str, str], list[np.ndarray]] = {}
    for rows in by_instant.values():
        for x in range(len(rows)):
            for y in range(x + 1, len(rows)):
                d = np.linalg.norm(rows[x][1] - rows[y][1], axis=1)
                d = d[np.isfinite(d)]
                key = tuple(sorted((rows[x][0], rows[y][0])))
                pairs.setdefault(key, []).append(d)
                for who in set(key):
                    out.setdefault(who, {"repeat": []})["repeat"].append(d)
    gold = gold_distances(store, ledger, answers)
    own = own_repeat_medians({k: np.concatenate(v) for k, v in pairs.items()})
    return {n: {"gold": gold.get(n, np.zeros(0)),
                "repeat": np.concatenate(e["repeat"]) if e["repeat"] else np.zeros(0),
                "own": own.get(n)}
            for n, e in out.items()}


def own_repeat_medians(pairs: dict[tuple[str, str], np.ndarray]) -> dict[str, float]:
    """``{annotator: sqrt(2 x_a)}`` from the repeat distances of each pair of annotators
    (module docstring); annotators the pairs cannot separate are left out."""
    pairs = {k: v for k, v in pairs.items() if v.size}
    names = sorted({n for k in pairs for n in k})
    if not names:
        return {}
    col = {n: c for c, n in enumerate(names)}
    A = np.zeros((len(pairs), len(names)))
    b = np.zeros(len(pairs))
    w = np.zeros(len(pairs))
    for r, ((p, q), d) in enumerate(pairs.items()):
        A[r, col[p]] += 1.0
        A[r, col[q]] += 1.0
        b[r] = float(np.median(d)) ** 2
        w[r] = np.sqrt(d.size)
    linked = coo_matrix((np.ones(len(pairs)), ([col[p] for p, _ in pairs],
                                               [col[q] for _, q in pairs])),
                        shape=(len(names), len(names)))
    _, label = connected_components(linked, directed=False)
    out = {}
    for c in np.unique(label).tolist():
        cols = np.flatnonzero(label == c)
        rows = np.flatnonzero(A[:, cols].any(axis=1))
        sub = A[np.ix_(rows, cols)] * w[rows, None]
        if np.linalg.matrix_rank(sub) < cols.size:
            continue  # e.g. two annotators, no self repeats: only x_a + x_b is known
        x, *_ = np.linalg.lstsq(sub, b[rows] * w[rows], rcond=None)
        for k, v in zip(cols.tolist(), x.tolist(), strict=True):
            out[names[k]] = float(np.sqrt(2.0 * max(v, 0.0)))
    return out


@dataclass(frozen=True)
class AnnotatorQuality:
    """One annotator's row of the report (see the module docstring)."""

    name: str
    packages: int
    instants: int
    joints: int
    clicks_per_joint: float | None
    active_hours: float
    joints_per_hour: float | None
    gold_joints: int
    gold_median_mm: float | None
    gold_p90_mm: float | None
    repeat_joints: int
    repeat_median_mm: float | None
    repeat_pooled_median_mm: float | None
    bone_flagged_share: float | None

    def to_json(self) -> dict:
        return dict(vars(self))


def _q(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if values.size else None


def quality_report(store) -> dict:
    """The ``qc --json`` document: ``{"project", "packages", "idle_gap_s", "annotators":
    [AnnotatorQuality.to_json()...], "bone_check": {...}}``."""
    ledger = read_ledger(store.path)
    if ledger is None:
        raise ValueError(f"{store.path}: no team yet (run 'annotator assign' first)")
    answers = collected_answers(store.path, ledger)
    stats = bone_check.subject_bone_stats(store)
    subject = bone_check.subject_of_instants(store)
    acc: dict[str, _Acc] = {n: _Acc() for n in ledger.annotators()}
    for record in ledger.packages:
        a = answers.get(record.id)
        if a is None:
            continue
        s = acc[record.annotator]
        s.packages += 1
        s.instants += int(np.unique(a.joint_row).size)
        s.joints += int(a.joint_row.size)
        s.clicks += int(a.click_row.size)
        s.active_s += _active_seconds(a.click_time)
        dense = a.joints_dense(J)
        for k in np.unique(a.joint_row).tolist():
            sub = int(subject[int(record.instants[k])])
            s.flagged += int(bone_check.flagged_joints(stats, sub, dense[k]).sum())
    errors = annotator_errors(store, ledger, answers)
    rows = []
    for name, s in acc.items():
        e = errors.get(name, {"gold": np.zeros(0), "repeat": np.zeros(0), "own": None})
        pooled = _q(e["repeat"], 50)
        hours = s.active_s / 3600.0
        rows.append(AnnotatorQuality(
            name=name, packages=s.packages, instants=s.instants, joints=s.joints,
            clicks_per_joint=s.clicks / s.joints if s.joints else None,
            active_hours=hours,
            joints_per_hour=s.joints / hours if hours > 0 else None,
            gold_joints=int(e["gold"].size), gold_median_mm=_q(e["gold"], 50),
            gold_p90_mm=_q(e["gold"], 90), repeat_joints=int(e["repeat"].size),
            repeat_median_mm=e["own"] if e["own"] is not None else pooled,
            repeat_pooled_median_mm=pooled,
            bone_flagged_share=s.flagged / s.joints if s.joints else None,
        ).to_json())
    return {
        "project": str(store.path),
        "packages": len(ledger.packages),
        "collected": len(answers),
        "idle_gap_s": IDLE_GAP_S,
        "annotators": rows,
        "bone_check": bone_check.stats_summary(stats),
    }


def _active_seconds(times: np.ndarray) -> float:
    t = np.sort(np.asarray(times, np.float64)[np.isfinite(times)])
    if t.size < 2:
        return 0.0
    gaps = np.diff(t)
    return float(gaps[gaps <= IDLE_GAP_S].sum())
