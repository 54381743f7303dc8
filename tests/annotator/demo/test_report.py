"""summary.json and report.html from stage outputs in the formats the commands write."""

from __future__ import annotations

import json
from pathlib import Path

from annotator.demo.plan import SIZES, build_plan
from annotator.demo.report import render_report
from annotator.demo.runner import StageRecord
from annotator.demo.summary import build_summary


def _write_results(out: Path, machine_joints: int) -> None:
    results = out / "results"
    results.mkdir(parents=True)
    (results / "human.json").write_text(json.dumps(
        {"median_mm": 1.5, "mean_mm": 1.8, "instants": 11, "joints": 288}))
    group = {"joints": machine_joints, "median_mm": 3.2 if machine_joints else None,
             "mean_mm": 4.0 if machine_joints else None, "p90_mm": None}
    (results / "evaluate.json").write_text(json.dumps({
        "machine": {**group, "single": group, "interacting": group, "instants": 25,
                    "coverage": 0.9 if machine_joints else 0.0, "flagged_joints": 3,
                    "hands": {"present": 40, "found": 37, "missed": 3, "extra": 2}},
        "human": {"joints": 288, "median_mm": 1.51, "mean_mm": 1.79, "instants": 11},
        "baseline": {"joints": 714, "median_mm": 58.8, "mean_mm": 64.3},
        "views_curve": [{"views": 2, "mean_mm": 9.0, "std_mm": 2.0},
                        {"views": 32, "mean_mm": 3.4, "std_mm": 0.3}],
    }))
    (results / "internet-all.json").write_text(json.dumps({
        "mpjpe_all": 30.0, "mpjpe_single": 25.0, "mpjpe_interacting": 35.0, "mrrpe": 60.0,
        "handedness_accuracy": 0.9, "baseline_mpjpe_all": 90.0,
        "baseline_mpjpe_single": 88.0, "baseline_mpjpe_interacting": 92.0,
        "handedness_by_type": {"right": 0.95, "left": 0.85, "interacting": None},
        "interacting_share": 0.25,
    }))
    (results / "bootstrap.json").write_text(json.dumps({"rounds": [
        {"round": 0, "labels": "human", "steps": 1305, "train_seconds": 150.1,
         "stopped_by": "time", "machine": None, "selection": None}]}))
    run = out / "internet" / "all"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text(
        json.dumps({"step": 1, "total": 2.0}) + "\n"
        + json.dumps({"end": True, "step": 812, "total_steps": 8000, "seconds": 120.2,
                      "stopped_by": "time"}) + "\n")


def _records(stages) -> dict[str, StageRecord]:
    return {s.name: StageRecord(s.name, s.command, 10.0 + k, 1, 0.0, s.items, s.unit, 5.0, 3.5)
            for k, s in enumerate(stages)}


def test_summary_and_report_from_stage_outputs(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    size = SIZES["quick"]
    stages = build_plan(out, size)
    _write_results(out, machine_joints=700)
    s = build_summary(out, size, stages, _records(stages), machine_info={"cpu": "x", "cores": 2},
                      mean_pose=None)
    assert s["human"]["median_mm"] == 1.51  # evaluate's figure over simulate-annotator's
    assert s["machine"]["median_mm"] == 3.2 and s["baseline"]["median_mm"] == 58.8
    assert s["internet"]["mpjpe_single"] == 25.0 and s["table4"]["H+M"]["mrrpe"] == 60.0
    assert s["internet_mean_pose"] == {"mpjpe_all": 90.0, "mpjpe_single": 88.0,
                                       "mpjpe_interacting": 92.0}
    assert s["seconds"]["synth"] == 10.0 and "synth" not in s["cpu_seconds"]
    assert s["total_seconds"] == sum(10.0 + k for k in range(len(stages)))
    page = render_report(out / "report.html", s, stages, figures={}).read_text()
    assert "0.05× the mean-pose baseline" in page  # 3.2 / 58.8
    assert "0.33× a constant mean pose" in page  # 30 / 90
    assert "12.16 / 16.02" in page  # the paper's H+M row beside ours
    assert "hands: 37 of 40 found, 3 missed, 2 labelled" in page
    assert "machine, hands" not in page  # counts, not an error row
    # handedness per hand type beside the two-hand share; what ended each training
    assert s["table4"]["H+M"]["handedness_by_type"] == {"right": 0.95, "left": 0.85,
                                                       "interacting": None}
    assert "95.0 / 85.0 / – % (25.0 %)" in page
    assert s["trainings"] == [
        {"stage": "bootstrap round 0 (train-labeler)", "steps": 1305, "seconds": 150.1,
         "stopped_by": "time"},
        {"stage": "train-internet-all", "steps": 812, "seconds": 120.2, "stopped_by": "time"}]
    assert "<td>train-internet-all</td><td class='num'>812</td>" in page
    assert "its time budget" in page
    for stage in stages:
        assert stage.argv[0] in page


def test_report_says_when_the_detector_found_no_hand(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    size = SIZES["quick"]
    stages = build_plan(out, size)
    _write_results(out, machine_joints=0)
    (out / "results" / "internet-all.json").unlink()  # InterNet not run yet
    s = build_summary(out, size, stages, {}, machine_info={}, mean_pose=None)
    assert s["machine"]["median_mm"] is None and s["internet"]["mpjpe_all"] is None
    page = render_report(out / "report.html", s, stages, figures={}).read_text()
    assert "found no hand after 1305 training steps" in page  # the steps bootstrap.json says
    assert "not produced in this run" in page


def test_full_report_names_the_best_table4_row_and_the_spread(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    size = SIZES["full"]
    stages = build_plan(out, size)
    _write_results(out, machine_joints=700)
    rows = {"human": 28.0, "machine": 33.5, "all": 30.0}
    for labels, mpjpe in rows.items():
        (out / "results" / f"internet-{labels}.json").write_text(json.dumps({
            "mpjpe_all": mpjpe, "mpjpe_single": mpjpe - 5, "mpjpe_interacting": mpjpe + 5,
            "mrrpe": 60.0, "handedness_accuracy": 0.5, "baseline_mpjpe_all": 90.0,
            "baseline_mpjpe_single": 88.0, "baseline_mpjpe_interacting": 92.0}))
    s = build_summary(out, size, stages, _records(stages), machine_info={}, mean_pose=None)
    assert {k: v["mpjpe_all"] for k, v in s["table4"].items()} == {"H": 28.0, "M": 33.5,
                                                                   "H+M": 30.0}
    page = render_report(out / "report.html", s, stages, figures={}).read_text()
    assert "Best here: <b>H</b>" in page
    assert "3.20 mm, 11% of the best InterNet's own error" in page  # 3.2 / 28
    assert "the rows span 5.5 mm" in page
    assert "--init-trunk labeler --no-augment" in page  # the commands as run
