"""InterNet (cpu-small for speed): output shapes and ranges, input checks, checkpoints, learning."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from pose_net import InterNet
from pose_net.checkpoint import load_checkpoint, load_model, save_checkpoint
from pose_net.config import CONFIGS, InterNetConfig, get_config

SMALL = get_config("cpu-small")


@pytest.fixture(scope="module")
def small_model() -> InterNet:
    torch.manual_seed(0)
    return InterNet(SMALL).eval()


def test_output_shapes_and_ranges(small_model):
    with torch.no_grad():
        out = small_model(torch.rand(3, 3, 96, 96))
    assert out.heatmaps.shape == (3, 42, 24, 24, 24)
    assert out.rel_root_logits.shape == (3, 64)
    assert out.rel_root_bin.shape == out.rel_root_depth.shape == (3,)
    assert out.handedness.shape == (3, 2)
    assert ((out.handedness > 0) & (out.handedness < 1)).all()
    assert ((out.rel_root_depth >= -200) & (out.rel_root_depth <= 200)).all()
    torch.testing.assert_close(out.handedness, torch.sigmoid(out.handedness_logits))


def test_input_size_is_checked(small_model):
    with pytest.raises(ValueError, match=r"\(B, 3, 96, 96\)"):
        small_model(torch.rand(1, 3, 256, 256))


def test_configs_are_consistent():
    assert set(CONFIGS) == {"paper", "cpu-small"}
    paper = get_config("paper")
    shape = (paper.input_px, paper.heatmap_px, paper.depth_bins, paper.sigma_voxels)
    assert shape == (256, 64, 64, 2.5)
    schedule = (paper.batch_size, paper.lr, paper.epochs, paper.lr_decay_epochs)
    assert schedule == (64, 1e-4, 20, (15, 17))
    with pytest.raises(ValueError, match="heatmap_px"):
        InterNetConfig(input_px=128)
    with pytest.raises(ValueError, match="unknown InterNet config"):
        get_config("huge")
    # The paper's pose loss, decoding and initialisation (the public code's).
    assert (paper.heatmap_peak, paper.heatmap_loss_weight, paper.coord_loss_weight) == (
        255.0, 1.0, 0.0)
    assert (paper.decoding, paper.head_init) == ("argmax", "paper")
    for bad in (dict(coord_loss_weight=-1.0), dict(decoding="mean"), dict(head_init="xavier"),
                dict(heatmap_loss_weight=0.0, coord_loss_weight=0.0)):
        with pytest.raises(ValueError):
            InterNetConfig(**bad)


def test_handedness_inputs():
    """The paper's pooled head is the default; the spatial head sees where features are; the
    heatmaps head moves a hand's logit with that hand's detection evidence, exactly."""
    assert get_config("paper").handedness_from == SMALL.handedness_from == "pooled"
    with pytest.raises(ValueError, match="handedness_from must be one of"):
        dataclasses.replace(SMALL, handedness_from="crop")
    with pytest.raises(ValueError, match="soft-argmax"):
        dataclasses.replace(get_config("paper"), handedness_from="heatmaps")
    x = torch.rand(2, 3, 96, 96)
    torch.manual_seed(0)
    spatial = InterNet(dataclasses.replace(SMALL, handedness_from="spatial")).eval()
    pooled = InterNet(SMALL).eval()
    feat = torch.zeros(1, pooled.trunk.out_channels, 3, 3)
    feat[:, :, 0, 0] = 1.0
    moved = feat.roll(1, dims=-1)  # the same features in the next cell of the 3x3 grid
    with torch.no_grad():
        assert spatial(x).handedness_logits.shape == (2, 2)
        a, b = (spatial._handedness_logits(f, None, None) for f in (feat, moved))
        assert (a - b).abs().max() > 1e-3
        a, b = (pooled._handedness_logits(f, f.mean((2, 3)), None) for f in (feat, moved))
        torch.testing.assert_close(a, b)
    torch.manual_seed(0)
    net = InterNet(dataclasses.replace(SMALL, handedness_from="heatmaps")).eval()
    with torch.no_grad():
        net.handedness_evidence_scale.copy_(torch.tensor([0.5, 2.0]))
        before = net(x).handedness_logits
        net.heatmap_right.bias -= 3.0  # every voxel of every right-hand joint 3 lower
        after = net(x).handedness_logits
    torch.testing.assert_close(after[:, 0], before[:, 0] - 0.5 * 3.0, atol=1e-4, rtol=0)
    torch.testing.assert_close(after[:, 1], before[:, 1])
    # the handedness loss alone reaches that hand's upsampler
    net.train()
    net(x).handedness_logits[:, 0].sum().backward()
    assert net.upsampler_right[0].weight.grad.abs().sum() > 0


def test_head_initialisation_follows_the_config():
    torch.manual_seed(0)
    paper_init = InterNet(dataclasses.replace(SMALL, head_init="paper"))
    torch_init = InterNet(dataclasses.replace(SMALL, head_init="pytorch"))
    # The public code: N(0, 0.001) convolutions; PyTorch's default is far wider.
    assert paper_init.upsampler_right[0].weight.std() < 0.0012
    assert paper_init.heatmap_left.weight.std() < 0.0012
    assert torch_init.upsampler_right[0].weight.std() > 0.005
    assert torch_init.heatmap_left.weight.std() > 0.02


def test_checkpoint_round_trip_carries_config(tmp_path, small_model):
    opt = torch.optim.Adam(small_model.parameters(), lr=1e-3)
    path = save_checkpoint(tmp_path / "m" / "internet.pt", small_model, opt, epoch=3,
                           extra={"step": 12})
    ck = load_checkpoint(path)
    assert ck.kind == "internet" and ck.config == SMALL and ck.epoch == 3
    assert ck.extra == {"step": 12}
    back = load_model(path)
    x = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        a, b = small_model(x), back(x)
    torch.testing.assert_close(a.heatmaps, b.heatmaps)
    torch.testing.assert_close(a.handedness, b.handedness)
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(tmp_path / "x.pt", small_model, extra={"config": 1})
    assert [p.name for p in (tmp_path / "m").iterdir()] == ["internet.pt"]  # no temp left


def test_checkpoint_with_unknown_config_key_is_rejected(tmp_path, small_model):
    path = save_checkpoint(tmp_path / "c.pt", small_model)
    data = torch.load(path, weights_only=True)
    data["config"]["dropout"] = 0.5
    torch.save(data, path)
    with pytest.raises(ValueError, match="dropout"):
        load_model(path)



RESNET18_SMALL = dataclasses.replace(SMALL, trunk="resnet18", trunk_width=1.0, trunk_depth=1.0)


@pytest.mark.parametrize(("cfg", "channels"), [
    (SMALL, (16, 24, 56, 640)),  # EfficientNet-b0 at width / depth 0.5
    (RESNET18_SMALL, (64, 128, 256, 512)),
], ids=["efficientnet", "resnet18"])
def test_skip_connections_feed_the_upsamplers_only_where_configured(cfg, channels):
    torch.manual_seed(0)
    assert SMALL.skip_connections and not get_config("paper").skip_connections
    plain = InterNet(dataclasses.replace(cfg, skip_connections=False)).eval()
    assert not any(k.startswith("laterals") for k in plain.state_dict())  # paper key set
    skip = InterNet(cfg).eval()
    x = torch.rand(2, 3, 96, 96)
    stages = skip.trunk.stages(x)
    assert [tuple(s.shape[1:]) for s in stages] == [
        (c, 96 // s, 96 // s) for c, s in zip(channels, (4, 8, 16, 32), strict=True)]
    assert skip.trunk.stage_channels == channels
    torch.testing.assert_close(stages[-1], skip.trunk(x))
    with torch.no_grad():
        before = skip(x).heatmaps.clone()
        skip.laterals[2].weight.add_(0.5)  # the stride-4 lateral (layer1 of a ResNet)
        after = skip(x)
    assert after.heatmaps.shape == before.shape == (2, 42, 24, 24, 24)
    assert not torch.allclose(after.heatmaps, before)
