"""Inference-time rewrite: fold every BatchNorm into the convolution before it.

In eval mode a BatchNorm is a per-channel affine ``y = γ (x − μ) / sqrt(σ² + ε) + β``; after a
convolution (or transposed convolution) it folds into that layer's weights and bias:
``W' = W · s`` per output channel and ``b' = (b − μ) · s + β`` with ``s = γ / sqrt(σ² + ε)``.
The folded model computes the same function with one pass less over every feature map. It is
for inference only (no BatchNorm left to train) and keeps the module names of the original
for the convolutions, so it is not a checkpoint format: save the original model instead.

An EfficientNet trunk's (convolution, BatchNorm) pairs are attributes of its modules
(``_conv_stem``/``_bn0``, a block's ``_expand_conv``/``_bn0``, ``_depthwise_conv``/``_bn1``,
``_project_conv``/``_bn2``, the head's ``_conv_head``/``_bn1``); they fold the same way.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["fold_batchnorm"]

#: (convolution, BatchNorm) attribute pairs: ResNet layers, then efficientnet-pytorch's.
_ATTRIBUTE_PAIRS = (
    ("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"),
    ("_conv_stem", "_bn0"), ("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"),
    ("_project_conv", "_bn2"), ("_conv_head", "_bn1"),
)


def _fold(conv: nn.Module, bn: nn.BatchNorm2d) -> nn.Module:
    if not isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)):
        raise ValueError(f"cannot fold BatchNorm into {type(conv).__name__}")
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    fused = copy.deepcopy(conv)
    w = conv.weight.detach()
    # Output channels are dim 0 of a Conv2d weight, dim 1 of a ConvTranspose2d weight.
    shape = (-1, 1, 1, 1) if isinstance(conv, nn.Conv2d) else (1, -1, 1, 1)
    fused.weight = nn.Parameter(w * scale.reshape(shape))
    fused.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias.detach())
    return fused


def _fold_sequential(seq: nn.Sequential) -> None:
    names = list(seq._modules)
    for a, b in zip(names, names[1:], strict=False):
        conv, bn = seq._modules[a], seq._modules[b]
        if isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)) and isinstance(bn, nn.BatchNorm2d):
            seq._modules[a] = _fold(conv, bn)
            seq._modules[b] = nn.Identity()


@torch.no_grad()
def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (InterNet, RootNet, a trunk) in eval mode with BatchNorms folded.

    Handles a ResNet trunk (``conv1``/``bn1`` and each block's ``convN``/``bnN`` and
    ``downsample``), an EfficientNet trunk (the pairs in the module docstring) and any
    Sequential of (conv, BN, ...) such as the upsamplers.
    """
    out = copy.deepcopy(model).eval()
    for m in list(out.modules()):
        if not isinstance(m, nn.Sequential):
            for conv_name, bn_name in _ATTRIBUTE_PAIRS:
                conv, bn = getattr(m, conv_name, None), getattr(m, bn_name, None)
                if isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)) and isinstance(
                        bn, nn.BatchNorm2d):
                    setattr(m, conv_name, _fold(conv, bn))
                    setattr(m, bn_name, nn.Identity())
        else:
            _fold_sequential(m)
    left = [n for n, m in out.named_modules() if isinstance(m, nn.BatchNorm2d)]
    if left:
        raise ValueError(f"BatchNorm left unfolded: {', '.join(left[:3])}")
    return out
