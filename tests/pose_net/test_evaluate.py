"""Evaluation: perfect predictions give zero error through the whole chain (crop -> image ->
camera, distortion included); eval-internet on an export-interhand folder gives the same
numbers as on the project."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from annotator.cli.main import main
from annotator.images import read_image_rgb
from pose_net.checkpoint import save_checkpoint
from pose_net.config import get_config
from pose_net.data import load_samples, make_crop
from pose_net.evaluate import Predictions, camera_space_predictions, mean_pose_baseline
from pose_net.internet import InterNet
from pose_net.metrics import interhand_metrics
from tests.pose_net._data_support import (  # one_torch_thread: autouse fixture
    ground_truth_as_human,
    one_torch_thread,  # noqa: F401
    synth_project,
    without_distortion,
)


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    return synth_project(tmp_path_factory.mktemp("pn") / "studio", cameras=4, instants=6)


def _perfect(samples, cfg):
    crops = [make_crop(s, read_image_rgb(s.image_path), input_px=cfg.input_px,
                       depth_range_mm=1e4, rel_root_range_mm=1e4) for s in samples]
    return Predictions(
        uvd_crop=np.stack([c.uvd for c in crops]).astype(np.float64),
        image_from_crop=np.stack([c.image_from_crop for c in crops]),
        rel_root_depth_mm=np.array([float(c.rel_root_depth_mm) for c in crops]),
        handedness=np.stack([s.hand_type for s in samples]).astype(np.float64),
    )


def test_perfect_predictions_give_zero_error_with_distortion(studio):
    samples = load_samples(studio, labels="ground-truth").samples
    assert any(np.any(s.camera.dist) for s in samples)  # the studio's lenses distort
    pred = _perfect(samples, get_config("cpu-small"))
    pred_cam, pred_rel_root = camera_space_predictions(pred, samples)
    gt = np.stack([s.joints_cam_mm for s in samples])
    valid = np.stack([s.joint_valid for s in samples])
    np.testing.assert_allclose(pred_cam[valid], gt[valid], atol=1e-3)
    hand_type = np.stack([s.hand_type for s in samples])
    m = interhand_metrics(pred_cam, np.where(np.isfinite(gt), gt, 0), valid, hand_type,
                          handedness=pred.handedness, pred_rel_root_mm=pred_rel_root)
    assert m.n_interacting > 0 and m.n_single > 0 and m.n_mrrpe > 0
    assert m.mpjpe_single < 1e-3 and m.mpjpe_interacting < 1e-3 and m.mrrpe < 1e-3
    assert m.handedness_accuracy == 1.0
    # A 5 mm error in the predicted relative root depth is a 5 mm MRRPE (along the ray).
    off = Predictions(pred.uvd_crop, pred.image_from_crop, pred.rel_root_depth_mm + 5.0,
                      pred.handedness)
    _, rr = camera_space_predictions(off, samples)
    m5 = interhand_metrics(pred_cam, np.where(np.isfinite(gt), gt, 0), valid, hand_type,
                           pred_rel_root_mm=rr)
    assert 5.0 <= m5.mrrpe < 5.5
    base = mean_pose_baseline(samples)
    assert base.mpjpe_all > 10.0  # the constant mean pose is far from exact


@pytest.mark.slow
def test_eval_on_export_equals_eval_on_project(studio, tmp_path, capsys):
    plain = tmp_path / "plain"
    synth_project(plain, cameras=4, instants=6)
    without_distortion(plain)  # the InterHand2.6M camera format has no distortion
    ground_truth_as_human(plain)
    export = tmp_path / "export"
    assert main(["export-interhand", str(plain), str(export), "--split", "test"]) == 0
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "net.pth", InterNet(get_config("cpu-small")))
    a, b = tmp_path / "project.json", tmp_path / "export.json"
    capsys.readouterr()
    assert main(["eval-internet", str(ckpt), str(plain), "--labels", "human",
                 "--batch-size", "1", "--device", "cpu", "--json", str(a)]) == 0
    printed = capsys.readouterr().out
    assert "MPJPE single" in printed and "MRRPE" in printed and "baseline" in printed
    assert main(["eval-internet", str(ckpt), str(export), "--split", "test",
                 "--batch-size", "1", "--device", "cpu", "--json", str(b)]) == 0
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    assert ra["n_samples"] == rb["n_samples"] > 0
    for key in ("mpjpe_all", "mpjpe_single", "mpjpe_interacting", "mrrpe",
                "handedness_accuracy", "baseline_mpjpe_all"):
        assert ra[key] is not None and ra[key] == pytest.approx(rb[key], rel=1e-6, abs=1e-6), key
    pa = np.array(ra["per_joint"], dtype=float)
    pb = np.array(rb["per_joint"], dtype=float)
    np.testing.assert_allclose(pa, pb, rtol=1e-6, atol=1e-6)
    assert len(ra["per_joint_names"]) == 42


def test_eval_rejects_a_rootnet_as_internet(studio, tmp_path):
    from pose_net.rootnet import RootNet

    ckpt = save_checkpoint(tmp_path / "root.pth", RootNet(get_config("cpu-small")))
    assert main(["eval-internet", str(ckpt), str(studio), "--labels", "ground-truth"]) == 2


def test_decoding_follows_the_config():
    from types import SimpleNamespace

    from pose_net.evaluate import _decode
    from pose_net.heatmaps import decode_heatmaps

    hm = torch.full((1, 2, 6, 5, 4), -50.0)
    hm[0, 0, 3, 2, 1] = 50.0
    hm[0, 1, 5, 4, 3] = 50.0
    want = torch.tensor([[[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]]])  # (x, y, z)
    torch.testing.assert_close(_decode(hm, SimpleNamespace(), decode_heatmaps), want)
    soft = SimpleNamespace(decoding="soft-argmax")
    torch.testing.assert_close(_decode(hm, soft, decode_heatmaps), want)
    # Two equal peaks: soft-argmax lands half-way, argmax on one of them.
    hm[0, 0, 3, 2, 3] = 50.0
    assert _decode(hm, soft, decode_heatmaps)[0, 0, 0].item() == pytest.approx(2.0)


def test_prediction_beyond_the_lens_fold_keeps_a_finite_ray():
    # Regression: a valid joint predicted in a strongly distorted image corner (beyond the
    # lens model's fold, where undistortion has no answer) came back NaN and silently left
    # the MPJPE ("n/a"); it now falls back to the pinhole ray.
    from types import SimpleNamespace

    from pose_net.evaluate import backproject
    from triangulation import Camera

    K = np.array([[300.0, 0, 256], [0, 300, 167], [0, 0, 1]])
    cam = Camera("c", 512, 334, K, dist=np.array([-0.6, 0.0, 0.0, 0.0, 0.0]))
    uv = np.array([[[256.0, 167.0], [511.0, 0.0]]])  # centre, far corner (beyond the fold)
    xyz = backproject(uv, np.full((1, 2), 500.0), [SimpleNamespace(camera=cam)])
    assert np.isfinite(xyz).all()
    np.testing.assert_allclose(xyz[0, 0], [0.0, 0.0, 500.0], atol=1e-9)
    pinhole = (uv[0, 1] - K[:2, 2]) / 300.0 * 500.0
    np.testing.assert_allclose(xyz[0, 1, :2], pinhole)
