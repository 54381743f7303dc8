"""The trainer: the loss falls on a tiny synthetic project, resume continues exactly where an
uninterrupted run would be, DDP under a real torchrun with gloo, RootNet, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from annotator.cli.main import main
from pose_net.checkpoint import load_checkpoint
from pose_net.config import get_config
from pose_net.data import load_samples
from pose_net.train import Hook, TrainOptions, train
from tests.pose_net._data_support import (  # one_torch_thread: autouse fixture
    one_torch_thread,  # noqa: F401
    synth_project,
)


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    return synth_project(tmp_path_factory.mktemp("pn") / "studio", cameras=4, instants=4)


@pytest.fixture(scope="module")
def samples(studio):
    return load_samples(studio, labels="ground-truth").samples


def _metrics(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_loss_falls_on_a_tiny_project(samples, tmp_path):
    # cpu-small on two images, no augmentation, no decay: the network fits them.
    opts = TrainOptions(config="cpu-small", steps=20, batch_size=2, augment=False,
                        lr_decay_epochs=(), checkpoint_interval_s=1e9)
    result = train(samples[:2], tmp_path, opts)
    steps = [m for m in _metrics(tmp_path) if "total" in m]
    assert [m["step"] for m in steps] == list(range(1, 21))
    total = [m["total"] for m in steps]
    hand = [m["handedness"] for m in steps]
    # The same batch every step: the loss goes down steadily, handedness is learnt.
    assert total[-1] < 0.95 * total[0], total
    assert np.mean(total[-5:]) < np.mean(total[:5]), total
    assert hand[-1] < 0.1 * hand[0], hand
    assert result.step == 20 and (tmp_path / "checkpoint.pth").is_file()
    assert _metrics(tmp_path)[-1]["stopped_by"] == "steps"
    assert json.loads((tmp_path / "config.json").read_text())["config"]["name"] == "cpu-small"


def test_a_training_set_without_hand_types_is_named(samples, tmp_path, caplog):
    """Samples whose hand type nobody decided train no handedness: the trainer says so."""
    import dataclasses
    import logging

    from pose_net.train import Trainer

    unknown = [dataclasses.replace(s, hand_type_valid=False) for s in samples[:2]]
    opts = TrainOptions(config="cpu-small", steps=1, batch_size=2, augment=False)
    with caplog.at_level(logging.WARNING, logger="pose_net.train"):
        Trainer(unknown, tmp_path / "a", opts)
    assert "handedness head is not trained" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pose_net.train"):
        Trainer(samples[:2], tmp_path / "b", opts)
    assert "handedness head" not in caplog.text


class _StopAt(Hook):
    def __init__(self, step: int):
        self.at = step

    def after_step(self, trainer, losses):
        trainer.stop = trainer.step >= self.at


@pytest.mark.slow
def test_resume_continues_the_same_run(samples, tmp_path):
    opts = TrainOptions(config="cpu-small", steps=5, batch_size=2, lr=1e-3,
                        checkpoint_interval_s=1e9)
    few = samples[:4]  # two steps per epoch: the stop falls inside the second epoch
    train(few, tmp_path / "straight", opts)
    stopped = train(few, tmp_path / "resumed", opts, hooks=[_StopAt(3)])
    assert stopped.step == 3
    assert load_checkpoint(tmp_path / "resumed" / "checkpoint.pth").extra["step"] == 3
    resumed = train(few, tmp_path / "resumed", TrainOptions(**{**opts.__dict__, "resume": True}))
    assert resumed.step == 5
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pth").network
    b = load_checkpoint(tmp_path / "resumed" / "checkpoint.pth").network
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-6, msg=k)
    logged = [m["step"] for m in _metrics(tmp_path / "resumed") if "total" in m]
    assert logged == [1, 2, 3, 4, 5]


class _Tick(Hook):
    """Moves the budget's (fake) clock on by 3 s a step."""

    def __init__(self, now: list[float]):
        self.now = now

    def after_step(self, trainer, losses):
        self.now[0] += 3.0


