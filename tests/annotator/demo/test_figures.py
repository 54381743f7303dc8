"""The report's figures and the mean-pose InterNet baseline."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from annotator.demo.baseline import mean_pose_baseline
from annotator.demo.figures import plot_training_curves, plot_views_curve, read_metrics
from annotator.demo.summary import lookup
from annotator.synth.studio import StudioConfig
from annotator.synth.writer import write_capture


def _png(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None and image.shape[0] > 200 and image.shape[1] > 300
    assert image.std() > 5  # something is drawn
    return image


def test_views_curve_png(tmp_path: Path) -> None:
    curve = [{"views": 2, "mean_mm": 9.0, "std_mm": 2.0}, {"views": 8, "mean_mm": 4.0,
             "std_mm": 0.5}, {"views": 32, "mean_mm": float("nan"), "std_mm": None}]
    path = plot_views_curve(curve, tmp_path / "v.png", human_median_mm=1.7,
                            baseline_median_mm=30.0)
    _png(path)


def test_training_curves_from_metrics_jsonl(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.jsonl"
    rows = [{"step": s, "loss": 1.0 / s, "loss_pose": 0.5 / s, "lr": 1e-3} for s in range(1, 9)]
    metrics.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
    assert len(read_metrics(metrics)) == 8
    _png(plot_training_curves({"a": metrics, "gone": tmp_path / "absent.jsonl"},
                              tmp_path / "t.png"))
    assert plot_training_curves({"gone": tmp_path / "absent.jsonl"}, tmp_path / "x.png") is None


def test_lookup_nested_and_flat() -> None:
    assert lookup({"machine": {"median_mm": 2.0}}, "machine.median_mm") == 2.0
    assert lookup({"machine.median_mm": 3.0}, "machine.median_mm") == 3.0
    assert lookup({"machine": 1}, "machine.median_mm") is None
    assert lookup(None, "x") is None


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("baseline") / "p"
    write_capture(out, StudioConfig(cameras=6, instants=6, subjects=2, seed=3))
    return out


def test_mean_pose_baseline(project: Path) -> None:
    held_out = mean_pose_baseline(project, [0], [1])
    assert held_out["samples"] > 0
    for key in ("mpjpe_all", "mpjpe_single", "mpjpe_interacting"):
        assert 5.0 < held_out[key] < 200.0, key  # a hand is ~180 mm long
    # the mean of a set fits that set better (in squared error) than the other subject's mean
    same = mean_pose_baseline(project, [1], [1])
    assert same["mpjpe_all"] < held_out["mpjpe_all"] * 1.05
    empty = mean_pose_baseline(project, [0], [7])
    assert empty["samples"] == 0 and np.isnan(empty["mpjpe_all"])


def test_held_out_pictures_come_from_different_sequences(tmp_path: Path) -> None:
    from annotator.demo.pictures import _held_out_samples
    from annotator.store import ProjectStore

    project = tmp_path / "p"
    # 34 sequences a subject: 72 instants give the first two of each subject two frames
    write_capture(project, StudioConfig(cameras=2, instants=72, subjects=2, seed=3,
                                        width=256, height=168))
    with ProjectStore.open(project, mode="r") as store:
        subject = store.instant_attr("subject")
        held_out = [int(i) for i in np.flatnonzero(subject == 1)]
        sequences = {(store.instant(i).capture, store.instant(i).sequence) for i in held_out}
        assert len(sequences) < len(held_out)  # a sequence has several instants to repeat
        chosen = _held_out_samples(store, [1], 4)
        assert chosen and all(i in held_out for i, _ in chosen)
        picked = [(store.instant(i).capture, store.instant(i).sequence) for i, _ in chosen]
        assert len(set(picked)) == len(picked)
        two_hands = [bool(np.all(store.ground_truth(i).hand_present)) for i, _ in chosen]
        assert two_hands[0] is False
        assert all(a != b for a, b in zip(two_hands, two_hands[1:], strict=False))
