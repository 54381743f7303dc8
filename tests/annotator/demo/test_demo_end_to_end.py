"""``annotator demo`` for real at its smallest size: killed mid-run, resumed, then checked.

One demo serves every test of this module (it takes ~2-4 minutes on 2 CPU cores): a real
``annotator demo OUT --size tiny`` process is SIGKILLed while its bootstrap stage runs,
the same command is run again, and it must resume there and finish; then summary.json and
report.html are checked.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from annotator.demo.plan import SIZES, build_plan
from annotator.demo.runner import annotator_argv, read_records
from tests._bench_loader import load_bench

pytestmark = pytest.mark.slow

KILL_IN = "bootstrap"


def _dead(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status  # a zombie has exited; only its parent's wait is missing


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("demo") / "out"
    cmd = annotator_argv(["demo", str(out), "--size", "tiny"])
    log = (out.parent / "first.log").open("w")
    first = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    marker = out / ".demo" / f"{KILL_IN}.started"
    deadline = time.monotonic() + 600
    while not (marker.exists() and "pid" in marker.read_text()):
        if first.poll() is not None:
            pytest.fail(f"demo exited ({first.returncode}) before {KILL_IN}: "
                        + (out.parent / "first.log").read_text()[-2000:])
        if time.monotonic() > deadline:
            first.kill()
            pytest.fail(f"demo never reached {KILL_IN}")
        time.sleep(0.2)
    time.sleep(4)  # the stage is under way (importing torch, reading crops or training)
    child = json.loads(marker.read_text())["pid"]
    first.send_signal(signal.SIGKILL)
    first.wait()
    log.close()
    for _ in range(100):  # PR_SET_PDEATHSIG: the stage dies with the demo
        if _dead(child):
            break
        time.sleep(0.1)
    child_died = _dead(child)
    if not child_died:
        os.kill(child, signal.SIGKILL)
    done_before = set(read_records(out))
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    return {"out": out, "second": second, "child_died": child_died,
            "done_before": done_before}


def test_killed_demo_resumes_at_the_stage_it_was_in(demo) -> None:
    second, out = demo["second"], demo["out"]
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert demo["child_died"], "the running stage outlived the killed demo"
    assert KILL_IN not in demo["done_before"]
    assert {"synth", "simulate-annotator", "propagate"} <= demo["done_before"]
    records = read_records(out)
    assert records[KILL_IN].attempts == 2
    for name in demo["done_before"]:
        assert records[name].attempts == 1
        assert f"{name}: done before" in second.stdout  # skipped, not redone
    assert f"annotator gui {out / 'project'}" in second.stdout
    assert str(out / "report.html") in second.stdout


def test_summary_holds_the_headline_numbers(demo) -> None:
    out = demo["out"]
    s = json.loads((out / "summary.json").read_text())
    assert Path(s["project"]) == (out / "project").resolve()
    for key in ("human.median_mm", "internet.mpjpe_all", "internet.mpjpe_single",
                "internet.mpjpe_interacting", "internet.mrrpe", "internet.handedness_accuracy"):
        group, name = key.split(".")
        value = s[group][name]
        assert value is not None and math.isfinite(value), key
    # a 3-step detector may find no hand at all: then these are null, never NaN
    for key in ("machine.median_mm", "baseline.median_mm"):
        group, name = key.split(".")
        assert name in s[group], key
        assert s[group][name] is None or math.isfinite(s[group][name]), key
    assert s["internet_mean_pose"]["mpjpe_all"] > 0
    assert 0 < s["human"]["median_mm"] < 5  # 2 views at 1.5 px noise
    assert 0 <= s["internet"]["handedness_accuracy"] <= 1
    stages = [st.name for st in build_plan(out, SIZES["tiny"])]
    assert set(stages) <= set(s["seconds"])
    assert all(v > 0 for v in s["seconds"].values())
    assert s["views_curve"] and s["views_curve"][-1]["views"] == SIZES["tiny"].cameras
    assert s["machine_info"]["cores"] >= 1 and s["machine_info"]["cpu"]
    # the steps each training took, read back from its metrics.jsonl
    assert s["steps"] == {"train-internet-all": SIZES["tiny"].internet_steps}
    # the bootstrapping rounds: round 0 on the human labels, round 1 on human + machine
    rounds = s["bootstrap"]
    assert [r["round"] for r in rounds] == [0, 1]
    assert [r["labels"] for r in rounds] == ["human", "human+machine"]
    assert [r["steps"] for r in rounds] == [SIZES["tiny"].labeler_steps,
                                            SIZES["tiny"].round_steps]
    assert all(r["machine"] is not None for r in rounds)
    assert rounds[1]["selection"]["candidates"] >= rounds[1]["selection"]["kept"] >= 0
    assert "flagged_share" in s["qc"]


def test_report_is_self_contained_and_lists_every_command(demo) -> None:
    out = demo["out"]
    page = (out / "report.html").read_text()
    for stage in build_plan(out, SIZES["tiny"]):
        assert stage.argv[0] in page
    assert page.count("data:image/png;base64,") >= 3  # views curve, labels, training
    assert "Multiview bootstrapping, round by round" in page
    assert 'src="http' not in page and "src='http" not in page
    for name in ("views_curve.png", "labels.png", "training.png"):
        assert (out / "figures" / name).stat().st_size > 5000


def test_paper_tables_bench_writes_into_the_demos_report(demo) -> None:
    # bench/paper_tables.py given the demo's project: results/paper_tables.json, summary.json
    # and the report gain Table 3 (the rows trained from the demo's labeller checkpoint).

    out = demo["out"]
    bench = load_bench("paper_tables")
    assert "Table 3: training images" not in (out / "report.html").read_text()
    assert bench.main([str(out / "project"), "--tables", "3", "--minutes", "0.05", "--steps",
                       "1", "--repeats", "2", "--batch", "2"]) == 0
    written = json.loads((out / "results" / "paper_tables.json").read_text())
    assert written["held_out"] == [str(s) for s in SIZES["tiny"].held_out_subjects]
    assert written["init_trunk"] and "labeler" in written["init_trunk"]
    s = json.loads((out / "summary.json").read_text())
    assert s["paper_tables"]["rows"] == written["rows"]
    page = (out / "report.html").read_text()
    assert "Table 3: training images by their hands" in page
    assert written["command"] in page
