"""BatchNorm folding keeps outputs; the benchmark's fast and bf16 code paths run on CPU."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from pose_net.config import get_config
from pose_net.internet import InterNet
from pose_net.rootnet import RootNet
from tests._bench_loader import load_bench
from torch_common.batchnorm_fold import fold_batchnorm


def _randomise_bn(model: nn.Module) -> None:
    g = torch.Generator().manual_seed(3)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(0.2 * torch.randn(n, generator=g))
            m.running_var.copy_(0.5 + torch.rand(n, generator=g))
            m.weight.data.copy_(0.5 + torch.rand(n, generator=g))
            m.bias.data.copy_(0.1 * torch.randn(n, generator=g))


@pytest.mark.parametrize("trunk", ["efficientnet-b0", "resnet18"])
def test_folded_internet_gives_the_same_outputs(trunk):
    torch.manual_seed(0)
    cfg = get_config("cpu-small")  # an EfficientNet-b0 trunk at width / depth 0.5
    if trunk != cfg.trunk:
        cfg = dataclasses.replace(cfg, trunk=trunk, trunk_width=1.0, trunk_depth=1.0)
    model = InterNet(cfg)
    _randomise_bn(model)
    model.eval()
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # original untouched
    s = model.config.input_px
    x = torch.rand(2, 3, s, s)
    with torch.no_grad():
        a, b = model(x), folded(x)
    scale = a.heatmaps.abs().max().item()
    torch.testing.assert_close(b.heatmaps, a.heatmaps, rtol=1e-4, atol=1e-4 * scale)
    torch.testing.assert_close(b.handedness, a.handedness, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(b.rel_root_depth, a.rel_root_depth, rtol=1e-4, atol=1e-3)


def test_folded_rootnet_gives_the_same_depth():
    torch.manual_seed(0)
    net = RootNet(get_config("cpu-small"))
    _randomise_bn(net)
    net.eval()
    s = net.config.input_px
    x, k = torch.rand(2, 3, s, s), torch.tensor([700.0, 1200.0])
    with torch.no_grad():
        torch.testing.assert_close(fold_batchnorm(net)(x, k), net(x, k), rtol=1e-4, atol=1e-2)


def test_bench_paths_run_on_cpu():
    mod = load_bench("internet")
    rows = mod.bench("cpu-small", [1], rounds=1, min_seconds=0.0, device=torch.device("cpu"),
                     bf16=True, compile_=False)
    assert {r["variant"] for r in rows} == {"eager-fp32", "fast-fp32", "fast-bf16"}
    assert all(r["images_per_s"] > 0 for r in rows)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_bf16_channels_last_on_gpu_matches_fp32():
    torch.manual_seed(0)
    model = InterNet().cuda().eval()  # the paper configuration
    _randomise_bn(model)
    fast = fold_batchnorm(model).to(memory_format=torch.channels_last)
    x = torch.rand(4, 3, 256, 256, device="cuda")
    with torch.inference_mode():
        ref = model(x)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = fast(x.contiguous(memory_format=torch.channels_last))
    scale = ref.heatmaps.abs().max().item()
    assert (out.heatmaps.float() - ref.heatmaps).abs().max().item() < 0.05 * scale
    torch.testing.assert_close(out.handedness.float(), ref.handedness, atol=0.02, rtol=0)
