"""bench/handedness.py on a tiny project: every variant and seed trained and evaluated, the
flip variant's crops flipped, the patched augmentation and config gone afterwards."""

from __future__ import annotations

import json

import pytest

from tests._bench_loader import load_bench
from tests.pose_net._data_support import (  # one_torch_thread: autouse fixture
    ground_truth_as_human,
    one_torch_thread,  # noqa: F401
    synth_project,
)


def test_handedness_bench_rows(tmp_path, capsys):
    bench = load_bench("handedness")
    project = synth_project(tmp_path / "p", cameras=4, instants=6, subjects=2)
    ground_truth_as_human(project)
    import pose_net.data.torch_dataset as td
    from pose_net.config import CONFIGS

    before = td.sample_augmentation
    out = tmp_path / "rows.json"
    assert bench.main([str(project), "--train-subjects", "0", "--test-subjects", "1",
                       "--steps", "1", "--variants", "w1,w10-flip,w1-heatmaps", "--seeds",
                       "0,1", "--every", "1", "--batch", "2", "--json", str(out),
                       "--labels", "human", "--train-every", "2"]) == 0
    rows = json.loads(out.read_text())
    assert [(r["variant"], r["seed"]) for r in rows] == [
        ("w1", 0), ("w1", 1), ("w10-flip", 0), ("w10-flip", 1), ("w1-heatmaps", 0),
        ("w1-heatmaps", 1)]
    for r in rows:
        assert r["steps"] == 1 and 0 <= r["handedness"] <= 1 and 0 <= r["train_handedness"] <= 1
        assert set(r["by_type"]) == {"right", "left", "interacting"}
    assert td.sample_augmentation is before and "bench-handedness" not in CONFIGS
    assert bench._flip_only(__import__("numpy").random.default_rng(0)).scale == 1.0
    assert "two-hand share" in capsys.readouterr().out
    # a misspelt suffix is an error, not the paper's head under another name
    with pytest.raises(SystemExit):
        bench.main([str(project), "--train-subjects", "0", "--test-subjects", "1",
                    "--variants", "w1-spatail"])
    assert "got ['w1-spatail']" in capsys.readouterr().err


def test_handedness_probe_runs_its_three_parts(tmp_path, capsys):
    import torch

    from pose_net import InterNet
    from pose_net.checkpoint import save_checkpoint
    from pose_net.config import get_config

    bench = load_bench("handedness_probe")
    project = synth_project(tmp_path / "p", cameras=4, instants=6, subjects=2)
    ground_truth_as_human(project, instants=[0, 1, 2])
    ckpt = tmp_path / "m.pth"
    torch.manual_seed(0)
    save_checkpoint(ckpt, InterNet(get_config("cpu-small")))
    assert bench.main([str(project), "--train-subjects", "0", "--test-subjects", "1",
                       "--steps", "2", "--every-steps", "1", "--model", str(ckpt)]) == 0
    out = capsys.readouterr().out
    # three human-labelled instants, all with their true hands; the rest unlabelled
    assert "instants labelled by people: stored hands = true hands in 3 of 3" in out
    assert "instants labelled by machine alone: stored hands = true hands in 0 of 0" in out
    assert out.count("cue: no flips step") == 2 and out.count("cue: flips step") == 2
    assert "output: " in out and "predicted right output" in out
