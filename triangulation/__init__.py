"""Cameras, distortion, projection, DLT and RANSAC triangulation (numpy/scipy only).

Imports no torch, no Qt and nothing from ``annotator`` (import-linter contract).
"""

from __future__ import annotations

from triangulation.camera import Camera, CameraRig

__all__ = ["Camera", "CameraRig"]
