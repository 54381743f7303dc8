"""``bench/labeler_ensemble.py`` on a small rendered project with two untrained detectors:
every row really labels, merges and evaluates, and the last row leaves the ensemble's
mirrored labels in the project."""

from __future__ import annotations

import json

from tests._bench_loader import load_bench
from tests.machine_labeler.labeling_support import make_detector_checkpoint, make_synth


def test_rows_label_merge_and_evaluate(tmp_path, capsys):
    project = make_synth(tmp_path / "p", cameras=8, instants=3, subjects=1, width=128,
                         height=96)
    a = make_detector_checkpoint(project, seed=0)
    b = make_detector_checkpoint(project, seed=1)
    bench = load_bench("labeler_ensemble")
    out = tmp_path / "rows.json"
    assert bench.main([str(project), "--models", str(a), str(b), "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["models"], r["mirrored"]) for r in rows] == [
        ([str(a)], False), ([str(a)], True), ([str(b)], False), ([str(b)], True),
        ([str(a), str(b)], False), ([str(a), str(b)], True)]
    assert all(r["label_seconds"] > 0 for r in rows)
    assert (tmp_path / "results" / "labeler_ensemble" / "ensemble_of_2_mirrored.json").exists()
    key = json.loads((project / "machine" / "run.json").read_text())["meta"]["run_key"]
    assert key["model"] == [str(a.resolve()), str(b.resolve())] and key["flip_test"] is True
    text = capsys.readouterr().out
    assert text.count("| ensemble of 2 |") == 2 and "| detector 1 | yes |" in text
