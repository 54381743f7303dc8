"""Cameras, distortion, projection, DLT and RANSAC triangulation (numpy/scipy only).

Imports no torch, no Qt and nothing from ``annotator`` (import-linter contract).
"""

from __future__ import annotations

from triangulation.camera import Camera, CameraRig
from triangulation.io import CalibrationFormatError, load_rig, load_rigs, save_rig, save_rigs

__all__ = [
    "CalibrationFormatError",
    "load_rig",
    "load_rigs",
    "save_rig",
    "save_rigs",
    "Camera",
    "CameraRig",
]
