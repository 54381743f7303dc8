"""``bench/chirality_order.py`` and ``bench/machine_hands.py`` on shards made from the ground
truth: every true hand is put in its slot by both chirality rules, hands swapped into each
other's slots are still told apart and counted as swapped, and hands farther than ``--max-mm``
from any truth are left out of the counts."""

from __future__ import annotations

import numpy as np

from annotator import skeleton
from annotator.store import ProjectStore
from annotator.store.machine_shards import ShardWriter, write_manifest
from tests._bench_loader import load_bench
from tests.machine_labeler.labeling_support import make_synth, records_from_truth


def _truth_shard(tmp_path, edit):
    """A small rendered project whose one machine shard holds the ground truth, changed in
    place by ``edit(store, joints (F, J, 3), hand_present (F, 2))`` before it is written;
    returns (project, hand_present)."""
    project = make_synth(tmp_path / "p", cameras=6, instants=10, subjects=1, width=128,
                         height=96)
    with ProjectStore.open(project, "w") as store:
        instants = np.arange(store.num_instants)
        present = np.array([store.ground_truth(int(i)).hand_present for i in instants])
        rec = records_from_truth(store, instants)
        edit(store, rec.joints_world_mm, present)
        write_manifest(store.machine_dir, instants, {})
        w = ShardWriter(store.machine_dir, 0, 1, store.camera_names, skeleton.NUM_JOINTS)
        w.add(rec)
        w.close()
    return project, present


def test_counts_on_true_and_swapped_hands(tmp_path, capsys):
    def edit(store, joints, present):
        joints[1::2] = joints[1::2][:, skeleton.FLIP_INDEX]  # every other instant swapped
        joints[0] += 500.0  # far from every true hand: skipped

    project, present = _truth_shard(tmp_path, edit)
    bench = load_bench("chirality_order")
    counts = bench.count(project, max_mm=60.0)
    two = int(present[1:].all(1).sum())
    one = int((present[1:].sum(1) == 1).sum())
    assert two + one == len(present) - 1 and two > 0 and one > 0
    for rule in bench.RULES:
        assert counts[rule] == {"two": [two, two], "one": [one, one]}
    assert bench.main([str(project)]) == 0
    assert f"| {two} of {two} | {one} of {one} |" in capsys.readouterr().out


def test_machine_hands_breakdown(tmp_path, capsys):
    """``bench/machine_hands.py``: true hands score 0 mm; one two-hand instant (hands more
    than 30 mm apart) with its hands in each other's slots is two swapped, gross hands
    carrying all the error."""

    def edit(store, joints, present):
        both = np.flatnonzero(present.all(1))
        apart = [np.median(np.linalg.norm(np.subtract(*np.split(
            store.ground_truth(int(i)).joints_world_mm, 2)), axis=1)) for i in both]
        k = int(both[int(np.argmax(apart))])  # the two hands farthest apart
        assert max(apart) > 30.0  # so each swapped hand is a gross one
        joints[k] = joints[k][skeleton.FLIP_INDEX]

    project, present = _truth_shard(tmp_path, edit)
    bench = load_bench("machine_hands")
    rows = bench.hand_rows(project, sorted((project / "machine").glob("shard-*.h5")))
    s = bench.summary(rows, gross_mm=30.0)
    assert s["hands"] == int(present.sum()) and s["swapped"] == 2 and s["gross"] == 2
    assert s["swapped_error_share"] == s["gross_error_share"] == 1.0
    assert s["mean_without_gross_mm"] == 0.0 and s["mean_mm"] > 0
    assert bench.main([str(project)]) == 0
    assert "2 in the other hand's slot (100 %" in capsys.readouterr().out
