"""ResNet trunks (He et al., CVPR 2016) with torchvision's parameter names, without the classifier.

The parameter names are exactly torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1``, …,
``layer1.0.downsample.0`` / ``.1``), so an ImageNet state dict saved by torchvision loads with
:func:`load_imagenet_weights` after dropping ``fc.*``. torchvision itself is not a dependency.
The stride-2 convolution of a bottleneck is its 3×3 (ResNet v1.5, as torchvision).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from torch_common import load_torch_file

__all__ = ["BasicBlock", "Bottleneck", "ResNetTrunk", "resnet_trunk", "load_imagenet_weights"]

log = logging.getLogger(__name__)


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with a residual connection (ResNet-18/34)."""

    expansion = 1

    def __init__(self, in_ch: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3 (carrying the stride), 1×1 expand ×4, residual (ResNet-50/101/152)."""

    expansion = 4

    def __init__(self, in_ch: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


_SPECS: dict[str, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
    "resnet101": (Bottleneck, (3, 4, 23, 3)),
    "resnet152": (Bottleneck, (3, 8, 36, 3)),
}


class ResNetTrunk(nn.Module):
    """ResNet up to ``layer4``: (B, 3, S, S) -> (B, out_channels, S/32, S/32).

    Initialised as torchvision does (Kaiming-normal convolutions, BN weight 1, bias 0).
    """

    def __init__(self, name: str = "resnet50") -> None:
        super().__init__()
        if name not in _SPECS:
            raise ValueError(f"unknown ResNet {name!r}; expected one of {sorted(_SPECS)}")
        block, counts = _SPECS[name]
        self.name = name
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_ch = 64
        stages = []
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), counts, strict=True)):
            stride = 1 if i == 0 else 2
            downsample = None
            if stride != 1 or in_ch != planes * block.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(in_ch, planes * block.expansion, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(planes * block.expansion),
                )
            blocks = [block(in_ch, planes, stride, downsample)]
            in_ch = planes * block.expansion
            blocks += [block(in_ch, planes) for _ in range(1, n)]
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.out_channels = in_ch
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(x)[-1]

    def stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The outputs of layer1 … layer4 (strides 4, 8, 16, 32)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        out = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            out.append(x)
        return out

    @property
    def stage_channels(self) -> tuple[int, int, int, int]:
        """Channels of layer1 … layer4's outputs."""
        return tuple(layer[-1].bn2.num_features if isinstance(layer[-1], BasicBlock)
                     else layer[-1].bn3.num_features
                     for layer in (self.layer1, self.layer2, self.layer3, self.layer4))


def resnet_trunk(name: str) -> ResNetTrunk:
    """A randomly initialised trunk ("resnet18" … "resnet152")."""
    return ResNetTrunk(name)


def load_imagenet_weights(trunk: ResNetTrunk, path: str | Path) -> None:
    """Load a torchvision ImageNet state dict from a local file into ``trunk`` (``fc.*`` dropped).

    Nothing is downloaded. Raises ValueError naming the file when keys or shapes disagree.
    """
    path = Path(path)
    state = load_torch_file(path, "a torch weights file")
    if not isinstance(state, dict):
        raise ValueError(f"{path}: holds no state dict")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.startswith("fc.")}
    try:
        trunk.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ValueError(f"{path}: not a torchvision {trunk.name} state dict ({first})") from exc
    log.info("loaded ImageNet weights for %s from %s", trunk.name, path)
