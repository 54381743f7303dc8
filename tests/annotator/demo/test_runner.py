"""The demo runner: stages as real subprocesses, markers, resume, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.demo.plan import SIZES, Stage
from annotator.demo.runner import (
    DemoStageError,
    check_size,
    read_records,
    run_stages,
    size_of,
    steps_logged,
)


def _synth(out: Path) -> Stage:
    return Stage("synth", "a tiny capture",
                 ("synth", str(out / "project"), "--cameras", "4", "--instants", "2",
                  "--subjects", "1", "--workers", "1"),
                 resume_argv=("--overwrite",), resume_if="project/project.toml",
                 items=8, unit="image")


def _status(out: Path) -> Stage:
    return Stage("status", "its status",
                 ("status", str(out / "project"), "--json"))


def test_stages_run_in_order_and_a_rerun_skips_them(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    lines: list[str] = []
    records = run_stages(out, [_synth(out), _status(out)], say=lines.append, tee=True)
    assert list(records) == ["synth", "status"]
    assert (out / "project" / "project.toml").exists()
    assert records["synth"].attempts == 1 and records["synth"].seconds > 0
    assert records["synth"].command.startswith("annotator synth ")
    log = (out / ".demo" / "logs" / "status.log").read_text()
    assert json.loads(log)["instants"] == 2  # the stage's own output, captured
    before = (out / ".demo" / "synth.done").read_text()
    lines.clear()
    again = run_stages(out, [_synth(out), _status(out)], say=lines.append, tee=True)
    assert again == records
    assert (out / ".demo" / "synth.done").read_text() == before
    assert sum("skipped" in line for line in lines) == 2


def test_interrupted_stage_reruns_with_its_resume_arguments(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    run_stages(out, [_synth(out)], tee=True)
    # as if killed after the project was moved into place but before the marker was written
    (out / ".demo" / "synth.done").unlink()
    lines: list[str] = []
    records = run_stages(out, [_synth(out)], say=lines.append, tee=True)
    assert records["synth"].attempts == 2
    assert any("--overwrite" in line for line in lines)  # plain synth refuses an existing project
    assert read_records(out)["synth"].attempts == 2


def test_failed_stage_raises_with_its_command_and_log(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    bad = Stage("status", "no such project", ("status", str(out / "missing")))
    with pytest.raises(DemoStageError) as caught:
        run_stages(out, [bad], tee=True)
    assert caught.value.returncode == 2
    assert "annotator status" in str(caught.value)
    assert "missing" in caught.value.log_path.read_text()
    assert not (out / ".demo" / "status.done").exists()
    assert (out / ".demo" / "status.started").exists()


def test_size_recorded_and_other_sizes_refused(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    check_size(out, SIZES["tiny"])
    check_size(out, SIZES["tiny"])  # same size: resume
    assert size_of(out) == SIZES["tiny"]
    with pytest.raises(ValueError, match="--size tiny"):
        check_size(out, SIZES["quick"])
    other = tmp_path / "busy"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        check_size(other, SIZES["tiny"])


def test_a_training_stage_records_the_steps_it_logged(tmp_path: Path) -> None:
    """A time budget may end a training before its planned steps: the record (and so the
    report's throughput) takes the steps from the newest matching metrics.jsonl."""
    import os

    out = tmp_path / "demo"
    old, new = out / "runs" / "a" / "metrics.jsonl", out / "runs" / "b" / "metrics.jsonl"
    for path, last in ((old, 50), (new, 7)):
        path.parent.mkdir(parents=True)
        path.write_text("".join(json.dumps({"step": k, "loss": 1.0}) + "\n"
                                for k in range(1, last + 1)) + '{"step": 9')  # torn last line
    os.utime(old, (1, 1))
    assert steps_logged(out, "runs/*/metrics.jsonl") == 7
    assert steps_logged(out, "nothing/*.jsonl") is None
    stage = Stage("status", "its status", ("synth", str(out / "project"), "--cameras", "4",
                  "--instants", "2", "--subjects", "1", "--workers", "1"),
                  items=1000, unit="step", steps_from="runs/*/metrics.jsonl")
    records = run_stages(out, [stage], say=lambda _: None, tee=False)
    assert records["status"].items == 7 and read_records(out)["status"].items == 7
