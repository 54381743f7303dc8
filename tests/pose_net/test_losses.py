"""InterNet losses: masking of invalid joints / hand types / roots, values computed by hand."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from pose_net.config import get_config
from pose_net.heatmaps import rel_root_bins_to_mm, render_gaussian_targets, soft_argmax_1d
from pose_net.internet import InterNetOutput
from pose_net.losses import InterNetTargets, coordinate_loss, internet_losses, total_loss

# The paper's losses at 32³ (small tensors): 64 relative-root bins over ±200 mm.
CFG = dataclasses.replace(get_config("paper"), input_px=128, heatmap_px=32, depth_bins=32,
                          sigma_voxels=2.0)
J = 42


def _output(heatmaps, rel_logits, hand_logits):
    rel_bin = soft_argmax_1d(rel_logits)
    return InterNetOutput(
        heatmaps=heatmaps, rel_root_depth=rel_root_bins_to_mm(rel_bin, CFG), rel_root_bin=rel_bin,
        rel_root_logits=rel_logits, handedness=torch.sigmoid(hand_logits),
        handedness_logits=hand_logits,
    )


def _targets(b, valid, rel_mm=None, rel_valid=None, hand_valid=None):
    g = torch.Generator().manual_seed(0)
    vox = 4 + torch.rand(b, J, 3, generator=g) * 24
    return InterNetTargets(
        voxels=vox, joint_valid=valid, hand_type=torch.tensor([[1.0, 0.0]] * b),
        hand_type_valid=torch.ones(b) if hand_valid is None else hand_valid,
        rel_root_depth_mm=torch.zeros(b) if rel_mm is None else rel_mm,
        rel_root_valid=torch.zeros(b) if rel_valid is None else rel_valid,
    )


def _zero_heads(b):
    return torch.zeros(b, CFG.rel_root_bins), torch.zeros(b, 2)


def test_pose_loss_ignores_invalid_joints():
    b = 2
    valid = torch.ones(b, J)
    valid[0, 3] = 0
    valid[1, 30:] = 0
    t = _targets(b, valid)
    perfect = render_gaussian_targets(t.voxels, None, CFG)
    garbage = perfect.clone()
    garbage[0, 3] = 1000.0
    garbage[1, 30:] = -50.0
    losses = internet_losses(_output(garbage, *_zero_heads(b)), t, CFG)
    assert losses["pose"].item() == 0.0
    garbage[0, 4, 1, 1, 1] += 10.0  # a valid joint: now it counts
    losses = internet_losses(_output(garbage, *_zero_heads(b)), t, CFG)
    assert losses["pose"].item() == pytest.approx(100.0 / garbage.numel(), rel=1e-5)


def test_pose_loss_of_zero_prediction_by_hand():
    # One valid joint at an integer voxel; prediction all zeros: the loss is the sum of the
    # squared target over all elements of the batch, computed separably here with numpy.
    b = 1
    valid = torch.zeros(b, J)
    valid[0, 7] = 1
    t = _targets(b, valid)
    t = InterNetTargets(**{**t.__dict__, "voxels": torch.full((b, J, 3), 10.0)})
    losses = internet_losses(_output(torch.zeros(b, J, 32, 32, 32), *_zero_heads(b)), t, CFG)
    g = np.exp(-0.5 * ((np.arange(32) - 10.0) / CFG.sigma_voxels) ** 2)
    expected = 255.0**2 * (g**2).sum() ** 3 / (b * J * 32**3)
    assert losses["pose"].item() == pytest.approx(expected, rel=1e-5)


def test_handedness_bce_masked_by_hand_type_valid():
    b = 2
    t = _targets(b, torch.ones(b, J), hand_valid=torch.tensor([1.0, 0.0]))
    rel, _ = _zero_heads(b)
    hand_logits = torch.tensor([[0.0, 0.0], [9.0, -9.0]])
    losses = internet_losses(_output(torch.zeros(b, J, 32, 32, 32), rel, hand_logits), t, CFG)
    # sample 0: sigmoid(0) = 0.5 for both -> BCE ln 2 each; sample 1 masked; mean over B = 2.
    assert losses["handedness"].item() == pytest.approx(math.log(2) / 2, rel=1e-6)
    # the config's weight scales L_h alone
    heavy = dataclasses.replace(CFG, handedness_loss_weight=4.0)
    again = internet_losses(_output(torch.zeros(b, J, 32, 32, 32), rel, hand_logits), t, heavy)
    assert again["handedness"].item() == pytest.approx(4 * math.log(2) / 2, rel=1e-6)
    assert again["pose"].item() == pytest.approx(losses["pose"].item())
    with pytest.raises(ValueError, match="handedness_loss_weight must be >= 0"):
        dataclasses.replace(CFG, handedness_loss_weight=-1.0)


def test_rel_root_l1_in_bins_masked():
    b = 2
    t = _targets(b, torch.ones(b, J), rel_mm=torch.tensor([50.0, -120.0]),
                 rel_valid=torch.tensor([1.0, 0.0]))
    _, hand = _zero_heads(b)
    rel_logits = torch.zeros(b, CFG.rel_root_bins)  # uniform -> bin 31.5
    losses = internet_losses(_output(torch.zeros(b, J, 32, 32, 32), rel_logits, hand), t, CFG)
    # 50 mm -> (50/200 + 1) * 32 = 40 bins; |31.5 - 40| = 8.5; sample 1 masked; / B = 2.
    assert losses["rel_root"].item() == pytest.approx(8.5 / 2, rel=1e-6)
    assert total_loss(losses).item() == pytest.approx(
        sum(v.item() for v in losses.values()), rel=1e-6)


def test_target_shape_errors_are_clear():
    b = 2
    t = _targets(b, torch.ones(b, J - 1))
    with pytest.raises(ValueError, match="joint_valid"):
        internet_losses(_output(torch.zeros(b, J, 32, 32, 32), *_zero_heads(b)), t, CFG)


def _delta_volumes(b, positions, size=8):
    """(b, J, size³) logits: 0 everywhere, 100 at each joint's (x, y, z) in ``positions``."""
    hm = torch.zeros(b, J, size, size, size)
    for (n, j), (x, y, z) in positions.items():
        hm[n, j, z, y, x] = 100.0
    return hm


