"""bench/paper_tables.py: the paper's Tables 3 and 4 over seeds, on a real (small) project."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annotator.skeleton import HANDS
from annotator.store import ProjectStore
from tests._bench_loader import load_bench
from tests.pose_net._data_support import one_torch_thread, synth_project  # noqa: F401


@pytest.fixture(scope="module")
def bench():
    return load_bench("paper_tables")


def test_an_ordering_needs_a_gap_beyond_the_spread(bench):
    def row(mean, std):
        return {"m": {"mean": mean, "std": std, "n": 3}}

    rows = {"A": row(10.0, 1.0), "B": row(13.0, 1.0), "C": row(11.5, 1.0), "D": row(9.0, None)}
    assert bench.compare(rows, "m", "A", "B") == {"gap": 3.0, "spread": 2.0, "verdict": "agrees"}
    assert bench.compare(rows, "m", "B", "A")["verdict"] == "reversed"
    assert bench.compare(rows, "m", "A", "C")["verdict"] == "within spread"
    assert bench.compare(rows, "m", "D", "A")["verdict"] == "one run"
    assert bench.compare(rows, "m", "A", "E")["verdict"] == "missing"
    agg = bench.aggregate([1.0, 2.0, None, float("nan"), 3.0])
    assert agg == {"mean": 2.0, "std": 1.0, "n": 3}
    assert bench.aggregate([5.0]) == {"mean": 5.0, "std": None, "n": 1}


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """Two subjects; subject 0's first instants carry human labels, the rest machine ones
    (both the studio's exact joints), subject 1 is held out."""
    path = synth_project(tmp_path_factory.mktemp("tables") / "p", cameras=4, instants=8,
                         subjects=2)
    with ProjectStore.open(path, mode="w") as store:
        subject = store.instant_attr("subject")
        mine = np.flatnonzero(subject == 0)
        for n, i in enumerate(mine.tolist()):
            gt = store.ground_truth(i)
            store.set_joints_3d(i, gt.joints_world_mm,
                                source="human" if n < len(mine) // 2 else "machine")
            for h, hand in enumerate(HANDS):
                store.set_hand_present(i, hand, bool(gt.hand_present[h]))
    return path


def test_tables_train_every_row_per_seed_and_aggregate(bench, labelled, tmp_path, capsys):
    out = tmp_path / "tables.json"
    assert bench.main([str(labelled), "--minutes", "0.05", "--steps", "2", "--repeats", "2",
                       "--every", "2", "--batch", "2", "--init-trunk", "none",
                       "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["held_in"] == ["0"] and result["held_out"] == ["1"]
    # five distinct trainings (H+M = SH+IH is shared) per seed, each with its own seed
    runs = result["runs"]
    assert len(runs) == 10
    assert sorted({(r["labels"], r["hands"]) for r in runs}) == [
        ("all", "all"), ("all", "interacting"), ("all", "single"), ("human", "all"),
        ("machine", "all")]
    assert sorted(r["seed"] for r in runs) == [0] * 5 + [1] * 5
    assert all(1 <= r["steps"] <= 2 and r["stopped_by"] in ("steps", "time") for r in runs)
    t3, t4 = result["rows"]["3"], result["rows"]["4"]
    # the Table 3 training sets split H+M's crops by their hands, Table 4's by their labels
    assert t3["SH"]["n_train"] + t3["IH"]["n_train"] == t3["SH+IH"]["n_train"] > 0
    assert t4["H"]["n_train"] + t4["M"]["n_train"] == t4["H+M"]["n_train"]
    assert t3["SH+IH"] == t4["H+M"]  # one row, shown in both tables
    for name, row in (*t3.items(), *t4.items()):
        mine = [r["mpjpe_all"] for r in runs
                if (r["labels"], r["hands"]) == (row["labels"], row["hands"])]
        assert row["mpjpe_all"]["n"] == 2, name
        assert row["mpjpe_all"]["mean"] == pytest.approx(np.mean(mine))
        assert row["mpjpe_all"]["std"] == pytest.approx(np.std(mine, ddof=1))
    for t, checks in result["orderings"].items():
        for c in checks:
            again = bench.compare(result["rows"][t], c["metric"], c["better"], c["worse"])
            assert c["verdict"] == again["verdict"] != "missing"
    text = capsys.readouterr().out
    assert "Table 3: training images by their hands" in text and "mean pose" in text
    assert result["command"].startswith("python bench/paper_tables.py ")


def test_bad_arguments_are_one_line_errors(bench, labelled, tmp_path, capsys):
    with pytest.raises(SystemExit):
        bench.main([str(labelled), "--tables", "5"])
    assert "--tables" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main([str(tmp_path), "--tables", "3"])
    assert "not a project" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="no subject 7"):
        bench.main([str(labelled), "--held-out", "7", "--init-trunk", "none"])
    with pytest.raises(SystemExit, match="no cpu-small machine-labeller checkpoint"):
        bench.main([str(labelled), "--tables", "3"])
