"""The detector's inference copy (BatchNorms folded, pads merged) and its SiLU activations
compute what the trained model computes."""

from __future__ import annotations

import pytest
import torch
from efficientnet_pytorch.utils import MemoryEfficientSwish
from torch import nn

from machine_labeler.config import get_config
from machine_labeler.model import KeypointDetector
from torch_common.batchnorm_fold import fold_batchnorm


def _trained_looking(name: str) -> KeypointDetector:
    """A detector whose BatchNorms hold non-trivial statistics and affine parameters, and whose
    output layer is not the near-zero initialisation (so differences would show)."""
    torch.manual_seed(0)
    model = KeypointDetector(get_config(name))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
        model.final.weight.normal_(0.0, 0.3)
    return model.eval()


@pytest.mark.parametrize("name", ["cpu-small", "paper"])
def test_fused_copy_gives_the_same_heatmaps(name):
    model = _trained_looking(name)
    fused = fold_batchnorm(model)
    s = model.config.crop_px
    x = torch.rand(2, 3, s, s)
    with torch.no_grad():
        want, want_logits = model(x, with_logits=True)
        got, got_logits = fused(x, with_logits=True)
    scale = want.abs().max().item()
    assert scale > 0.1
    assert (got - want).abs().max().item() < 1e-4 * scale
    if want_logits is not None:
        assert (got_logits - want_logits).abs().max().item() < 1e-4 * want_logits.abs().max()
    # nothing left to fold, and the symmetric pads are the convolutions' own
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    pads = sum(isinstance(m, nn.ZeroPad2d) for m in fused.modules())
    assert pads < sum(isinstance(m, nn.ZeroPad2d) for m in model.modules())
    # the original is untouched (training goes on with it)
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def test_silu_is_efficientnet_pytorchs_swish():
    model = _trained_looking("cpu-small")
    swish = KeypointDetector(model.config).eval()
    swish.load_state_dict(model.state_dict())
    for m in swish.modules():
        if hasattr(m, "_swish"):
            m._swish = MemoryEfficientSwish()
    assert any(isinstance(m, nn.SiLU) for m in model.modules())
    x = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(model(x), swish(x), rtol=1e-5, atol=1e-6)
