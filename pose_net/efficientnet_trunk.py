"""An EfficientNet trunk for InterNet: the machine labeller's backbone, so its weights transfer.

The paper starts InterNet's ResNet-50 from ImageNet weights. A short CPU run cannot download
those, but the demo (and any project) has just trained an EfficientNet keypoint detector on
the same crops of the same studio: ``cpu-small`` InterNet uses that detector's backbone
(efficientnet-b0 at width and depth 0.5) as its trunk and starts from its weights
(``train-internet --init-trunk labeler``; ``docs/internet_model.md`` has the measurements).

The trunk takes InterNet's input (RGB in [0, 1]) and applies the ImageNet normalisation the
labeller's backbone was trained with. :meth:`EfficientNetTrunk.stages` gives the last block
output of strides 4, 8 and 16 and the 1x1 head convolution's output at stride 32, the four
levels the ResNet trunk's ``layer1`` ... ``layer4`` give.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from torch_common.efficientnet import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    build_efficientnet,
    efficientnet_stages,
    efficientnet_weights,
    shape_mismatches,
)

__all__ = ["EfficientNetTrunk", "load_trunk_weights"]

log = logging.getLogger(__name__)


class EfficientNetTrunk(nn.Module):
    """(B, 3, S, S) RGB in [0, 1] -> the stride 4, 8, 16, 32 feature maps of an EfficientNet.

    The parameters live under ``net.`` with efficientnet-pytorch's names (``net._conv_stem``,
    ``net._blocks.0 ...``), and the swish activations are PyTorch's SiLU (the same function).
    InterNet's trunk trains without stochastic depth (drop-connect off).
    """

    def __init__(self, name: str = "efficientnet-b0", width: float = 1.0, depth: float = 1.0,
                 input_px: int = 224) -> None:
        super().__init__()
        self.name = name
        self.net = build_efficientnet(name, width=width, depth=depth, image_px=input_px)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1),
                             persistent=False)
        was = self.net.training
        with torch.no_grad():
            self.net.eval()
            probe = self.stages(torch.zeros(1, 3, input_px, input_px))
        self.net.train(was)
        self._channels = tuple(int(f.shape[1]) for f in probe)

    @property
    def stage_channels(self) -> tuple[int, int, int, int]:
        """Channels of the stride 4, 8, 16 and 32 outputs."""
        return self._channels

    @property
    def out_channels(self) -> int:
        return self._channels[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(x)[-1]

    def stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The outputs at strides 4, 8, 16 (last block of each) and 32 (the head conv)."""
        by_stride = efficientnet_stages(self.net, (x - self.mean) / self.std)
        return [by_stride[s] for s in (4, 8, 16, 32)]


def load_trunk_weights(trunk: nn.Module, path: str | Path) -> int:
    """Initialise ``trunk`` from the weights file ``path``; returns the tensors loaded.

    An :class:`EfficientNetTrunk` takes a labeller checkpoint or efficientnet-pytorch weights
    (``torch_common.efficientnet.efficientnet_weights``) and must get every one of its tensors
    with its shape; a ResNet trunk takes a torchvision ImageNet state dict
    (``pose_net.resnet.load_imagenet_weights``). Anything else is a ValueError naming the
    file; the trunk is then unchanged.
    """
    path = Path(path)
    if not isinstance(trunk, EfficientNetTrunk):
        from pose_net.resnet import load_imagenet_weights

        load_imagenet_weights(trunk, path)
        return len(trunk.state_dict())
    state = efficientnet_weights(path)
    own = trunk.net.state_dict()
    missing = [k for k in own if k not in state]
    wrong = shape_mismatches(state, own)
    if missing or wrong:
        detail = wrong[0] if wrong else f"{len(missing)} tensors missing, e.g. {missing[0]}"
        raise ValueError(f"{path}: does not fit the {trunk.name} trunk with "
                         f"{sum(v.numel() for v in own.values())} values ({detail})")
    trunk.net.load_state_dict({k: state[k] for k in own})
    log.info("trunk %s initialised from %s (%d tensors)", trunk.name, path, len(own))
    return len(own)
