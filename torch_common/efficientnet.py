"""EfficientNet, built and walked the one way both the keypoint detector and InterNet use it.

- :func:`build_efficientnet`: an efficientnet-pytorch network without its classifier, its
  swish activations replaced by PyTorch's fused SiLU (the same function; efficientnet-pytorch's
  own is a Python autograd function around ``x * sigmoid(x)``, two passes over the tensor).
- :func:`efficientnet_stages`: the feature maps by stride: the last block output at strides
  4, 8 and 16 and the 1x1 head convolution's output at stride 32. The machine labeller's FPN
  head and InterNet's upsampler both read these four levels.
- :func:`efficientnet_weights`: the EfficientNet tensors of a weights file, with
  efficientnet-pytorch's key names. Understood: efficientnet-pytorch state dicts (ImageNet
  weights; the classifier ``_fc`` is dropped), a machine-labeller checkpoint (its detector
  keeps the network under :data:`DETECTOR_BACKBONE_PREFIX`, inside ``"model"``), and a
  ``{"state_dict": ...}`` wrapper of either. This is why InterNet can start from the
  labeller's weights: the format is named here, once, not read behind the labeller's back.

Inputs are normalised with the ImageNet statistics (:data:`IMAGENET_MEAN`,
:data:`IMAGENET_STD`, RGB in [0, 1]) by the networks that hold an EfficientNet.
"""

from __future__ import annotations

from pathlib import Path

import torch
from efficientnet_pytorch import EfficientNet
from torch import nn

from torch_common.weights_file import load_torch_file

__all__ = [
    "EFFICIENTNETS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "DETECTOR_BACKBONE_PREFIX",
    "build_efficientnet",
    "efficientnet_stages",
    "efficientnet_weights",
    "shape_mismatches",
]

#: The EfficientNet names efficientnet-pytorch builds.
EFFICIENTNETS = tuple(f"efficientnet-b{i}" for i in range(8))
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Where the machine labeller's ``KeypointDetector`` keeps its EfficientNet in its state dict.
DETECTOR_BACKBONE_PREFIX = "backbone."


def build_efficientnet(
    name: str,
    *,
    width: float = 1.0,
    depth: float = 1.0,
    image_px: int = 224,
    drop_connect_rate: float | None = None,
    bn_momentum: float = 0.01,
) -> EfficientNet:
    """The EfficientNet ``name`` scaled by ``width``/``depth``, without classifier, SiLU swish.

    ``drop_connect_rate``: stochastic depth of the last block (earlier blocks scale it down
    linearly, as :func:`efficientnet_stages` applies it); None or 0 trains without it.
    ``bn_momentum``: PyTorch's BatchNorm momentum (EfficientNet's own is 0.01).
    """
    if name not in EFFICIENTNETS:
        raise ValueError(f"unknown EfficientNet {name!r}; expected one of {EFFICIENTNETS}")
    net = EfficientNet.from_name(
        name,
        width_coefficient=width,
        depth_coefficient=depth,
        image_size=image_px,
        include_top=False,
        drop_connect_rate=drop_connect_rate or None,
        batch_norm_momentum=1.0 - bn_momentum,  # TF convention: 1 - PyTorch's
    )
    for module in list(net.modules()):
        if hasattr(module, "_swish"):
            module._swish = nn.SiLU()
    return net


def efficientnet_stages(net: EfficientNet, x: torch.Tensor) -> dict[int, torch.Tensor]:
    """Feature maps of the normalised images ``x`` keyed by stride (4, 8, 16, 32).

    Strides 4, 8, 16: the last block output before the map halves; 32: the head conv's.
    In training mode the blocks drop paths at the network's drop-connect rate.
    """
    side = x.shape[-1]
    x = net._swish(net._bn0(net._conv_stem(x)))
    by_stride: dict[int, torch.Tensor] = {}
    n = len(net._blocks)
    rate = net._global_params.drop_connect_rate
    for idx, block in enumerate(net._blocks):
        y = block(x, drop_connect_rate=rate * idx / n if rate else None)
        if y.shape[-1] < x.shape[-1]:  # the block halves the map: x ends its level
            by_stride[side // x.shape[-1]] = x
        x = y
    x = net._swish(net._bn1(net._conv_head(x)))
    by_stride[side // x.shape[-1]] = x
    return by_stride


def efficientnet_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The EfficientNet tensors of the weights file ``path`` (module docstring), keyed with
    efficientnet-pytorch's names; a one-line ValueError for a file that holds none."""
    path = Path(path)
    data = load_torch_file(path, "a torch weights file")
    for key in ("model", "state_dict"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
    if not isinstance(data, dict):
        raise ValueError(f"{path}: holds no state dict")
    data = {k.removeprefix("module."): v for k, v in data.items()}
    if any(k.startswith(DETECTOR_BACKBONE_PREFIX) for k in data):
        n = len(DETECTOR_BACKBONE_PREFIX)
        data = {k[n:]: v for k, v in data.items() if k.startswith(DETECTOR_BACKBONE_PREFIX)}
    return {k: v for k, v in data.items() if not k.startswith("_fc.") and torch.is_tensor(v)}


def shape_mismatches(
    state: dict[str, torch.Tensor], own: dict[str, torch.Tensor]
) -> list[str]:
    """``"key (file shape) vs (own shape)"`` for each tensor both hold with different shapes."""
    return [
        f"{k}: {tuple(v.shape)} in the file, {tuple(own[k].shape)} here"
        for k, v in state.items()
        if k in own and tuple(v.shape) != tuple(own[k].shape)
    ]
