"""pose_net: InterNet and RootNet (InterHand2.6M), their losses, metrics, checkpoints, inference.

Public names are imported lazily (PEP 562) so that ``annotator --help``, which imports the
``pose_net.cli`` modules to build its parser, does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "InterNet",
    "InterNetOutput",
    "RootNet",
    "InterNetConfig",
    "RootNetConfig",
    "CONFIGS",
    "get_config",
    "interhand_metrics",
    "InterHandMetrics",
    "get_rootnet_config",
    "save_checkpoint",
    "load_model",
    "predict_hands",
    "HandPoseResult",
    "load_official_internet",
]

_WHERE = {
    "InterNet": "pose_net.internet",
    "InterNetOutput": "pose_net.internet",
    "RootNet": "pose_net.rootnet",
    "InterNetConfig": "pose_net.config",
    "RootNetConfig": "pose_net.config",
    "CONFIGS": "pose_net.config",
    "get_config": "pose_net.config",
    "interhand_metrics": "pose_net.metrics",
    "InterHandMetrics": "pose_net.metrics",
    "get_rootnet_config": "pose_net.config",
    "save_checkpoint": "pose_net.checkpoint",
    "load_model": "pose_net.checkpoint",
    "predict_hands": "pose_net.infer",
    "HandPoseResult": "pose_net.infer",
    "load_official_internet": "pose_net.official",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'pose_net' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
