"""ResNet trunks: torchvision parameter names and counts, output shapes, ImageNet weight loading."""

from __future__ import annotations

import pytest
import torch

from pose_net.resnet import ResNetTrunk, load_imagenet_weights

# torchvision's published parameter counts minus the classifier (fc: 512·1000+1000 for
# ResNet-18/34, 2048·1000+1000 for ResNet-50/101).
TORCHVISION_WITHOUT_FC = {
    "resnet18": 11_689_512 - 513_000,
    "resnet34": 21_797_672 - 513_000,
    "resnet50": 25_557_032 - 2_049_000,
    "resnet101": 44_549_160 - 2_049_000,
}


@pytest.mark.parametrize("name", sorted(TORCHVISION_WITHOUT_FC))
def test_parameter_count_matches_torchvision(name):
    trunk = ResNetTrunk(name)
    assert sum(p.numel() for p in trunk.parameters()) == TORCHVISION_WITHOUT_FC[name]


def test_torchvision_names():
    keys = set(ResNetTrunk("resnet50").state_dict())
    for k in ("conv1.weight", "bn1.running_var", "layer1.0.conv3.weight", "layer1.0.bn3.bias",
              "layer1.0.downsample.0.weight", "layer1.0.downsample.1.running_mean",
              "layer4.2.bn3.num_batches_tracked", "layer3.5.conv2.weight"):
        assert k in keys
    keys18 = set(ResNetTrunk("resnet18").state_dict())
    assert "layer1.0.downsample.0.weight" not in keys18  # same width, stride 1: no projection
    assert "layer2.0.downsample.0.weight" in keys18
    assert "layer1.0.conv3.weight" not in keys18


def test_output_shape_and_stride():
    trunk = ResNetTrunk("resnet18").eval()
    with torch.no_grad():
        out = trunk(torch.rand(2, 3, 96, 64))
    assert out.shape == (2, 512, 3, 2)
    assert trunk.out_channels == 512


def test_imagenet_weights_load_from_local_file(tmp_path):
    src = ResNetTrunk("resnet18")
    state = {k: torch.randn_like(v.float()).to(v.dtype) for k, v in src.state_dict().items()}
    state["fc.weight"] = torch.zeros(1000, 512)
    state["fc.bias"] = torch.zeros(1000)
    path = tmp_path / "resnet18.pth"
    torch.save(state, path)
    dst = ResNetTrunk("resnet18")
    load_imagenet_weights(dst, path)
    for k, v in dst.state_dict().items():
        torch.testing.assert_close(v, state[k])
    with pytest.raises(ValueError, match="resnet18.pth"):
        load_imagenet_weights(ResNetTrunk("resnet34"), path)
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="broken.pth"):
        load_imagenet_weights(dst, bad)


def test_unknown_trunk():
    with pytest.raises(ValueError, match="resnet"):
        ResNetTrunk("resnet12")
