"""Released InterNet checkpoints: key list, shapes, parameter count, loading with unchanged outputs.

The reference list is ``/work/shared/reference/internet_official_state_dict.txt`` (dumped from the
public code). The forward check builds a released-style checkpoint from random weights under the
official names and compares InterNet's outputs with a functional forward written here directly
from the public model's structure (ResNet-50 trunk; joint_deconv_1 / joint_conv_1 -> joints
0–20; joint_deconv_2 / joint_conv_2 -> 21–41; root_fc + soft-argmax; hand_fc + sigmoid).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from pose_net.checkpoint import load_model
from pose_net.internet import InterNet
from pose_net.official import internet_to_official, load_official_internet

REFERENCE = Path("/work/shared/reference/internet_official_state_dict.txt")


def _reference() -> dict[str, tuple[tuple[int, ...], str]]:
    if not REFERENCE.is_file():
        pytest.skip(f"{REFERENCE} is absent (the official key list is not shipped with the repo)")
    ref = {}
    for line in REFERENCE.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, rest = line.split(" ", 1)
        shape, dtype = rest.rsplit(" ", 1)
        ref[key] = (tuple(ast.literal_eval(shape)), dtype)
    return ref


@pytest.fixture(scope="module")
def paper_model() -> InterNet:
    return InterNet()


def test_official_keys_and_shapes(paper_model):
    ref = _reference()
    ours = internet_to_official(paper_model.state_dict())
    assert len(ref) == 366
    assert set(ours) == set(ref)
    for k, (shape, dtype) in ref.items():
        assert tuple(ours[k].shape) == shape, k
        assert str(ours[k].dtype).removeprefix("torch.") == dtype, k


def test_parameter_count(paper_model):
    assert sum(p.numel() for p in paper_model.parameters()) == 47_305_474


def _random_official_state(ref, seed=0):
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, (shape, dtype) in ref.items():
        if dtype == "int64":
            state[key] = torch.tensor(7, dtype=torch.int64)
        elif key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(shape, generator=g)
        elif key.endswith("running_mean") or key.endswith(".bias"):
            state[key] = 0.1 * torch.randn(shape, generator=g)
        elif len(shape) == 1:  # BN weight
            state[key] = 0.5 + torch.rand(shape, generator=g)
        else:  # conv / deconv / linear weight, scaled to keep activations O(1)
            fan_in = shape[1] * (shape[2] * shape[3] if len(shape) == 4 else 1)
            if "deconv" in key:
                fan_in = shape[0] * 4  # each output sees in_ch · (4/2)² taps
            state[key] = torch.randn(shape, generator=g) * (1.0 / fan_in) ** 0.5
    return state


def _bn(x, s, p):
    return F.batch_norm(x, s[p + "running_mean"], s[p + "running_var"], s[p + "weight"],
                        s[p + "bias"], training=False, eps=1e-5)


def _reference_forward(s, img):
    """The public InterNet forward, functional, straight from the official key names."""
    r = "module.backbone_net.resnet."
    x = F.relu(_bn(F.conv2d(img, s[r + "conv1.weight"], stride=2, padding=3), s, r + "bn1."))
    x = F.max_pool2d(x, 3, 2, 1)
    for layer, blocks in zip((1, 2, 3, 4), (3, 4, 6, 3), strict=True):
        for b in range(blocks):
            p = f"{r}layer{layer}.{b}."
            stride = 2 if (b == 0 and layer > 1) else 1
            y = F.relu(_bn(F.conv2d(x, s[p + "conv1.weight"]), s, p + "bn1."))
            y = F.conv2d(y, s[p + "conv2.weight"], stride=stride, padding=1)
            y = F.relu(_bn(y, s, p + "bn2."))
            y = _bn(F.conv2d(y, s[p + "conv3.weight"]), s, p + "bn3.")
            if b == 0:
                x = F.conv2d(x, s[p + "downsample.0.weight"], stride=stride)
                x = _bn(x, s, p + "downsample.1.")
            x = F.relu(y + x)
    feat = x
    q = "module.pose_net."
    hands = []
    for h in (1, 2):
        y = feat
        for i in (0, 3, 6):
            y = F.conv_transpose2d(y, s[f"{q}joint_deconv_{h}.{i}.weight"], stride=2, padding=1)
            y = F.relu(_bn(y, s, f"{q}joint_deconv_{h}.{i + 1}."))
        y = F.conv2d(y, s[f"{q}joint_conv_{h}.0.weight"], s[f"{q}joint_conv_{h}.0.bias"])
        hands.append(y.view(-1, 21, 64, 64, 64))
    heatmaps = torch.cat(hands, 1)
    gap = feat.mean(dim=(2, 3))
    root = F.linear(F.relu(F.linear(gap, s[q + "root_fc.0.weight"], s[q + "root_fc.0.bias"])),
                    s[q + "root_fc.2.weight"], s[q + "root_fc.2.bias"])
    root_bin = (F.softmax(root, 1) * torch.arange(64).float()).sum(1)
    hand = F.linear(F.relu(F.linear(gap, s[q + "hand_fc.0.weight"], s[q + "hand_fc.0.bias"])),
                    s[q + "hand_fc.2.weight"], s[q + "hand_fc.2.bias"])
    return heatmaps, root_bin, torch.sigmoid(hand)


@pytest.mark.slow
def test_released_style_checkpoint_loads_with_unchanged_outputs(tmp_path):
    ref = _reference()
    state = _random_official_state(ref)
    path = tmp_path / "snapshot_19.pth.tar"
    torch.save({"epoch": 19, "network": state, "optimizer": {}}, path)
    model = load_official_internet(path)
    assert not model.training
    img = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(img)
        hm, root_bin, hand = _reference_forward(state, img)
    assert hm.abs().max() > 1e-3  # the check is not vacuous
    torch.testing.assert_close(out.heatmaps, hm, rtol=1e-4, atol=1e-4 * hm.abs().max().item())
    torch.testing.assert_close(out.rel_root_bin, root_bin, rtol=1e-4, atol=1e-4)
    # bins -> mm as the public evaluation: (bin / 64 · 2 − 1) · 200
    torch.testing.assert_close(out.rel_root_depth, (root_bin / 64 * 2 - 1) * 200, rtol=1e-4,
                               atol=1e-3)
    torch.testing.assert_close(out.handedness, hand, rtol=1e-4, atol=1e-5)
    # load_model recognises a released snapshot too
    assert isinstance(load_model(path), InterNet)


def test_foreign_files_are_clear_errors(tmp_path):
    bad = tmp_path / "snapshot_bad.pth.tar"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="snapshot_bad"):
        load_official_internet(bad)
    other = tmp_path / "other.pth.tar"
    torch.save({"network": {"module.something.weight": torch.zeros(1)}}, other)
    with pytest.raises(ValueError, match="unexpected key"):
        load_official_internet(other)
    with pytest.raises(ValueError, match="no such"):
        load_official_internet(tmp_path / "missing.pth.tar")
