"""Inference copies of a network with every BatchNorm folded into the convolution before it.

In eval mode a BatchNorm is a per-channel affine ``y = γ (x − μ) / sqrt(σ² + ε) + β``. After a
convolution (or transposed convolution) it folds into that layer's weights and bias:
``W' = W · s`` per output channel and ``b' = (b − μ) · s + β`` with ``s = γ / sqrt(σ² + ε)``;
the BatchNorm becomes an identity. The copy computes the same function with one pass less over
every feature map. It is for inference only (no BatchNorm left to train) and keeps the
convolutions' module names, so it is not a checkpoint format: save the original instead.

Where the pairs are found:

- attributes of one module: a ResNet's ``conv1``/``bn1`` ... ``conv3``/``bn3``, and
  efficientnet-pytorch's ``_conv_stem``/``_bn0``, a block's ``_expand_conv``/``_bn0``,
  ``_depthwise_conv``/``_bn1``, ``_project_conv``/``_bn2``, the head's ``_conv_head``/``_bn1``;
- neighbours in an ``nn.Sequential`` (conv-BN-ReLU heads, upsamplers, ResNet downsamples).

efficientnet-pytorch's static "same" padding is a separate zero-pad before a convolution;
where it is symmetric it becomes the convolution's own padding (one pass instead of two).
The asymmetric pads of stride-2 layers stay. Measured on 2 CPU cores: the labeller's
cpu-small forward of 64 crops is 1.19x faster folded (``docs/benchmarks.md``).

Used by the machine labeller's ``label_instants`` and by InterNet/RootNet inference.
"""

from __future__ import annotations

import copy

import torch
from efficientnet_pytorch.utils import Conv2dStaticSamePadding
from torch import nn

__all__ = ["fold_batchnorm"]

#: (convolution, BatchNorm) attribute pairs: ResNet layers, then efficientnet-pytorch's.
_ATTRIBUTE_PAIRS = (
    ("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"),
    ("_conv_stem", "_bn0"), ("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"),
    ("_project_conv", "_bn2"), ("_conv_head", "_bn1"),
)
_CONVS = (nn.Conv2d, nn.ConvTranspose2d)


def _fold_into(conv: nn.Module, bn: nn.BatchNorm2d) -> None:
    """Fold ``bn`` into ``conv`` in place (``conv`` belongs to a deep copy)."""
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    # Output channels are dim 0 of a Conv2d weight, dim 1 of a ConvTranspose2d weight.
    shape = (1, -1, 1, 1) if isinstance(conv, nn.ConvTranspose2d) else (-1, 1, 1, 1)
    conv.weight = nn.Parameter(conv.weight.detach() * scale.reshape(shape))
    conv.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias.detach())


def _merge_same_padding(conv: Conv2dStaticSamePadding) -> None:
    pad = conv.static_padding
    if isinstance(pad, nn.ZeroPad2d):
        left, right, top, bottom = pad.padding
        if left == right and top == bottom:
            conv.padding = (top, left)
            conv.static_padding = nn.Identity()


@torch.no_grad()
def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with BatchNorms folded and symmetric pads merged.

    Works for the keypoint detector, InterNet, RootNet and their trunks (module docstring).
    A BatchNorm this function cannot place is a ValueError naming it: better an error than
    a model that silently computes something else. ``model`` itself is not changed.
    """
    out = copy.deepcopy(model).eval()
    for module in list(out.modules()):
        if isinstance(module, nn.Sequential):
            names = list(module._modules)
            for a, b in zip(names, names[1:], strict=False):
                conv, bn = module._modules[a], module._modules[b]
                if isinstance(conv, _CONVS) and isinstance(bn, nn.BatchNorm2d):
                    _fold_into(conv, bn)
                    module._modules[b] = nn.Identity()
            continue
        for conv_name, bn_name in _ATTRIBUTE_PAIRS:
            conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
            if isinstance(conv, _CONVS) and isinstance(bn, nn.BatchNorm2d):
                _fold_into(conv, bn)
                setattr(module, bn_name, nn.Identity())
        if isinstance(module, Conv2dStaticSamePadding):
            _merge_same_padding(module)
    left = [n for n, m in out.named_modules() if isinstance(m, nn.BatchNorm2d)]
    if left:
        raise ValueError(f"BatchNorm left unfolded: {', '.join(left[:3])}")
    return out
