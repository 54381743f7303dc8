"""The machine stage: an EfficientNet keypoint detector trained on the human labels
(:func:`train_labeler`), run over every unlabelled instant and lifted to 3D by RANSAC
triangulation (:func:`label_project`, one process or torchrun ranks), with quality checks.

Layered above ``annotator`` (the store, the skeleton, the selection of machine joints) and
``torch_common`` (the EfficientNet, BatchNorm folding, process groups); ``pose_net`` sits
beside it. Attributes load their module on first use, so importing the package is cheap.
"""

from __future__ import annotations

from annotator.lazy_exports import lazy_exports

__all__ = [
    "LabelerConfig",
    "get_config",
    "KeypointDetector",
    "train_labeler",
    "TrainResult",
    "label_project",
    "LabelRun",
    "LabelingSettings",
    "load_detector",
    "newest_checkpoint",
]

_WHERE = {
    "LabelerConfig": "machine_labeler.config",
    "get_config": "machine_labeler.config",
    "KeypointDetector": "machine_labeler.model",
    "train_labeler": "machine_labeler.train",
    "TrainResult": "machine_labeler.train",
    "label_project": "machine_labeler.label_project",
    "LabelRun": "machine_labeler.label_project",
    "LabelingSettings": "machine_labeler.labeling",
    "load_detector": "machine_labeler.checkpoint",
    "newest_checkpoint": "machine_labeler.checkpoint",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
