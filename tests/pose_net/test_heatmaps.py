"""The heatmap codec: voxel mapping, Gaussian targets, peak decoding, soft-argmax."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from pose_net.config import get_config
from pose_net.heatmaps import (
    decode_heatmaps,
    decode_output,
    in_volume,
    joints_to_voxels,
    rel_root_bins_to_mm,
    rel_root_mm_to_bins,
    render_gaussian_targets,
    soft_argmax_1d,
    soft_argmax_3d,
    voxels_to_joints,
)

PAPER = get_config("paper")
# A 128 px crop with 32³ heatmaps (the numbers below are computed by hand for it).
SMALL = dataclasses.replace(PAPER, name="small-32", input_px=128, heatmap_px=32, depth_bins=32,
                            sigma_voxels=2.0)


def test_joint_to_voxel_values_by_hand():
    # paper: 256 px -> 64 voxels (x4), depth 400 mm over 64 bins, 0 mm at bin 32.
    uvd = torch.tensor([[128.0, 64.0, 0.0], [0.0, 255.0, -200.0], [10.0, 20.0, 100.0]])
    vox = joints_to_voxels(uvd, PAPER)
    expected = torch.tensor([[32.0, 16.0, 32.0], [0.0, 63.75, 0.0], [2.5, 5.0, 48.0]])
    torch.testing.assert_close(vox, expected)
    torch.testing.assert_close(voxels_to_joints(vox, PAPER), uvd)


def test_in_volume_edges():
    vox = torch.tensor([[0.0, 0.0, 0.0], [63.9, 63.9, 63.9], [64.0, 1.0, 1.0], [1.0, 1.0, -0.1]])
    assert in_volume(vox, PAPER).tolist() == [True, True, False, False]


def test_rel_root_bins_by_hand():
    mm = torch.tensor([0.0, -200.0, 50.0, 199.0])
    bins = rel_root_mm_to_bins(mm, PAPER)
    torch.testing.assert_close(bins, torch.tensor([32.0, 0.0, 40.0, 63.84]))
    torch.testing.assert_close(rel_root_bins_to_mm(bins, PAPER), mm)


def test_delta_decodes_to_its_voxel_on_a_non_cubic_volume():
    # D, H, W all different so that any axis mix-up fails.
    hm = torch.zeros(2, 3, 5, 7, 9)
    spots = [[(4, 6, 8), (0, 0, 0), (2, 3, 1)], [(1, 2, 3), (3, 0, 7), (4, 6, 0)]]  # (z, y, x)
    for b, row in enumerate(spots):
        for j, (z, y, x) in enumerate(row):
            hm[b, j, z, y, x] = 1.0 + j
    peaks = decode_heatmaps(hm)
    for b, row in enumerate(spots):
        for j, (z, y, x) in enumerate(row):
            assert peaks.voxels[b, j].tolist() == [x, y, z]
            assert peaks.confidence[b, j].item() == 1.0 + j


def test_gaussian_target_values_by_hand():
    vox = torch.tensor([[[10.0, 20.0, 30.0]]])
    hm = render_gaussian_targets(vox, None, PAPER)
    assert hm.shape == (1, 1, 64, 64, 64)
    assert hm[0, 0, 30, 20, 10].item() == pytest.approx(255.0)
    one_off = 255.0 * math.exp(-1.0 / (2 * 2.5**2))
    assert hm[0, 0, 30, 20, 11].item() == pytest.approx(one_off, rel=1e-5)
    assert hm[0, 0, 31, 20, 10].item() == pytest.approx(one_off, rel=1e-5)
    diag = 255.0 * math.exp(-3.0 / (2 * 2.5**2))
    assert hm[0, 0, 29, 21, 9].item() == pytest.approx(diag, rel=1e-5)


def test_invalid_joints_render_zero():
    vox = torch.tensor([[[5.0, 5.0, 5.0], [6.0, 6.0, 6.0]]])
    hm = render_gaussian_targets(vox, torch.tensor([[1.0, 0.0]]), SMALL)
    assert hm[0, 0].max().item() == pytest.approx(255.0)
    assert hm[0, 1].abs().max().item() == 0.0


def test_subvoxel_gaussian_decodes_close_to_its_position():
    true = torch.tensor([[[10.3, 5.6, 20.2], [1.4, 29.7, 15.5], [17.05, 17.95, 3.49]]])
    hm = render_gaussian_targets(true, None, SMALL)
    coarse = decode_heatmaps(hm).voxels
    assert (coarse - true).abs().max().item() <= 0.5 + 1e-6
    fine = decode_heatmaps(hm, subvoxel=True).voxels
    torch.testing.assert_close(fine, true, atol=1e-3, rtol=0)


def test_subvoxel_ignores_non_positive_neighbours():
    hm = torch.full((1, 1, 4, 4, 4), -1.0)
    hm[0, 0, 1, 2, 3] = 2.0  # x = 3 is the border, the others are negative
    assert decode_heatmaps(hm, subvoxel=True).voxels[0, 0].tolist() == [3.0, 2.0, 1.0]


def test_soft_argmax_1d():
    k = 64
    sharp = torch.full((1, k), -1e4)
    sharp[0, 17] = 0.0
    uniform = torch.zeros(1, k)
    two = torch.full((1, k), -1e4)
    two[0, 3] = two[0, 7] = 5.0
    out = soft_argmax_1d(torch.cat((sharp, uniform, two)))
    torch.testing.assert_close(out, torch.tensor([17.0, (k - 1) / 2, 5.0]))
    with pytest.raises(ValueError):
        soft_argmax_1d(torch.zeros(3))


def test_soft_argmax_3d_on_a_non_cubic_volume():
    # (D, H, W) = (3, 4, 5): a sharp peak sits on its voxel, a uniform volume expects the
    # middle of each axis ((W-1)/2, (H-1)/2, (D-1)/2), two equal peaks average.
    hm = torch.full((3, 3, 4, 5), -1e4)
    hm[0, 2, 1, 4] = 0.0
    hm[1] = 0.0
    hm[2, 0, 0, 0] = hm[2, 2, 3, 2] = 1.0
    got = soft_argmax_3d(hm[None])[0]
    torch.testing.assert_close(got, torch.tensor([[4.0, 1.0, 2.0], [2.0, 1.5, 1.0],
                                                  [1.0, 1.5, 1.0]]))
    with pytest.raises(ValueError):
        soft_argmax_3d(torch.zeros(4, 4, 4))


def test_decode_output_follows_the_config():
    hm = torch.full((1, 1, 4, 4, 4), -1e4)
    hm[0, 0, 1, 2, 3] = hm[0, 0, 1, 2, 1] = 0.0  # x ties between 1 and 3
    assert PAPER.decoding == "argmax"
    torch.testing.assert_close(decode_output(hm, PAPER).voxels, decode_heatmaps(hm).voxels)
    soft = decode_output(hm, dataclasses.replace(PAPER, decoding="soft-argmax"))
    torch.testing.assert_close(soft.voxels, torch.tensor([[[2.0, 2.0, 1.0]]]))
    torch.testing.assert_close(soft.confidence, torch.tensor([[0.5]]))
