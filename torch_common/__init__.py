"""Torch code that both ``machine_labeler`` and ``pose_net`` need, kept once.

A small torch-only package below both (``pose_net`` is not layered above ``machine_labeler``:
InterNet borrows the labeller's EfficientNet weights, not its code):

- :mod:`torch_common.weights_file`: reading a torch file the user names, safely;
- :mod:`torch_common.efficientnet`: building an EfficientNet, walking its stages, and
  reading EfficientNet weights (ImageNet files, a labeller checkpoint's backbone);
- :mod:`torch_common.batchnorm_fold`: inference copies with BatchNorms folded;
- :mod:`torch_common.distributed`: torchrun rank, device, process group, stop-on-any-rank.

Imports no Qt and neither upper package (import-linter contracts in pyproject.toml).
"""

from torch_common.weights_file import load_torch_file

__all__ = ["load_torch_file"]
