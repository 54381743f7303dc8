"""Multiview bootstrapping: train-labeler --labels human+machine, --init newest, and
``annotator bootstrap`` end to end, killed with SIGKILL and resumed."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from annotator import skeleton
from annotator.cli.main import main
from annotator.machine_labels.merge import read_detections
from annotator.machine_labels.selection import select_machine_joints
from annotator.store import ProjectStore
from annotator.store.machine_shards import ShardWriter
from machine_labeler import train as train_module
from machine_labeler.checkpoint import load_checkpoint, new_run_dir, save_checkpoint
from machine_labeler.config import CONFIGS
from machine_labeler.model import KeypointDetector
from machine_labeler.train_data import load_labelled_views, load_machine_views
from tests.machine_labeler._labelled_project import label_from_ground_truth
from tests.machine_labeler.labeling_support import copy_project, make_synth, records_from_truth

HUMAN = [0, 3]
FAST = ["--batch-size", "2", "--workers", "0", "--device", "cpu"]


@pytest.fixture(scope="module")
def bare(tmp_path_factory) -> Path:
    return make_synth(tmp_path_factory.mktemp("boot") / "bare", cameras=6, instants=6,
                      subjects=1, width=160, height=120)  # fmt: skip


@pytest.fixture(scope="module")
def labelled(bare: Path, tmp_path_factory) -> Path:
    out = copy_project(bare, tmp_path_factory.mktemp("boot") / "labelled")
    label_from_ground_truth(out, instants=np.array(HUMAN), noise_px=0.0)
    return out


def _runs(project: Path) -> list[Path]:
    root = project / "models" / "labeler"
    return sorted(root.iterdir()) if root.is_dir() else []


def _one_line_error(capsys, *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("annotator "), err
    for w in words:
        assert w in err, err
    return err


def _merge_truth_machine_labels(project: Path) -> None:
    """Machine labels made from the truth (6 inliers, 0 px), merged like a real run's."""
    with ProjectStore.open(project, "w") as store:
        rest = np.setdiff1d(np.arange(store.num_instants), HUMAN)
        w = ShardWriter(store.machine_dir, 0, 1, store.camera_names, skeleton.NUM_JOINTS)
        w.add(records_from_truth(store, rest))
        w.close()
    assert main(["merge", str(project)]) == 0


def test_human_plus_machine_training_and_init_newest(labelled, tmp_path, capsys, monkeypatch):
    proj = copy_project(labelled, tmp_path / "p")
    _merge_truth_machine_labels(proj)
    capsys.readouterr()
    base = ["train-labeler", str(proj), "--steps", "2", *FAST]
    assert main([*base, "--labels", "human+machine", "--machine-weight", "0.4"]) == 0
    out = capsys.readouterr().out
    with ProjectStore.open(proj) as store:
        sel = select_machine_joints(store, read_detections(store.machine_dir))
        n_human = len(load_labelled_views(store))
        n_machine = len(load_machine_views(store, sel, 0.4))
    assert sel.kept_count > 0 and sel.kept_count == sel.candidates  # the truth passes
    line = [x for x in out.splitlines() if x.startswith("machine labels:")]
    assert line == [f"machine labels: kept {sel.kept_count} of {sel.candidates} candidate "
                    f"joints (4 instants, {n_machine} views; 100.0 % within 5 mm of the truth)"]
    [first] = _runs(proj)
    ck = load_checkpoint(first / "model.pt")
    extra = ck["extra"]
    assert extra["labels"] == "human+machine" and extra["machine_weight"] == 0.4
    assert extra["selection"]["kept"] == sel.kept_count
    assert extra["selection"]["candidates"] == sel.candidates
    assert extra["selection"]["precision_5mm"] == 1.0
    assert extra["views"] == n_human + n_machine and extra["machine_views"] == n_machine > 0

    # --init newest starts the whole detector from that checkpoint (weights compared at load)
    seen = {}
    real = train_module.init_from_file

    def spy(model, path):
        kind = real(model, path)
        seen["path"], seen["kind"] = Path(path), kind
        seen["state"] = {k: v.clone() for k, v in model.state_dict().items()}
        return kind

    monkeypatch.setattr(train_module, "init_from_file", spy)
    assert main([*base[:3], "1", *FAST, "--init", "newest"]) == 0
    assert seen["path"] == first / "model.pt" and seen["kind"] == "labeler"
    for name in ("final.weight", "lateral.0.weight", "backbone._conv_stem.weight"):
        torch.testing.assert_close(seen["state"][name], ck["model"][name], rtol=0, atol=0)
    second = [r for r in _runs(proj) if r != first]
    assert len(second) == 1
    again = load_checkpoint(second[0] / "model.pt")
    assert again["extra"]["init_weights"] == str(first / "model.pt")
    assert again["extra"]["labels"] == "human" and "selection" not in again["extra"]
    capsys.readouterr()

    # a checkpoint of another architecture: one line naming the file, nothing trained
    tiny = CONFIGS["cpu-small"].replace(name="tiny", width_coefficient=0.25, crop_px=64,
                                        heatmap_px=16, head_channels=16)  # fmt: skip
    other = save_checkpoint(tmp_path / "tiny.pt", KeypointDetector(tiny), tiny)
    assert main([*base, "--init-weights", str(other)]) == 2
    _one_line_error(capsys, str(other), "does not fit config 'cpu-small'")
    assert len(_runs(proj)) == 2


