"""Who labels what: the queues of a labelling team (pure numpy, no files).

Every selected instant is *work* for exactly one annotator (dealt in turn after a seeded
shuffle). To each annotator's queue of ``W`` work instants come ``round(gold * W)`` *gold*
instants (trusted 3D known; preferably instants nobody is labelling) and ``round(repeat *
W)`` *repeat* instants: with two or more annotators, half of them (rounded down) are
instants another annotator labels as work (partners taken in turn, so every pair shares
about as many: agreement between people) and the rest are instants of the annotator's own
queue given again, half a queue later (agreement with oneself, which separates each
annotator's share of a disagreement from their partner's); alone, all repeats are of the
second kind. The queue is shuffled, so gold and repeats sit among the work like any other
instant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Queue", "plan_queues", "parse_instants"]


@dataclass(frozen=True)
class Queue:
    """One annotator's queue: package row ``k`` is project instant ``instants[k]``."""

    annotator: str
    instants: np.ndarray
    kinds: np.ndarray  # (K,) str in annotator.store.team_files.ROW_KINDS


def parse_instants(spec: str, num_instants: int, labelled: np.ndarray) -> np.ndarray:
    """Instants named by ``unlabelled`` (no human 3D joint yet), ``all`` or ranges
    ``A-B,C,D-E`` (inclusive, 0-based instant indices). ValueError on a bad spec."""
    spec = str(spec).strip()
    every = np.arange(num_instants, dtype=np.int64)
    if spec == "all":
        return every
    if spec == "unlabelled":
        return np.setdiff1d(every, np.asarray(labelled, np.int64))
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise ValueError(
                f"--instants: {part!r} is not 'unlabelled', 'all' or a range like 0-99"
            ) from None
        if a < 0 or b < a or b >= num_instants:
            raise ValueError(
                f"--instants: {part!r} is outside the project's instants 0-{num_instants - 1}"
            )
        out.extend(range(a, b + 1))
    return np.unique(np.array(out, np.int64))


def plan_queues(
    instants: np.ndarray,
    annotators: list[str],
    gold_pool: np.ndarray,
    gold: float,
    repeat: float,
    seed: int,
) -> list[Queue]:
    """The queues for ``annotators`` over ``instants`` (see the module docstring).

    gold_pool: instants whose trusted 3D is known (gold is drawn from them). ValueError when
    gold is asked for and the pool is empty, or a fraction is outside [0, 1).
    """
    names = [str(a) for a in annotators]
    if not names or len(set(names)) != len(names) or any(not n for n in names):
        raise ValueError(f"annotators must be distinct non-empty names, got {annotators!r}")
    for what, v in (("gold", gold), ("repeat", repeat)):
        if not 0.0 <= float(v) < 1.0:
            raise ValueError(f"--{what} must be a fraction in [0, 1), got {v}")
    work_all = np.asarray(instants, np.int64)
    if work_all.size < len(names):
        raise ValueError(
            f"{work_all.size} instants for {len(names)} annotators: every annotator needs one"
        )
    pool = np.unique(np.asarray(gold_pool, np.int64))
    if gold > 0 and pool.size == 0:
        raise ValueError(
            "gold instants need trusted 3D: the project has no ground truth and no human "
            "labels outside the instants to label (label some first, or --gold 0)"
        )
    rng = np.random.default_rng([int(seed), 28])
    shuffled = rng.permutation(work_all)
    n = len(names)
    work = [np.sort(shuffled[a::n]) for a in range(n)]
    queues = []
    for a, name in enumerate(names):
        own = work[a]
        rows = [(int(i), "work") for i in own]
        n_rep = int(round(repeat * own.size))
        n_cross = n_rep // 2 if n > 1 else 0
        if n_cross:
            rows += [(int(i), "repeat") for i in _cross_repeats(work, a, n_cross, rng)]
        n_gold = int(round(gold * own.size))
        if n_gold:
            rows += [(int(i), "gold") for i in _gold(pool, own, work_all, n_gold, rng)]
        order = rng.permutation(len(rows))
        rows = [rows[k] for k in order]
        if n_rep - n_cross:
            rows = _self_repeats(rows, n_rep - n_cross, rng)
        queues.append(Queue(
            name, np.array([r[0] for r in rows], np.int64),
            np.array([r[1] for r in rows], dtype=object).astype(str),
        ))
    return queues


def _cross_repeats(work: list[np.ndarray], a: int, n_rep: int, rng) -> list[int]:
    """``n_rep`` instants of other annotators' work, partners in turn."""
    n = len(work)
    partners = [(a + k) % n for k in range(1, n)]
    pools = {b: list(rng.permutation(work[b])) for b in partners}
    out: list[int] = []
    k = 0
    while len(out) < n_rep and any(pools.values()):
        b = partners[k % len(partners)]
        if pools[b]:
            out.append(int(pools[b].pop()))
        k += 1
    return out


def _gold(pool: np.ndarray, own: np.ndarray, work_all: np.ndarray, n_gold: int,
          rng) -> np.ndarray:
    """Gold instants: first from the pool outside everyone's work, then outside own work."""
    free = np.setdiff1d(pool, work_all)
    others = np.setdiff1d(np.setdiff1d(pool, own), free)
    picked = rng.permutation(free)[:n_gold]
    if picked.size < n_gold:
        picked = np.concatenate([picked, rng.permutation(others)[: n_gold - picked.size]])
    return picked


def _self_repeats(rows: list[tuple[int, str]], n_rep: int, rng) -> list[tuple[int, str]]:
    """``n_rep`` of the queue's work instants come again, half a queue later."""
    work_pos = [k for k, (_, kind) in enumerate(rows) if kind == "work"]
    total = len(rows) + n_rep
    first = [k for k in work_pos if k < len(rows) // 2] or work_pos
    chosen = sorted(rng.permutation(first)[:n_rep].tolist())
    out = list(rows)
    for k in reversed(chosen):
        at = min(len(out), k + total // 2 + 1)
        out.insert(at, (rows[k][0], "repeat"))
    return out
