"""Torch code that both ``machine_labeler`` and ``pose_net`` need, kept once (DESIGN.md:
"a small torch-only package sits below both"). Imports no Qt and neither upper package."""

from torch_common.weights_file import load_torch_file

__all__ = ["load_torch_file"]