def test_train_labeler_bad_inputs_write_nothing(labelled, tmp_path, capsys):
    proj = copy_project(labelled, tmp_path / "p")
    base = ["train-labeler", str(proj), "--steps", "1", *FAST]
    assert main([*base, "--labels", "human+machine"]) == 2  # never merged
    _one_line_error(capsys, "detections.h5", "no merged machine labels")
    assert main([*base, "--init", "newest"]) == 2  # no checkpoint yet
    _one_line_error(capsys, "--init newest", "no 'cpu-small' labeler checkpoint")
    assert main([*base, "--init", "newest", "--init-weights", str(tmp_path / "x.pt")]) == 2
    _one_line_error(capsys, "exclude each other")
    assert main([*base, "--resume", "--init", "newest"]) == 2
    _one_line_error(capsys, "--resume")
    assert main([*base, "--machine-weight", "0.3"]) == 2
    _one_line_error(capsys, "--labels human+machine")
    assert _runs(proj) == []


def test_bootstrap_bad_inputs_change_nothing(bare, labelled, tmp_path, capsys):
    proj = copy_project(bare, tmp_path / "p")
    assert main(["bootstrap", str(proj), "--rounds", "1", "--steps", "1", *FAST]) == 2
    _one_line_error(capsys, "no human 3D labels", str(proj))
    assert not (proj / "models" / "bootstrap").exists() and _runs(proj) == []
    assert main(["bootstrap", str(labelled), "--rounds", "-1"]) == 2
    _one_line_error(capsys, "--rounds must be >= 0")
    assert not (labelled / "models" / "bootstrap").exists()


def _human_labels(project: Path) -> dict:
    with ProjectStore.open(project) as store:
        out = {}
        for i in store.labelled_instants("human").tolist():
            lab = store.labels(i)
            out[i] = (lab.joints_world_mm.copy(), lab.joint_source.copy(), lab.hand_present.copy())
        return out


def _state(project: Path) -> dict:
    return json.loads((project / "models" / "bootstrap" / "state.json").read_text())


BOOT = ["--steps", "2", *FAST]


@pytest.fixture(scope="module")
def bootstrapped(labelled, tmp_path_factory):
    """``annotator bootstrap --rounds 1`` in a subprocess, killed (SIGKILL) as soon as round
    0's training is recorded, then the same command again in this process."""
    proj = copy_project(labelled, tmp_path_factory.mktemp("boot") / "p")
    human_before = _human_labels(proj)
    # the console script itself (not a shell shim in front of it), so SIGKILL hits it
    beside = Path(sys.executable).parent / "annotator"
    exe = str(beside) if beside.is_file() else shutil.which("annotator")
    assert exe, "the annotator console script is installed with the package"
    cmd = [exe, "bootstrap", str(proj), "--rounds", "1", *BOOT]
    state_file = proj / "models" / "bootstrap" / "state.json"
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and child.poll() is None:
            try:
                if "train" in json.loads(state_file.read_text())["rounds"]["0"]["done"]:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    killed = _state(proj)
    assert "train" in killed["rounds"]["0"]["done"], child.stderr.read().decode()[-2000:]
    r0 = Path(killed["rounds"]["0"]["checkpoint"])
    r0_mtime = r0.stat().st_mtime
    out_json = proj.parent / "summary.json"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["bootstrap", str(proj), "--rounds", "1", *BOOT, "--json", str(out_json)])
    return SimpleNamespace(proj=proj, rc=rc, out=buf.getvalue(), killed=killed, r0=r0,
                           r0_mtime=r0_mtime, human_before=human_before, summary=out_json)


