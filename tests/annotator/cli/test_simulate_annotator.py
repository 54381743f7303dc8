"""``annotator simulate-annotator``: JSON numbers checked against the store, exact clicks give
exact 3D, more views give smaller error, determinism, and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annotator import skeleton
from annotator.cli.main import main
from annotator.store import ProjectStore
from tests._support.synth_project import copy_project


def run_sim(project, tmp_path, *extra, name="out.json") -> dict:
    out = tmp_path / name
    assert main(["simulate-annotator", str(project), "--json", str(out), *extra]) == 0
    return json.loads(out.read_text())


def test_json_matches_the_human_labels_in_the_store(synth_copy, tmp_path, capsys):
    res = run_sim(synth_copy, tmp_path, "--fraction", "0.5", "--views", "2", "--noise-px", "1.5")
    assert set(res) == {"median_mm", "mean_mm", "instants", "joints"}
    assert "3D error median" in capsys.readouterr().out
    with ProjectStore.open(synth_copy) as store:
        labelled = store.labelled_instants("human")
        assert res["instants"] == len(labelled) == 3  # round(0.5 * 6)
        errors = []
        for i in labelled.tolist():
            lab, gt = store.labels(i), store.ground_truth(i)
            present = np.repeat(gt.hand_present, skeleton.JOINTS_PER_HAND)
            human = lab.joint_source == "human"
            assert not (human & ~present).any()  # nothing labelled on an absent hand
            assert lab.hand_present.tolist() == gt.hand_present.astype(int).tolist()
            assert (lab.annotator[human] == "simulated").all()
            # every joint visible in >= 2 cameras of its rig is labelled
            rig_cols = [store.camera_index(c) for c in store.rig(store.instant(i).capture).names]
            seen2 = (gt.visible[rig_cols].sum(0) >= 2) & present
            assert np.array_equal(human, seen2)
            # exactly --views clicks per labelled joint, all where the joint is visible
            clicked = np.isfinite(lab.clicks_uv_px[..., 0])
            assert (clicked.sum(0)[human] == 2).all() and not (clicked & ~gt.visible).any()
            errors.append(np.linalg.norm(lab.joints_world_mm[human] - gt.joints_world_mm[human],
                                         axis=1))
    errors = np.concatenate(errors)
    assert res["joints"] == errors.size
    assert res["median_mm"] == pytest.approx(np.median(errors), rel=1e-9)
    assert res["mean_mm"] == pytest.approx(np.mean(errors), rel=1e-9)
    assert 0.2 < res["median_mm"] < 6.0  # 1.5 px noise on a 256 px image: mm, not cm


def test_exact_clicks_give_exact_3d(synth_copy, tmp_path):
    res = run_sim(synth_copy, tmp_path, "--fraction", "0.3", "--noise-px", "0")
    assert res["joints"] > 20 and res["median_mm"] < 1e-3 and res["mean_mm"] < 1e-3


def test_four_views_beat_two(synth_master, tmp_path):
    two = run_sim(copy_project(synth_master, tmp_path / "a"), tmp_path, "--fraction", "1",
                  "--views", "2", "--seed", "1", name="two.json")
    four = run_sim(copy_project(synth_master, tmp_path / "b"), tmp_path, "--fraction", "1",
                   "--views", "4", "--seed", "1", name="four.json")
    assert four["joints"] == two["joints"] > 100
    assert four["median_mm"] < 0.9 * two["median_mm"]
    assert four["mean_mm"] < two["mean_mm"]


def test_deterministic_and_rerun_relabels_from_scratch(synth_master, tmp_path):
    a = run_sim(copy_project(synth_master, tmp_path / "a"), tmp_path, "--seed", "5",
                name="a.json")
    proj = copy_project(synth_master, tmp_path / "b")
    run_sim(proj, tmp_path, "--seed", "5", "--views", "3", name="b0.json")
    b = run_sim(proj, tmp_path, "--seed", "5", name="b.json")  # over the 3-view labels
    assert a == b
    with ProjectStore.open(proj) as store:
        for i in store.labelled_instants("human").tolist():
            clicks = np.isfinite(store.labels(i).clicks_uv_px[..., 0]).sum(0)
            assert clicks.max() == 2


def test_errors_are_one_line(synth_copy, tmp_path, capsys):
    (synth_copy / "ground_truth.h5").unlink()
    assert main(["simulate-annotator", str(synth_copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no ground truth" in err and str(synth_copy.name) in err and "\n" not in err
    assert main(["simulate-annotator", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    for bad in (["--views", "1"], ["--fraction", "0"], ["--fraction", "1.5"],
                ["--noise-px", "-1"]):
        with pytest.raises(SystemExit) as exc:
            main(["simulate-annotator", str(synth_copy), *bad])
        assert exc.value.code == 2
