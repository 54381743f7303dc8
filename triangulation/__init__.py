"""Cameras, distortion, projection, DLT and RANSAC triangulation, rig refinement by bundle
adjustment (numpy, scipy, numba kernels).

Imports no torch, no Qt and nothing from ``annotator`` (import-linter contract).
"""

from __future__ import annotations

from triangulation.bundle_adjust import RigRefinement, refine_rig
from triangulation.camera import Camera, CameraRig
from triangulation.distortion import undistort_points
from triangulation.dlt import triangulate
from triangulation.epipolar import epipolar_line, fundamental_matrix
from triangulation.io import CalibrationFormatError, load_rig, load_rigs, save_rig, save_rigs
from triangulation.projection import in_front, in_image, project, reprojection_error
from triangulation.ransac import triangulate_ransac
from triangulation.results import Triangulation

__all__ = [
    "CalibrationFormatError",
    "load_rig",
    "load_rigs",
    "save_rig",
    "save_rigs",
    "Camera",
    "CameraRig",
    "Triangulation",
    "project",
    "undistort_points",
    "triangulate",
    "triangulate_ransac",
    "refine_rig",
    "RigRefinement",
    "in_image",
    "in_front",
    "reprojection_error",
    "epipolar_line",
    "fundamental_matrix",
]
