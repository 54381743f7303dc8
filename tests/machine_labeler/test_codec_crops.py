"""Heatmap codec and crop mapping round trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from annotator.images import invert_affine
from machine_labeler.codec import HeatmapCodec
from machine_labeler.crops import (
    crop_affine,
    crop_image,
    crop_to_image,
    image_to_crop,
    letterbox_box,
    square_box,
)


@pytest.mark.parametrize("crop_px,heat_px,sigma", [(96, 24, 1.5), (256, 64, 2.0), (64, 8, 1.0)])
def test_codec_round_trip_sub_pixel(crop_px: int, heat_px: int, sigma: float) -> None:
    codec = HeatmapCodec(crop_px, heat_px, sigma, blur=False)
    rng = np.random.default_rng(0)
    margin = 3 * sigma * codec.stride
    uv = rng.uniform(margin, crop_px - 1 - margin, size=(5, 42, 2))
    kp = codec.decode(torch.from_numpy(codec.encode(uv)))
    assert kp.uv_crop_px.shape == (5, 42, 2) and kp.confidence.shape == (5, 42)
    assert np.abs(kp.uv_crop_px - uv).max() < 0.01
    assert kp.confidence.min() > np.exp(-1.0 / (4 * sigma**2)) - 1e-6


def test_codec_blurred_decode_still_sub_pixel() -> None:
    codec = HeatmapCodec(96, 24, 1.5, blur=True)
    uv = np.random.default_rng(1).uniform(25, 70, size=(3, 42, 2))
    kp = codec.decode(codec.encode(uv))
    assert np.abs(kp.uv_crop_px - uv).max() < 0.05


def test_codec_invalid_joints_give_empty_maps_and_low_confidence() -> None:
    codec = HeatmapCodec(96, 24, 1.5)
    uv = np.full((1, 42, 2), 40.0)
    uv[0, 3] = np.nan
    valid = np.ones((1, 42), bool)
    valid[0, 5] = False
    heat = codec.encode(uv, valid)
    assert heat.shape == (1, 42, 24, 24)
    assert heat[0, 3].max() == 0 and heat[0, 5].max() == 0 and heat[0, 0].max() > 0.9
    kp = codec.decode(heat)
    assert kp.confidence[0, 3] == 0 and np.all(np.isfinite(kp.uv_crop_px))


def test_codec_rejects_bad_shapes() -> None:
    codec = HeatmapCodec(96, 24, 1.5)
    with pytest.raises(ValueError):
        codec.encode(np.zeros((42, 3)))
    with pytest.raises(ValueError):
        codec.decode(torch.zeros(42, 24, 24))
    with pytest.raises(ValueError):
        HeatmapCodec(96, 25, 1.5)


def test_crop_round_trip_and_pixel_convention() -> None:
    rng = np.random.default_rng(2)
    pts = rng.uniform(50, 300, size=(42, 2))
    box = square_box(pts, pad=1.25)
    assert box[2] == pytest.approx(1.25 * np.ptp(pts, axis=0).max())
    crop_uv = image_to_crop(pts, box, 96)
    np.testing.assert_allclose(crop_to_image(crop_uv, box, 96), pts, atol=1e-9)
    m = crop_affine(box, 96)
    np.testing.assert_allclose(crop_uv, pts @ m[:, :2].T + m[:, 2], atol=1e-9)
    inv = invert_affine(m)
    np.testing.assert_allclose(crop_uv @ inv[:, :2].T + inv[:, 2], pts, atol=1e-9)
    # All points inside the crop, the tight box spans 1/1.25 of it.
    assert crop_uv.min() > -0.5 and crop_uv.max() < 95.5


def test_crop_image_puts_a_bright_pixel_where_the_mapping_says() -> None:
    img = np.zeros((200, 300, 3), np.uint8)
    img[120, 170] = 255  # (u, v) = (170, 120)
    box = np.array([150.0 - 0.5, 100.0 - 0.5, 64.0])  # 1:1 scale for a 64 px crop
    crop = crop_image(img, box, 64)
    v, u = np.unravel_index(crop[..., 0].argmax(), crop.shape[:2])
    np.testing.assert_allclose(image_to_crop(np.array([170.0, 120.0]), box, 64), [u, v], atol=1e-9)
    # Downscaling (anti-aliased path): the blob's centroid lands where the mapping says.
    img2 = np.zeros((400, 600, 3), np.uint8)
    img2[200:210, 300:310] = 255
    box2 = letterbox_box(600, 400)
    crop2 = crop_image(img2, box2, 96).astype(float)[..., 0]
    ys, xs = np.mgrid[:96, :96]
    centroid = np.array([(crop2 * xs).sum(), (crop2 * ys).sum()]) / crop2.sum()
    np.testing.assert_allclose(
        centroid, image_to_crop(np.array([304.5, 204.5]), box2, 96), atol=0.05
    )


@pytest.mark.parametrize("box", [(37.0, 21.0, 300.0), (-40.5, 13.25, 520.0), (101.0, 7.0, 200.0)])
def test_strong_shrink_matches_a_plain_gaussian_anti_aliasing(box) -> None:
    """The power-of-2 pre-shrink (INTER_AREA box means) then a small blur gives the crop a
    full-resolution Gaussian blur would: same positions, same smoothing (mean difference
    < 10 % of the texture's contrast)."""
    import math

    import cv2

    from machine_labeler.crops import pre_shrink_factor, warp_image

    rng = np.random.default_rng(1)
    img = cv2.GaussianBlur(rng.integers(0, 256, (400, 600, 3)).astype(np.float32), (0, 0), 3)
    img = np.clip((img - img.mean()) * 6 + 128, 0, 255).astype(np.uint8)  # texture, ~3 px
    b = np.array(box)
    crop = warp_image(img, crop_affine(b, 64), 64).astype(float)
    m = crop_affine(b, 64)
    scale = math.sqrt(abs(np.linalg.det(m[:, :2])))
    assert pre_shrink_factor(scale) >= 2  # the pre-shrink path
    ref_src = cv2.GaussianBlur(img, (0, 0), sigmaX=0.5 / scale, borderType=cv2.BORDER_REPLICATE)
    ref = cv2.warpAffine(ref_src, m, (64, 64), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT).astype(float)
    inside = np.ones((64, 64), bool)
    inside[:3], inside[-3:], inside[:, :3], inside[:, -3:] = False, False, False, False
    assert crop[inside].std() > 10  # the texture survives the shrink
    assert np.abs(crop - ref)[inside].mean() < 0.1 * crop[inside].std()  # ~1-2 grey levels


def test_square_box_rejects_all_nan() -> None:
    with pytest.raises(ValueError):
        square_box(np.full((3, 2), np.nan))


def test_codec_decodes_location_logits_with_heatmap_confidence() -> None:
    codec = HeatmapCodec(96, 24, 1.5)
    uv = np.random.default_rng(4).uniform(20, 75, size=(2, 42, 2))
    heat = torch.from_numpy(codec.encode(uv))
    logits = torch.log(heat.clamp_min(1e-30)) + 5.0  # any offset: only the shape matters
    heat[:, 7] = 0  # a joint the confidence maps do not see
    kp = codec.decode(heat, logits)
    assert np.abs(kp.uv_crop_px - uv).max() < 0.01
    assert kp.confidence[:, 7].max() == 0 and kp.confidence[:, 0].min() > 0.8


def test_a_box_vastly_larger_than_the_image_crops_in_bounded_memory():
    """A wild hand box (a lifted hand metres off) once blurred the image with a kernel of
    millions of taps: 24 GB and an OOM kill. Its crop is (nearly) all border now."""
    import resource

    from machine_labeler.crops import crop_image

    img = np.full((334, 512, 3), 200, np.uint8)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for size in (1e4, 1e7, 1e12):
        crop = crop_image(img, np.array([256 - size / 2, 167 - size / 2, size]), 96)
        assert crop.shape == (96, 96, 3) and crop.dtype == np.uint8
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 200 * 1024
