"""Training: data, augmentation, a smoke run, resume, DDP under torchrun, CLI errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from efficientnet_pytorch import EfficientNet

from annotator.cli.main import main
from annotator.skeleton import FLIP_INDEX, JOINTS_PER_HAND
from annotator.store import ProjectStore
from machine_labeler.checkpoint import load_checkpoint, load_detector
from machine_labeler.codec import HeatmapCodec
from machine_labeler.config import CONFIGS
from machine_labeler.predict import predict_crops
from machine_labeler.train import lr_at, train_labeler
from machine_labeler.train_data import HandCropDataset, load_labelled_views
from tests.machine_labeler._labelled_project import label_from_ground_truth

TINY = CONFIGS["cpu-small"].replace(
    name="tiny", width_coefficient=0.25, depth_coefficient=0.25, crop_px=64, heatmap_px=16,
    head_channels=16, batch_size=4, lr=3e-3, warmup_steps=3, whole_view_fraction=0.0,
)  # fmt: skip


@pytest.fixture(scope="module")
def bare_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ml") / "bare"
    rc = main(["synth", str(out), "--cameras", "6", "--instants", "4", "--subjects", "1",
               "--width", "160", "--height", "120", "--workers", "1"])  # fmt: skip
    assert rc == 0
    return out


@pytest.fixture(scope="module")
def labelled_project(bare_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ml") / "labelled"
    shutil.copytree(bare_project, out)
    label_from_ground_truth(out, instants=np.array([0, 2]), noise_px=0.0)
    return out


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "p"
    shutil.copytree(src, dst)
    return dst


def test_training_views_are_the_propagated_human_labels(labelled_project: Path) -> None:
    with ProjectStore.open(labelled_project) as store:
        views = load_labelled_views(store)
        gt = store.ground_truth(2)
    assert set(views.instants.tolist()) == {0, 2}
    row = np.nonzero((views.instants == 2) & (views.cameras == 1))[0][0]
    ok = np.isfinite(views.uv_px[row, :, 0])
    assert ok.sum() >= JOINTS_PER_HAND
    np.testing.assert_allclose(views.uv_px[row][ok], gt.uv_px[1][ok], atol=1e-3)


def test_flip_mirrors_the_crop_and_swaps_the_hands(labelled_project: Path) -> None:
    with ProjectStore.open(labelled_project) as store:
        views = load_labelled_views(store)
    still = TINY.replace(scale_jitter=0.0, translate_jitter=0.0, rotation_deg=0.0,
                         color_jitter=0.0, grey_prob=0.0)  # fmt: skip
    plain = HandCropDataset(views, still.replace(flip_prob=0.0), seed=3)[0]
    flipped = HandCropDataset(views, still.replace(flip_prob=1.0), seed=3)[0]
    s = still.crop_px
    torch.testing.assert_close(flipped["image"], plain["image"].flip(-1), atol=2 / 255, rtol=0)
    a, b = plain["uv_crop_px"].numpy(), flipped["uv_crop_px"].numpy()
    ok = np.isfinite(a[:, 0])
    assert ok[:JOINTS_PER_HAND].any()  # the right hand is labelled ...
    # ... and after the flip its joints carry the left hand's indices, mirrored.
    np.testing.assert_allclose(b[FLIP_INDEX][ok, 0], s - 1 - a[ok, 0], atol=1e-4)
    np.testing.assert_allclose(b[FLIP_INDEX][ok, 1], a[ok, 1], atol=1e-4)
    np.testing.assert_array_equal(flipped["weight"].numpy(), plain["weight"].numpy()[FLIP_INDEX])


def test_lr_schedule_warms_up_and_decays() -> None:
    cfg = TINY.replace(warmup_steps=10, lr_decay_at=(0.5,))
    assert lr_at(0, 100, cfg) == pytest.approx(cfg.lr / 10)
    assert lr_at(20, 100, cfg) == pytest.approx(cfg.lr)
    assert lr_at(60, 100, cfg) == pytest.approx(cfg.lr * 0.1)


def test_smoke_run_learns_skips_bad_images_and_reloads(labelled_project: Path, tmp_path: Path):
    proj = _copy(labelled_project, tmp_path)
    with ProjectStore.open(proj) as store:
        bad = store.image_paths(0)[1]
        gone = store.image_paths(2)[3]
    bad.write_bytes(b"not a jpeg")
    gone.unlink()
    seen = []
    res = train_labeler(proj, TINY, steps=40, device="cpu", log_every=10, hooks=[seen.append])
    assert res.steps == 40 and [i.step for i in seen] == list(range(1, 41))
    assert res.skipped_images > 0
    rows = [json.loads(x) for x in (res.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20, 30, 40]
    assert all(np.isfinite(r["loss"]) and r["images_per_s"] > 0 for r in rows)
    assert rows[-1]["loss"] < rows[0]["loss"]
    ck = load_checkpoint(res.checkpoint)
    assert ck["extra"]["skipped_images"] == res.skipped_images and ck["config"]["name"] == "tiny"
    # The checkpoint alone rebuilds the trained model: identical outputs.
    loaded = load_detector(res.checkpoint)
    codec = HeatmapCodec.from_config(TINY)
    crops = np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)
    with torch.no_grad():
        again = load_detector(res.checkpoint).model
    a = predict_crops(loaded.model, codec, crops)
    b = predict_crops(again, codec, crops)
    np.testing.assert_array_equal(a.uv_crop_px, b.uv_crop_px)


def test_cli_resume_continues_the_step_count(labelled_project: Path, tmp_path: Path) -> None:
    proj = _copy(labelled_project, tmp_path)
    base = ["train-labeler", str(proj), "--batch-size", "2", "--workers", "0", "--device", "cpu"]
    assert main([*base, "--steps", "2"]) == 0
    assert main([*base, "--steps", "4", "--resume"]) == 0
    runs = list((proj / "models" / "labeler").iterdir())
    assert len(runs) == 1
    ck = load_checkpoint(runs[0] / "model.pt")
    assert ck["step"] == 4 and ck["config"]["name"] == "cpu-small" and ck["code_version"]
    steps = [json.loads(x)["step"] for x in (runs[0] / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4]


def test_time_budget_ends_the_run_and_survives_a_resume(labelled_project: Path, tmp_path: Path,
                                                         monkeypatch) -> None:
    """--max-minutes: the run stops with a checkpoint when the clock runs out, its lr schedule
    follows the clock, and a resume counts the time already spent. The budget's clock is a
    fake one that each step moves on by 3 s, so the test does not depend on machine speed."""
    from annotator.time_budget import TimeBudget

    now = [0.0]
    monkeypatch.setattr(TimeBudget, "clock", staticmethod(lambda: now[0]))

    def tick(info) -> None:
        now[0] += 3.0

    proj = _copy(labelled_project, tmp_path)
    total = 10_000
    # checkpoints every 5 steps: the last one must carry the run's final time and stop reason
    cfg = TINY.replace(checkpoint_every=5)
    res = train_labeler(proj, cfg, steps=total, device="cpu", log_every=1, hooks=[tick],
                        max_minutes=1.0)  # 60 s: 20 steps of 3 s, the 21st finds it spent
    assert res.stopped_by_time and res.steps == 21
    ck = load_checkpoint(res.checkpoint)
    assert ck["step"] == 21 and ck["extra"]["stopped_by_time"] is True
    assert ck["extra"]["train_seconds"] >= 60.0 and ck["extra"]["max_minutes"] == 1.0
    lrs = [json.loads(x)["lr"] for x in (res.run_dir / "metrics.jsonl").read_text().splitlines()]
    # step k (0-based) starts 3k s in: the schedule sees max(k, total x 3k / 60)
    want = [lr_at(max(k, min(int(total * 3 * k / 60), total - 1)), total, cfg) for k in range(21)]
    assert lrs == pytest.approx(want)
    assert lrs[-1] == pytest.approx(cfg.lr * 0.01)  # past both decays (0.75, 0.9)
    # the same budget again: already spent, nothing more is trained
    again = train_labeler(proj, cfg, steps=total, device="cpu", resume=True, max_minutes=1.0)
    assert again.steps == 21 and again.stopped_by_time
    # a larger budget continues the same run from the time already spent
    more = train_labeler(proj, cfg, steps=total, device="cpu", resume=True, hooks=[tick],
                         max_minutes=1.5)
    assert more.run_dir == res.run_dir and more.stopped_by_time
    assert 21 < more.steps <= 21 + 10
    # steps still bound a run the clock does not
    short = train_labeler(proj, cfg, steps=3, device="cpu", hooks=[tick], max_minutes=60.0)
    assert short.steps == 3 and not short.stopped_by_time


def test_cli_max_minutes_must_be_positive(labelled_project: Path, capsys) -> None:
    assert main(["train-labeler", str(labelled_project), "--max-minutes", "0"]) == 2
    assert "--max-minutes" in capsys.readouterr().err


def test_cli_without_human_labels_is_one_line_error(bare_project: Path, capsys) -> None:
    assert main(["train-labeler", str(bare_project), "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no human 3D labels" in err and str(bare_project) in err
    assert not (bare_project / "models" / "labeler").exists() or not any(
        (bare_project / "models" / "labeler").iterdir()
    )


def test_cli_init_weights(labelled_project: Path, tmp_path: Path, capsys) -> None:
    proj = _copy(labelled_project, tmp_path)
    # A random efficientnet-pytorch state dict at cpu-small's width/depth stands in for a
    # (hypothetical) scaled ImageNet file; the b0 file does not fit cpu-small: one line.
    small = EfficientNet.from_name("efficientnet-b0", width_coefficient=0.5,
                                   depth_coefficient=0.5, image_size=96)  # fmt: skip
    torch.save(small.state_dict(), tmp_path / "small.pth")
    torch.save(EfficientNet.from_name("efficientnet-b0").state_dict(), tmp_path / "b0.pth")
    base = ["train-labeler", str(proj), "--steps", "1", "--batch-size", "2", "--workers", "0"]
    assert main([*base, "--init-weights", str(tmp_path / "small.pth")]) == 0
    capsys.readouterr()
    assert main([*base, "--init-weights", str(tmp_path / "b0.pth")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "do not fit config 'cpu-small'" in err
    assert main([*base, "--init-weights", str(tmp_path / "absent.pth")]) == 2


@pytest.mark.slow
def test_torchrun_ddp_two_processes(labelled_project: Path, tmp_path: Path) -> None:
    proj = _copy(labelled_project, tmp_path)
    exe = shutil.which("annotator")
    assert exe, "the annotator console script is installed with the package"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           "--standalone", exe, "train-labeler", str(proj), "--steps", "2",
           "--batch-size", "2", "--workers", "0", "--device", "cpu"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    runs = list((proj / "models" / "labeler").iterdir())
    assert len(runs) == 1 and [p.name for p in runs[0].glob("*.pt")] == ["model.pt"]
    ck = load_checkpoint(runs[0] / "model.pt")
    assert ck["step"] == 2 and ck["extra"]["world_size"] == 2
    assert out.stdout.count("trained cpu-small") == 1