def test_time_budget_ends_the_run_and_survives_a_resume(samples, tmp_path, monkeypatch):
    from annotator.time_budget import TimeBudget

    now = [0.0]
    monkeypatch.setattr(TimeBudget, "clock", staticmethod(lambda: now[0]))
    opts = TrainOptions(config="cpu-small", steps=10_000, batch_size=2, max_minutes=1.0,
                        checkpoint_interval_s=1e9, augment=False)
    result = train(samples[:4], tmp_path, opts, hooks=[_Tick(now)])
    assert result.stopped_by_time and result.step == 21  # 20 steps of 3 s, then spent
    extra = load_checkpoint(result.checkpoint).extra
    assert extra["step"] == 21 and extra["stopped_by_time"] is True
    assert extra["train_seconds"] >= 60.0
    end = _metrics(tmp_path)[-1]  # the run's end record, for the demo's summary
    assert end == {"end": True, "step": 21, "total_steps": 10_000,
                   "seconds": extra["train_seconds"], "stopped_by": "time"}
    lrs = [m["lr"] for m in _metrics(tmp_path) if "total" in m]
    cfg = get_config("cpu-small")
    decays = [round(e / cfg.epochs * 10_000) for e in cfg.lr_decay_epochs]
    want = [cfg.lr * cfg.lr_decay_factor ** sum(max(k, int(10_000 * 3 * k / 60)) >= d
                                                 for d in decays) for k in range(21)]
    assert lrs == pytest.approx(want)  # the schedule ran on the clock: decayed by the end
    assert lrs[-1] < lrs[0]
    resumed = TrainOptions(**{**opts.__dict__, "resume": True})
    again = train(samples[:4], tmp_path, resumed)
    assert again.step == 21  # the budget is spent: nothing more
    with pytest.raises(ValueError, match="positive number of minutes"):
        TrainOptions(max_minutes=0)


def test_rootnet_trains_and_checkpoints(samples, tmp_path):
    opts = TrainOptions(net="rootnet", config="cpu-small", steps=2, batch_size=2)
    result = train(samples[:3], tmp_path, opts)
    ckpt = load_checkpoint(result.checkpoint)
    assert ckpt.kind == "rootnet" and ckpt.extra["step"] == 2
    # eval-internet --rootnet reports the mean absolute root depth error per hand.
    from pose_net.checkpoint import load_model
    from pose_net.data.torch_dataset import root_items
    from pose_net.evaluate import rootnet_errors

    errs = rootnet_errors(load_model(result.checkpoint), samples[:3], device="cpu")
    assert errs.shape == (len(root_items(samples[:3])),) and np.all(np.isfinite(errs))


def test_cli_trains_into_the_project(studio, capsys):
    rc = main(["train-internet", str(studio), "--labels", "ground-truth", "--config",
               "cpu-small", "--steps", "1", "--batch-size", "2", "--subjects", "0",
               "--hands", "interacting"])
    assert rc == 0
    runs = list((studio / "models" / "internet").iterdir())
    assert len(runs) == 1 and runs[0].name.endswith("-cpu-small")
    record = json.loads((runs[0] / "config.json").read_text())
    assert record["subjects"] == ["0"] and record["labels"] == "ground-truth"
    # --hands interacting trains on the two-hand images of subject 0 only
    from pose_net.data import load_samples

    two = load_samples(studio, labels="ground-truth", subjects=["0"], hands="interacting")
    assert record["hands"] == "interacting" and record["n_samples"] == len(two.samples)
    assert 0 < record["n_samples"] < len(load_samples(studio, labels="ground-truth",
                                                      subjects=["0"]).samples)
    assert "trained 1/1 steps" in capsys.readouterr().out
    assert main(["train-internet", str(studio), "--config", "cpu-small", "--resume"]) == 2


@pytest.mark.slow
def test_ddp_two_processes_with_gloo(studio, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "annotator.cli.main", "train-internet", str(studio),
           "--labels", "ground-truth", "--config", "cpu-small", "--steps", "2",
           "--batch-size", "2", "--device", "cpu", "--out", str(out)]
    # Own process group: a hung run is killed with its worker ranks, leaving no orphans.
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == 0, err[-3000:]
    record = json.loads((out / "config.json").read_text())
    assert record["train"]["world_size"] == 2
    steps = [m for m in _metrics(out) if "total" in m]
    assert [m["step"] for m in steps] == [1, 2]  # rank 0 logs once per step
    assert load_checkpoint(out / "checkpoint.pth").extra["step"] == 2