def test_bootstrap_killed_then_resumed_runs_every_round(bootstrapped):
    b = bootstrapped
    assert b.rc == 0, b.out[-3000:]
    state = _state(b.proj)
    steps = ["train", "machine-label", "merge", "evaluate"]
    assert [sorted(state["rounds"][r]["done"]) for r in ("0", "1")] == [sorted(steps)] * 2
    # round 0's training was not done again: same checkpoint, untouched; two runs in all
    assert state["rounds"]["0"]["checkpoint"] == str(b.r0) and b.r0.stat().st_mtime == b.r0_mtime
    assert "--labels human " not in b.out.split("round 0 (")[0]  # no second round-0 training
    assert len(_runs(b.proj)) == 2
    # round 1 trained on human + the selected real machine labels, from round 0's weights
    r1 = load_checkpoint(state["rounds"]["1"]["checkpoint"])
    assert r1["extra"]["labels"] == "human+machine" and r1["step"] == 2
    assert r1["extra"]["init_weights"] == str(b.r0)
    sel = r1["extra"]["selection"]
    assert set(sel) >= {"kept", "candidates", "precision_5mm"} and sel["kept"] <= sel["candidates"]
    # round 1 labelled with rounds 0 and 1 together (--ensemble, the default); the shards say so
    r1_ckpt = state["rounds"]["1"]["checkpoint"]
    assert state["rounds"]["0"]["labelled_with"] == [str(b.r0)]
    assert state["rounds"]["1"]["labelled_with"] == [str(b.r0), r1_ckpt]
    run_key = json.loads((b.proj / "machine" / "run.json").read_text())["meta"]["run_key"]
    assert run_key["model"] == [str(Path(c).resolve()) for c in (b.r0, r1_ckpt)]
    assert run_key["flip_test"] is True
    # one line per round on stdout, per-round evaluate.json, the --json summary
    lines = [x for x in b.out.splitlines() if x.startswith("round ")]
    assert [x.split(" (")[0] for x in lines] == ["round 0", "round 1"]
    assert "machine median" in lines[0] and "trained on the human labels" in lines[0]
    assert "labelled by 2 detectors together" in lines[1] and "detectors" not in lines[0]
    assert f"trained on {sel['kept']} of {sel['candidates']} machine joints" in lines[1]
    for r in (0, 1):
        report = json.loads((b.proj / "models" / "bootstrap" / f"round-{r}" /
                             "evaluate.json").read_text())  # fmt: skip
        assert "machine" in report and "views_curve" in report
    summary = json.loads(b.summary.read_text())
    assert [r["round"] for r in summary["rounds"]] == [0, 1]
    assert summary["rounds"][1]["selection"] == sel
    assert summary["rounds"][0]["labels"] == "human" and summary["rounds"][1]["steps"] == 2
    assert set(summary["rounds"][0]["machine"]) >= {"median_mm", "interacting_median_mm"}
    # human labels are never written over
    after = _human_labels(b.proj)
    assert sorted(after) == sorted(b.human_before) == HUMAN
    for i, (joints, source, hands) in b.human_before.items():
        np.testing.assert_array_equal(after[i][0], joints)
        np.testing.assert_array_equal(after[i][1], source)
        np.testing.assert_array_equal(after[i][2], hands)


def test_bootstrap_resumes_an_interrupted_training_from_its_checkpoint(bootstrapped, tmp_path):
    """Round 2's training 'killed' after its first checkpoint (step 1 of 2): the rerun
    continues that run folder with --resume instead of starting another."""
    proj = copy_project(bootstrapped.proj, tmp_path / "p")
    state = _state(proj)
    # the copy's state names the original's files: point it at the copy
    text = json.dumps(state).replace(str(bootstrapped.proj), str(proj))
    state = json.loads(text)
    r1 = state["rounds"]["1"]["checkpoint"]
    state["rounds"]["2"] = {"done": [], "labels": "human+machine",
                            "runs_before": sorted(p.name for p in _runs(proj))}
    (proj / "models" / "bootstrap" / "state.json").write_text(json.dumps(state))
    assert main(["train-labeler", str(proj), "--labels", "human+machine", "--steps", "1",
                 "--init-weights", r1, *FAST]) == 0  # fmt: skip
    [interrupted] = [p for p in _runs(proj) if p.name not in state["rounds"]["2"]["runs_before"]]
    # and a folder a training left before its first checkpoint is cleared away
    empty = new_run_dir(proj / "models", "cpu-small")
    assert main(["bootstrap", str(proj), "--rounds", "2", *BOOT]) == 0
    done = _state(proj)["rounds"]["2"]
    assert done["run_dir"] == str(interrupted) and not empty.exists()
    ck = load_checkpoint(interrupted / "model.pt")
    assert ck["step"] == 2 and ck["extra"]["init_weights"] == r1
    assert len(_runs(proj)) == 3
    assert sorted(done["done"]) == ["evaluate", "machine-label", "merge", "train"]
