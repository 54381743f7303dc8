"""pose_net: InterNet and RootNet (InterHand2.6M), their losses, metrics, checkpoints, inference.

Public names are imported lazily (PEP 562) so that ``annotator --help``, which imports the
``pose_net.cli`` modules to build its parser, does not import torch.
"""

from __future__ import annotations

from annotator.lazy_exports import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
