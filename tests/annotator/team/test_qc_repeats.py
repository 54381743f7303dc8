"""Each annotator's own share of a disagreement on repeats (qc's ``repeat_median_mm``)."""

from __future__ import annotations

import numpy as np

from annotator.team.qc import own_repeat_medians


def _pair_distances(rng, sa: float, sb: float, n: int = 4000) -> np.ndarray:
    ea = rng.normal(0, sa, (n, 3))
    eb = rng.normal(0, sb, (n, 3))
    return np.linalg.norm(ea - eb, axis=1)


def test_own_medians_recover_each_annotators_agreement_with_themselves():
    rng = np.random.default_rng(0)
    sigma = {"a": 1.0, "b": 1.5, "c": 4.0}
    pairs = {(p, q): _pair_distances(rng, sigma[p], sigma[q])
             for p, q in (("a", "b"), ("a", "c"), ("b", "c"), ("a", "a"), ("b", "b"),
                          ("c", "c"))}
    own = own_repeat_medians(pairs)
    for name, s in sigma.items():
        truth = float(np.median(_pair_distances(rng, s, s)))  # two own answers apart
        assert abs(own[name] / truth - 1.0) < 0.08, (name, own[name], truth)


def test_pairs_that_cannot_separate_two_annotators_give_no_own_figure():
    rng = np.random.default_rng(1)
    assert own_repeat_medians({("a", "b"): _pair_distances(rng, 1.0, 2.0)}) == {}
    got = own_repeat_medians({("a", "b"): _pair_distances(rng, 1.0, 2.0),
                              ("b", "b"): _pair_distances(rng, 2.0, 2.0)})
    assert set(got) == {"a", "b"} and got["a"] < got["b"]
