"""Who labels what: every instant once as work, gold and repeats mixed in and hidden."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.team.queues import parse_instants, plan_queues


def _by_kind(q, kind):
    return q.instants[q.kinds == kind]


def test_every_instant_is_work_once_and_gold_and_repeats_are_mixed_in():
    inst = np.arange(100, 400)
    queues = plan_queues(inst, ["a", "b", "c"], np.arange(0, 1000), 0.1, 0.1, seed=1)
    work = np.concatenate([_by_kind(q, "work") for q in queues])
    assert np.array_equal(np.sort(work), inst)
    for q in queues:
        w = _by_kind(q, "work").size
        assert _by_kind(q, "gold").size == round(0.1 * w)
        rep = _by_kind(q, "repeat")
        assert rep.size == round(0.1 * w)
        # gold comes from outside everyone's work when the pool allows
        assert not np.isin(_by_kind(q, "gold"), inst).any()
        # half the repeats are somebody else's work, the rest the annotator's own, again
        cross = rep[~np.isin(rep, _by_kind(q, "work"))]
        assert cross.size == rep.size // 2
        for i in np.setdiff1d(rep, cross).tolist():
            pos = np.flatnonzero(q.instants == i)
            assert pos.size == 2 and pos[1] - pos[0] >= q.instants.size // 3
        # shuffled: the kinds are not in blocks
        first_special = np.flatnonzero(q.kinds != "work")
        assert first_special.min() < q.instants.size - first_special.size
    # partners are shared evenly: each pair of annotators shares about as many repeats
    owner = {int(i): q.annotator for q in queues for i in _by_kind(q, "work")}
    pairs = {}
    for q in queues:
        for i in np.setdiff1d(_by_kind(q, "repeat"), _by_kind(q, "work")):
            key = tuple(sorted((q.annotator, owner[int(i)])))
            pairs[key] = pairs.get(key, 0) + 1
    assert len(pairs) == 3 and max(pairs.values()) - min(pairs.values()) <= 2


def test_one_annotator_repeats_own_instants_half_a_queue_apart():
    (q,) = plan_queues(np.arange(60), ["solo"], np.arange(60), 0.0, 0.2, seed=3)
    rep = _by_kind(q, "repeat")
    assert rep.size == 12 and np.isin(rep, _by_kind(q, "work")).all()
    for i in rep.tolist():
        pos = np.flatnonzero(q.instants == i)
        assert pos.size == 2 and pos[1] - pos[0] >= q.instants.size // 3


def test_gold_falls_back_to_other_annotators_work_but_never_own():
    queues = plan_queues(np.arange(40), ["a", "b"], np.arange(40), 0.25, 0.0, seed=0)
    for q in queues:
        gold = _by_kind(q, "gold")
        assert gold.size == 5 and not np.isin(gold, _by_kind(q, "work")).any()


def test_the_deal_is_seeded():
    a = plan_queues(np.arange(50), ["x", "y"], np.arange(50), 0.1, 0.1, seed=7)
    b = plan_queues(np.arange(50), ["x", "y"], np.arange(50), 0.1, 0.1, seed=7)
    c = plan_queues(np.arange(50), ["x", "y"], np.arange(50), 0.1, 0.1, seed=8)
    assert all(np.array_equal(p.instants, q.instants) for p, q in zip(a, b, strict=True))
    assert not all(np.array_equal(p.instants, q.instants) for p, q in zip(a, c, strict=True))


@pytest.mark.parametrize(("names", "gold", "repeat", "pool", "match"), [
    (["a", "a"], 0.1, 0.1, 10, "distinct"),
    ([], 0.1, 0.1, 10, "distinct"),
    (["a"], 1.0, 0.1, 10, "--gold"),
    (["a"], 0.1, -0.1, 10, "--repeat"),
    (["a"], 0.1, 0.0, 0, "trusted 3D"),
])
def test_bad_plans_are_refused(names, gold, repeat, pool, match):
    with pytest.raises(ValueError, match=match):
        plan_queues(np.arange(20), names, np.arange(pool), gold, repeat, seed=0)


def test_instant_specs():
    labelled = np.array([1, 3])
    assert parse_instants("unlabelled", 5, labelled).tolist() == [0, 2, 4]
    assert parse_instants("all", 3, labelled).tolist() == [0, 1, 2]
    assert parse_instants("0-2, 4", 6, labelled).tolist() == [0, 1, 2, 4]
    for bad in ("3-1", "0-9", "x", "-1"):
        with pytest.raises(ValueError, match="--instants"):
            parse_instants(bad, 6, labelled)