def test_coordinate_loss_by_hand():
    # A near-delta softmax sits on its voxel; a two-voxel tie averages them; a uniform volume
    # of 8 voxels per side expects 3.5 on each axis.
    hm = _delta_volumes(1, {(0, 0): (3, 2, 1)})
    hm[0, 1, 5, 6, 0] = hm[0, 1, 5, 6, 4] = 100.0  # x ties between 0 and 4 -> 2
    voxels = torch.zeros(1, J, 3)
    voxels[0, 0] = torch.tensor([4.0, 2.0, 0.5])  # |3-4| + |2-2| + |1-0.5| = 1.5
    voxels[0, 1] = torch.tensor([2.0, 7.0, 5.0])  # |2-2| + |6-7| + |5-5| = 1
    voxels[0, 2] = torch.tensor([3.5, 3.5, 0.5])  # uniform: 0 + 0 + 3 = 3
    valid = torch.zeros(1, J)
    valid[0, :3] = 1
    loss = coordinate_loss(hm, voxels, valid)
    assert loss.item() == pytest.approx((1.5 + 1.0 + 3.0) / (J * 3), rel=1e-5)
    valid[0, 2] = 0  # a masked joint counts as zero, even with a NaN target
    voxels[0, 2] = float("nan")
    assert coordinate_loss(hm, voxels, valid).item() == pytest.approx(2.5 / (J * 3), rel=1e-5)


def test_integral_pose_loss_in_the_loss_dict_and_its_gradient():
    cfg = dataclasses.replace(CFG, heatmap_loss_weight=0.0, coord_loss_weight=2.0,
                              decoding="soft-argmax")
    hm = torch.zeros(1, J, 32, 32, 32, requires_grad=True)  # uniform: 15.5 on each axis
    t = _targets(1, torch.zeros(1, J))
    vox = torch.full((1, J, 3), 15.5)
    vox[0, 5] = torch.tensor([20.5, 15.5, 10.5])
    valid = torch.zeros(1, J)
    valid[0, 5] = 1
    t = InterNetTargets(**{**t.__dict__, "voxels": vox, "joint_valid": valid})
    losses = internet_losses(_output(hm, *_zero_heads(1)), t, cfg)
    assert set(losses) == {"handedness", "pose", "rel_root"}
    assert losses["pose"].item() == pytest.approx(2.0 * (5.0 + 0.0 + 5.0) / (J * 3), rel=1e-5)
    losses["pose"].backward()
    g = hm.grad[0, 5]
    # Raising logits at larger x lowers the x error (target 20.5 > 15.5): negative gradient.
    assert g[16, 16, 31] < 0 < g[16, 16, 0]
    assert hm.grad[0, 4].abs().max() == 0  # invalid joints get no gradient


def test_paper_losses_are_the_heatmap_l2_only():
    paper = get_config("paper")
    assert (paper.heatmap_loss_weight, paper.coord_loss_weight, paper.decoding) == (
        1.0, 0.0, "argmax")
    # Same numbers as the by-hand L2 above: the integral term adds nothing for the paper.
    b = 1
    valid = torch.zeros(b, J)
    valid[0, 7] = 1
    t = _targets(b, valid)
    t = InterNetTargets(**{**t.__dict__, "voxels": torch.full((b, J, 3), 10.0)})
    losses = internet_losses(_output(torch.zeros(b, J, 32, 32, 32), *_zero_heads(b)), t, CFG)
    assert set(losses) == {"handedness", "pose", "rel_root"}
    g = np.exp(-0.5 * ((np.arange(32) - 10.0) / CFG.sigma_voxels) ** 2)
    assert losses["pose"].item() == pytest.approx(
        255.0**2 * (g**2).sum() ** 3 / (b * J * 32**3), rel=1e-5)


def test_heatmap_and_integral_terms_add_with_their_weights():
    both = dataclasses.replace(CFG, heatmap_loss_weight=0.5, coord_loss_weight=3.0)
    hm_only = dataclasses.replace(CFG, heatmap_loss_weight=1.0, coord_loss_weight=0.0)
    g = torch.Generator().manual_seed(1)
    hm = torch.randn(2, J, 32, 32, 32, generator=g)
    t = _targets(2, (torch.rand(2, J, generator=g) > 0.3).float())
    l2 = internet_losses(_output(hm, *_zero_heads(2)), t, hm_only)["pose"]
    l1 = coordinate_loss(hm, t.voxels, t.joint_valid)
    got = internet_losses(_output(hm, *_zero_heads(2)), t, both)["pose"]
    assert got.item() == pytest.approx(0.5 * l2.item() + 3.0 * l1.item(), rel=1e-5)
