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

from annotator import skeleton
from annotator.store.team_files import PackageAnswers, TeamLedger, read_gold, read_ledger
from annotator.team import bone_check
from annotator.team.collect import answer_rows, collected_answers

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
    """Per annotator: ``{"gold": (N,) mm, "repeat": (M,) mm}`` distances (module docstring)."""
    inst, ref = read_gold(store.path, J)
    gold_at = {int(i): k for k, i in enumerate(inst.tolist())}
    out: dict[str, dict[str, list]] = {}
    by_instant: dict[int, list[tuple[str, np.ndarray]]] = {}
    for record in ledger.packages:
        a = answers.get(record.id)
        if a is None:
            continue
        mine = out.setdefault(record.annotator, {"gold": [], "repeat": []})
        for k, (i, kind) in enumerate(zip(record.instants.tolist(), record.kinds.tolist(),
                                          strict=True)):
            jj, xyz, _ = answer_rows(a, k)["joints"]
            if jj.size == 0:
                continue
            full = np.full((J, 3), np.nan)
            full[jj] = xyz
            if kind == "gold":
                g = gold_at.get(int(i))
                if g is not None:
                    d = np.linalg.norm(full - ref[g], axis=1)
                    mine["gold"].append(d[np.isfinite(d)])
            else:
                by_instant.setdefault(int(i), []).append((record.annotator, full))
    pairs: dict[tuple[str, str], list[np.ndarray]] = {}
    for rows in by_instant.values():
        for x in range(len(rows)):
            for y in range(x + 1, len(rows)):
                d = np.linalg.norm(rows[x][1] - rows[y][1], axis=1)
                d = d[np.isfinite(d)]
                key = tuple(sorted((rows[x][0], rows[y][0])))
                pairs.setdefault(key, []).append(d)
                for who in set(key):
                    out.setdefault(who, {"gold": [], "repeat": []})["repeat"].append(d)
    result = {n: {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in e.items()}
              for n, e in out.items()}
    own = own_repeat_medians({k: np.concatenate(v) for k, v in pairs.items()})
    for n, e in result.items():
        e["own"] = own.get(n)
    return result


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
    out = {}
    for comp in _components(pairs, names):
        cols = [col[n] for n in comp]
        rows = np.flatnonzero(A[:, cols].any(axis=1))
        sub = A[np.ix_(rows, cols)] * w[rows, None]
        if np.linalg.matrix_rank(sub) < len(cols):
            continue  # e.g. two annotators, no self repeats: only x_a + x_b is known
        x, *_ = np.linalg.lstsq(sub, b[rows] * w[rows], rcond=None)
        for n, v in zip(comp, x.tolist(), strict=True):
            out[n] = float(np.sqrt(2.0 * max(v, 0.0)))
    return out


def _components(pairs, names: list[str]) -> list[list[str]]:
    """The groups of annotators linked by repeat pairs."""
    group = {n: n for n in names}

    def root(n: str) -> str:
        while group[n] != n:
            n = group[n]
        return n

    for p, q in pairs:
        group[root(p)] = root(q)
    comps: dict[str, list[str]] = {}
    for n in names:
        comps.setdefault(root(n), []).append(n)
    return list(comps.values())


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
    subject = (np.asarray(store.instant_attr("subject"), np.int64)
               if "subject" in store.instant_attr_names() else None)
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
        for k in np.unique(a.joint_row).tolist():
            jj, xyz, _ = answer_rows(a, k)["joints"]
            full = np.full((J, 3), np.nan)
            full[jj] = xyz
            sub = 0 if subject is None else int(subject[int(record.instants[k])])
            s.flagged += int(bone_check.flagged_joints(stats, sub, full)[jj].sum())
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
