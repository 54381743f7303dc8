"""Inference: predict_hands geometry and the ``annotator infer`` command (random-init models)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from annotator.cli.main import main
from pose_net.checkpoint import save_checkpoint
from pose_net.config import get_config
from pose_net.infer import default_camera, predict_hands
from pose_net.internet import InterNet
from pose_net.rootnet import RootNet
from triangulation import Camera, CameraRig, project
from triangulation.io import save_rig

SMALL = get_config("cpu-small")
W, H = 320, 240
BOX = (120.0, 80.0, 70.0, 60.0)


@pytest.fixture(scope="module")
def model() -> InterNet:
    torch.manual_seed(0)
    return InterNet(SMALL).eval()


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    cv2.circle(img, (155, 110), 25, (220, 180, 150), -1)
    return img


def _camera() -> Camera:
    K = np.array([[400.0, 0.0, 161.0], [0.0, 410.0, 118.0], [0.0, 0.0, 1.0]])
    return Camera(name="cam7", width=W, height=H, K=K, dist=np.array([-0.1, 0.02, 0.001, 0.0, 0.0]))


def test_joints_reproject_onto_their_pixels_and_use_the_given_depth(model, image):
    cam = _camera()
    res = predict_hands(model, image, BOX, cam, root_depth_mm=800.0)
    assert res.joints_cam_mm.shape == (42, 3) and res.joints_uv_px.shape == (42, 2)
    # camera frame == world frame for this camera (R = I, t = 0): projecting gives the pixels
    uv = project(res.joints_cam_mm, CameraRig([cam]))[:, 0]
    np.testing.assert_allclose(uv, res.joints_uv_px, atol=1e-6)
    # the given depth is the right wrist's (the left one's when only the left hand is seen);
    # the other wrist is offset by the predicted relative root depth
    if res.hand_present[1] and not res.hand_present[0]:
        expected = (800.0 - res.rel_root_depth_mm, 800.0)
    else:
        expected = (800.0, 800.0 + res.rel_root_depth_mm)
    np.testing.assert_allclose(res.root_depth_mm, expected)
    # z = the hand's root depth + the joint's own relative depth
    for h, sl in enumerate((slice(0, 21), slice(21, 42))):
        z = res.root_depth_mm[h] + res.rel_depth_mm[sl]
        np.testing.assert_allclose(res.joints_cam_mm[sl, 2], z)
    assert res.root_source == "given"
    # the joints land inside the square window the network saw (x1.25 about the box centre)
    x, y, w, h = res.crop_box_xywh
    assert w == h == pytest.approx(70.0 * 1.25)
    assert (res.joints_uv_px[:, 0] >= x - 1).all() and (res.joints_uv_px[:, 0] <= x + w + 1).all()


def test_default_root_depth_is_the_box_size_distance(model, image):
    res = predict_hands(model, image, BOX)  # default camera f = max(W, H) = 320
    side = 70.0 * 1.25
    assert res.root_source == "box-size"
    assert max(res.root_depth_mm) == pytest.approx(300.0 * 320.0 / side, rel=0.5)
    assert res.camera.K[0, 0] == default_camera(W, H).K[0, 0] == 320.0


def test_rootnet_gives_each_hand_a_depth(model, image):
    torch.manual_seed(1)
    rootnet = RootNet(SMALL).eval()
    res = predict_hands(model, image, BOX, _camera(), rootnet=rootnet)
    assert res.root_source == "rootnet"
    assert np.isfinite(res.root_depth_mm).all() and (res.root_depth_mm > 0).all()


def test_bad_boxes(model, image):
    with pytest.raises(ValueError, match="outside"):
        predict_hands(model, image, (400, 10, 20, 20))
    with pytest.raises(ValueError, match="W, H > 0"):
        predict_hands(model, image, (10, 10, 0, 20))


def test_infer_cli_writes_a_picture(tmp_path, model, image):
    ckpt = save_checkpoint(tmp_path / "internet.pt", model)
    img_path = tmp_path / "hand.png"
    cv2.imwrite(str(img_path), image)
    cams = tmp_path / "cameras.toml"
    save_rig(CameraRig([_camera(), default_camera(W, H).replace(name="other")]), cams)
    out = tmp_path / "out" / "result.png"
    rc = main(["infer", str(ckpt), str(img_path), "--bbox", *map(str, BOX), "--camera-json",
               str(cams), "--camera", "cam7", "--root-depth", "650", "--out", str(out),
               "--json", str(tmp_path / "r.json")])
    assert rc == 0
    pic = cv2.imread(str(out))
    assert pic is not None and pic.shape == (600, 1200, 3)
    assert pic.std() > 10  # not a blank canvas
    assert (tmp_path / "r.json").stat().st_size > 100


def test_infer_cli_errors_are_one_line(tmp_path, model, image, capsys):
    ckpt = save_checkpoint(tmp_path / "internet.pt", model)
    img_path = tmp_path / "hand.png"
    cv2.imwrite(str(img_path), image)
    out = str(tmp_path / "o.png")
    assert main(["infer", str(ckpt), str(tmp_path / "missing.jpg"), "--bbox", "1", "1", "5", "5",
                 "--out", out]) == 2
    assert "missing.jpg" in capsys.readouterr().err
    cams = tmp_path / "cameras.toml"
    save_rig(CameraRig([_camera()]), cams)
    assert main(["infer", str(ckpt), str(img_path), "--bbox", *map(str, BOX), "--camera-json",
                 str(cams), "--camera", "nope", "--out", out]) == 2
    err = capsys.readouterr().err
    assert "no camera 'nope'" in err and len(err.strip().splitlines()) == 1
