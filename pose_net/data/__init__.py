"""Datasets of pose_net: samples from a project or an InterHand2.6M root, crops, augmentation
and InterNet / RootNet targets."""

from __future__ import annotations

from pose_net.data.crops import (
    IDENTITY,
    Augmentation,
    CropTargets,
    crop_affine,
    make_crop,
    sample_augmentation,
)
from pose_net.data.interhand_dataset import interhand_samples, interhand_splits
from pose_net.data.project_dataset import LABEL_CHOICES, project_samples
from pose_net.data.sample import HandSample
from pose_net.data.sources import SourceSamples, load_samples
from pose_net.data.torch_dataset import InterNetDataset, RootNetDataset

__all__ = [
    "IDENTITY",
    "LABEL_CHOICES",
    "Augmentation",
    "CropTargets",
    "HandSample",
    "InterNetDataset",
    "RootNetDataset",
    "SourceSamples",
    "crop_affine",
    "interhand_samples",
    "interhand_splits",
    "load_samples",
    "make_crop",
    "project_samples",
    "sample_augmentation",
]
