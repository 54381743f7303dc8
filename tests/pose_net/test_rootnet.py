"""RootNet: the k value, γ·k, checkpoints, loss masking."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pose_net.checkpoint import load_model, save_checkpoint
from pose_net.config import get_config, get_rootnet_config
from pose_net.rootnet import RootNet, k_value, rootnet_loss


def test_k_value_by_hand():
    # sqrt(300·300·1500·1500 / (100·100)) = 300·1500/100 = 4500 mm
    assert k_value(100.0 * 100.0, 1500.0, 1500.0) == pytest.approx(4500.0)
    t = k_value(torch.tensor([100.0 * 100.0, 400.0 * 100.0]), 1500.0, 1500.0)
    torch.testing.assert_close(t, torch.tensor([4500.0, 2250.0]))
    assert k_value(np.array([2500.0]), 1000.0, 1000.0, bbox_real_mm=(100.0, 100.0))[0] == \
        pytest.approx(2000.0)


def test_k_value_is_the_pinhole_distance_of_a_300mm_box():
    # A 300 mm square at depth Z seen with focal f spans 300·f/Z pixels per side.
    for z, fx, fy in ((700.0, 1200.0, 1200.0), (1500.0, 900.0, 1100.0)):
        area = (300.0 * fx / z) * (300.0 * fy / z)
        assert k_value(area, fx, fy) == pytest.approx(z)


def test_k_value_rejects_empty_box():
    with pytest.raises(ValueError):
        k_value(0.0, 1000.0, 1000.0)
    with pytest.raises(ValueError):
        k_value(torch.tensor([10.0, -1.0]), 1000.0, 1000.0)


def test_depth_is_gamma_times_k_and_starts_near_k():
    net = RootNet(get_rootnet_config("cpu-small")).eval()
    img = torch.rand(3, 3, 96, 96)
    k = torch.tensor([600.0, 900.0, 2000.0])
    with torch.no_grad():
        depth = net(img, k)
        gamma = net.gamma(img)
    torch.testing.assert_close(depth, gamma * k)
    torch.testing.assert_close(depth, k, rtol=0.05, atol=0.0)  # γ's bias starts at 1
    with pytest.raises(ValueError, match="k_value"):
        net(img, k[:2])


def test_rootnet_checkpoint_round_trip(tmp_path):
    net = RootNet(get_config("cpu-small")).eval()  # an InterNet config picks its RootNet twin
    assert net.config == get_rootnet_config("cpu-small")
    path = save_checkpoint(tmp_path / "root.pt", net, epoch=4)
    back = load_model(path)
    assert isinstance(back, RootNet) and back.config == net.config
    img, k = torch.rand(1, 3, 96, 96), torch.tensor([800.0])
    with torch.no_grad():
        torch.testing.assert_close(back(img, k), net(img, k))


def test_rootnet_loss_masks():
    pred = torch.tensor([100.0, 200.0, 300.0])
    target = torch.tensor([110.0, 0.0, 290.0])
    loss = rootnet_loss(pred, target, torch.tensor([1.0, 0.0, 1.0]))
    assert loss.item() == pytest.approx(20.0 / 3)


def test_trunk_names_match_the_released_body_rootnet_backbone():
    from pathlib import Path

    ref_path = Path("/work/shared/reference/rootnet_body_official_state_dict.txt")
    if not ref_path.is_file():
        pytest.skip(f"{ref_path} is absent (reference list not shipped with the repo)")
    prefix = "module.backbone."
    ref = {}
    for line in ref_path.read_text().splitlines():
        if line.startswith(prefix):
            key, rest = line.split(" ", 1)
            ref[key[len(prefix):]] = rest.rsplit(" ", 1)[0]
    ours = {k: str(tuple(v.shape)) for k, v in RootNet().trunk.state_dict().items()}
    assert ours == ref
