"""Issue 25: the machine stage's commands under bad conditions.

``merge`` while ``machine-label`` ran said "no shard-*.h5 files (run 'annotator
machine-label' first)"; ``machine-label --instants all`` flagged human-labelled instants
"machine: no hands found"; ``train-labeler --init-weights`` said "no such file" for a folder
and passed PyTorch's six-line ``weights_only=False`` advice on for a foreign file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from annotator import skeleton
from annotator.cli.main import main
from annotator.store import ProjectStore
from tests._support.cli import REPO
from tests.machine_labeler.labeling_support import (
    copy_project,
    make_detector_checkpoint,
    make_synth,
)

NO_HANDS = "machine: no hands found"


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    path = make_synth(tmp_path_factory.mktemp("bad") / "p", cameras=8, instants=4, subjects=1,
                      width=128, height=96)
    make_detector_checkpoint(path)  # untrained: it finds no hands in any view
    with ProjectStore.open(path, "w") as store:  # a person labelled instant 0
        gt = store.ground_truth(0).joints_world_mm
        store.set_joints_3d(0, gt, source="human", annotator="ann")
    return path


@pytest.fixture
def project(synth, tmp_path):
    return copy_project(synth, tmp_path / "p")


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _wait_for_marker(proc, machine, timeout=120.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = list(machine.glob("running-*.json"))
        if found:
            return found
        if proc.poll() is not None:
            pytest.fail(f"machine-label ended before its marker was seen: {proc.stderr.read()}")
        time.sleep(0.005)
    pytest.fail("no labelling marker appeared")


def test_merge_and_status_while_machine_label_runs(project, capsys):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "annotator.cli.main", "machine-label", str(project),
         "--workers", "0"],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        _wait_for_marker(proc, project / "machine")
        os.kill(proc.pid, signal.SIGSTOP)  # held mid-run: it cannot finish under the test
        labels = _sha(project / "labels.h5")
        assert main(["merge", str(project)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert "machine labelling is still in progress" in err and f"pid {proc.pid}" in err
        assert _sha(project / "labels.h5") == labels
        assert main(["status", str(project), "--json"]) == 0
        running = json.loads(capsys.readouterr().out)["machine_labelling"]
        assert len(running) == 1 and f"pid {proc.pid} " in running[0]
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)  # kill -9: the marker stays, stale
        proc.wait(timeout=60)
    assert list((project / "machine").glob("running-*.json"))
    assert main(["status", str(project), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["machine_labelling"] == []
    main(["merge", str(project)])  # whatever it says about the shards, not "in progress"
    assert "in progress" not in capsys.readouterr().err
    assert not list((project / "machine").glob("running-*.json"))  # merge removed it


def test_instants_all_does_not_flag_human_labelled_instants(project, capsys):
    # unmirrored: this untrained detector's mirrored average happens to agree on a hand
    assert main(["machine-label", str(project), "--instants", "all", "--workers", "0",
                 "--no-flip-test"]) == 0
    assert not list((project / "machine").glob("running-*.json"))  # removed at the end
    assert main(["merge", str(project)]) == 0
    with ProjectStore.open(project) as store:
        flagged = [i for i in range(store.num_instants)
                   if (-1, NO_HANDS) in store.labels(i).flags]
        assert flagged == [1, 2, 3]  # the detector found no hands anywhere ...
        lab = store.labels(0)  # ... but instant 0 has a person's joints: not for review
        assert not any(reason == NO_HANDS for _, reason in lab.flags)
        assert (lab.joint_source == "human").sum() == np.isfinite(
            store.ground_truth(0).joints_world_mm).all(1).sum()
        human = [np.isfinite(lab.joints_world_mm[skeleton.hand_slice(h)]).any()
                 for h in skeleton.HANDS]
        assert any(human)
        assert (lab.hand_present[human] != 0).all()  # nor is a labelled hand made absent


def test_train_labeler_init_weights_folder_and_foreign_file(tmp_path, capsys):
    foreign = tmp_path / "foreign.pt"
    torch.save({"args": argparse.Namespace(lr=1.0)}, foreign)
    nowhere = str(tmp_path / "no-project")  # never opened: the file error comes first
    assert main(["train-labeler", nowhere, "--init-weights", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"--init-weights {tmp_path}: is a folder" in err
    assert main(["train-labeler", nowhere, "--init-weights", str(foreign)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"--init-weights {foreign}: not a torch weights file" in err
    assert "weights_only" not in err
