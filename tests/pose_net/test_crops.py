"""Crops, augmentation and targets: affine round trips, pixels and joints moving together,
flips that swap hands, validity, the paper's ranges."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.images import apply_affine, invert_affine
from annotator.skeleton import FLIP_INDEX, LEFT_ROOT, NUM_JOINTS, RIGHT_ROOT
from pose_net.data.crops import (
    IDENTITY,
    Augmentation,
    crop_affine,
    crop_image,
    make_crop,
    sample_augmentation,
)
from pose_net.data.sample import HandSample
from tests.pose_net._data_support import one_torch_thread  # noqa: F401 (autouse)
from triangulation import Camera

W, H, S = 320, 240, 64
AUGS = [
    IDENTITY,
    Augmentation(shift=(0.1, -0.12), scale=1.2, rotation_deg=37.0),
    Augmentation(scale=0.8, rotation_deg=-85.0, flip=True),
    Augmentation(shift=(-0.15, 0.15), flip=True),
]


def _sample(rng: np.random.Generator) -> HandSample:
    K = np.array([[300.0, 0, W / 2], [0, 300.0, H / 2], [0, 0, 1]])
    cam = Camera("c", W, H, K)
    xyz = rng.normal([0, 0, 600], [25, 25, 30], size=(NUM_JOINTS, 3))
    uv = xyz[:, :2] / xyz[:, 2:] * 300.0 + [W / 2, H / 2]
    lo, hi = uv.min(0), uv.max(0)
    box = np.r_[lo - 0.1 * (hi - lo), 1.2 * (hi - lo)]
    return HandSample(image_path=None, camera=cam, joints_cam_mm=xyz, joints_uv_px=uv,
                      joint_valid=np.ones(NUM_JOINTS, bool), hand_type=np.ones(2, np.float32),
                      hand_type_valid=True, bbox_xywh=box, key="k")


@pytest.mark.parametrize("aug", AUGS)
def test_affine_round_trip(aug):
    rng = np.random.default_rng(0)
    uv = rng.uniform([0, 0], [W, H], size=(100, 2))
    a = crop_affine([50, 40, 80, 60], S, W, aug)
    back = apply_affine(invert_affine(a), apply_affine(a, uv))
    np.testing.assert_allclose(back, uv, atol=1e-9)


def test_box_maps_onto_the_crop():
    # Square box padded x1.25: its centre lands on the crop centre, its edges on the crop edges.
    a = crop_affine([100, 50, 80, 40], S, W)  # side = 80 * 1.25 = 100, centre (140, 70)
    np.testing.assert_allclose(apply_affine(a, [140, 70]), [(S - 1) / 2] * 2, atol=1e-9)
    np.testing.assert_allclose(apply_affine(a, [[90, 70], [190, 70]])[:, 0], [-0.5, S - 0.5])


@pytest.mark.parametrize("aug", AUGS)
def test_pixels_and_joints_move_together(aug):
    # A bright dot in the image lands in the crop where the affine sends its coordinates.
    image = np.zeros((H, W, 3), np.uint8)
    dot = np.array([131.0, 97.0])
    image[int(dot[1]) - 1:int(dot[1]) + 2, int(dot[0]) - 1:int(dot[0]) + 2] = 255
    a = crop_affine([100, 70, 60, 60], S, W, aug)
    crop = crop_image(image, a, S)[..., 0].astype(float)
    ys, xs = np.nonzero(crop > 0.5 * crop.max())
    centroid = np.array([np.average(xs, weights=crop[ys, xs]),
                         np.average(ys, weights=crop[ys, xs])])
    np.testing.assert_allclose(centroid, apply_affine(a, dot), atol=0.6)


def test_flip_swaps_hands_and_mirrors():
    rng = np.random.default_rng(1)
    s = _sample(rng)
    image = rng.integers(0, 255, size=(H, W, 3), dtype=np.uint8)
    kw = dict(input_px=S, depth_range_mm=400.0, rel_root_range_mm=400.0)
    plain = make_crop(s, image, **kw)
    flip = make_crop(s, image, aug=Augmentation(flip=True), **kw)
    # Joint j of the flipped crop is joint FLIP_INDEX[j] of the plain one, mirrored in x.
    np.testing.assert_allclose(flip.uvd[:, 0], (S - 1) - plain.uvd[FLIP_INDEX, 0], atol=1e-4)
    np.testing.assert_allclose(flip.uvd[:, 1:], plain.uvd[FLIP_INDEX, 1:], atol=1e-4)
    np.testing.assert_array_equal(flip.joint_valid, plain.joint_valid[FLIP_INDEX])
    # The picture is the mirror image; the hands' relative root depth changes sign.
    np.testing.assert_allclose(flip.image, plain.image[:, :, ::-1], atol=1e-6)
    assert plain.rel_root_valid == flip.rel_root_valid == 1.0
    assert flip.rel_root_depth_mm == pytest.approx(-plain.rel_root_depth_mm, abs=1e-4)
    one = HandSample(**{**s.__dict__, "hand_type": np.array([1.0, 0.0], np.float32)})
    assert make_crop(one, image, aug=Augmentation(flip=True), **kw).hand_type.tolist() == [0, 1]


def test_targets_are_root_relative_with_validity():
    rng = np.random.default_rng(2)
    s = _sample(rng)
    image = np.zeros((H, W, 3), np.uint8)
    t = make_crop(s, image, input_px=S, depth_range_mm=400.0, rel_root_range_mm=400.0)
    z = s.joints_cam_mm[:, 2]
    assert t.uvd[RIGHT_ROOT, 2] == 0 and t.uvd[LEFT_ROOT, 2] == 0
    np.testing.assert_allclose(t.uvd[3, 2], z[3] - z[RIGHT_ROOT], atol=1e-3)
    np.testing.assert_allclose(t.uvd[25, 2], z[25] - z[LEFT_ROOT], atol=1e-3)
    assert t.rel_root_depth_mm == pytest.approx(z[LEFT_ROOT] - z[RIGHT_ROOT], abs=1e-3)
    np.testing.assert_allclose(apply_affine(t.crop_from_image, s.joints_uv_px), t.uvd[:, :2],
                               atol=1e-3)
    # A narrow depth range drops the far joints; the rel root outside its range is invalid.
    tight = make_crop(s, image, input_px=S, depth_range_mm=20.0, rel_root_range_mm=1.0)
    rel = t.uvd[:, 2]
    np.testing.assert_array_equal(tight.joint_valid, ((rel >= -10) & (rel < 10)).astype(float))
    assert tight.rel_root_valid == 0
    # Zooming in pushes joints out of the crop: they become invalid.
    zoom = make_crop(s, image, input_px=S, depth_range_mm=400.0, rel_root_range_mm=400.0,
                     aug=Augmentation(scale=0.3))
    inside = np.all((zoom.uvd[:, :2] >= 0) & (zoom.uvd[:, :2] < S), axis=1)
    assert 0 < zoom.joint_valid.sum() < NUM_JOINTS
    np.testing.assert_array_equal(zoom.joint_valid, inside.astype(float))


def test_augmentation_ranges_match_the_paper():
    rng = np.random.default_rng(3)
    draws = [sample_augmentation(rng) for _ in range(4000)]
    shift = np.array([d.shift for d in draws])
    scale = np.array([d.scale for d in draws])
    rot = np.array([d.rotation_deg for d in draws])
    color = np.array([d.color for d in draws])
    assert np.abs(shift).max() <= 0.15 and np.abs(shift).max() > 0.14
    assert 0.75 <= scale.min() and scale.max() <= 1.25
    assert np.abs(rot).max() <= 90.0 and np.abs(rot).max() > 85
    assert np.mean(rot != 0) == pytest.approx(0.6, abs=0.03)
    assert np.mean([d.flip for d in draws]) == pytest.approx(0.5, abs=0.03)
    assert 0.8 <= color.min() and color.max() <= 1.2


def test_bad_box_is_a_clear_error():
    with pytest.raises(ValueError, match="bbox"):
        crop_affine([0, 0, 0, 10], S, W)
    with pytest.raises(ValueError, match="bbox"):
        crop_affine([np.nan, 0, 5, 10], S, W)
