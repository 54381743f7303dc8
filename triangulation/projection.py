"""World points -> pixels in every camera of a rig, and what can be seen where.

``x_cam = R_cam_from_world @ X_world + t``; a point with camera depth ``z <= MIN_DEPTH_MM``
is behind (or on the plane of) that camera and projects to NaN, so it is never reported
as visible in it. Projection matches ``cv2.projectPoints`` (same distortion model) to
~1e-12 px for cameras without skew; skew in K is applied too. It runs the compiled
lens model of :mod:`triangulation._kernels`, the one the triangulation kernels use.
"""

from __future__ import annotations

import numpy as np

from triangulation._kernels import MIN_DEPTH_MM, pack_cameras, project_block
from triangulation.camera import CameraRig
from triangulation.results import (
    DEFAULT_CHUNK,
    block_points,
    check_points,
    check_rig,
    check_uv,
    chunks,
    for_each_chunk,
)

__all__ = [
    "MIN_DEPTH_MM",
    "project",
    "in_front",
    "in_image",
    "reprojection_error",
]


def project(points_world_mm, rig: CameraRig, *, chunk: int | None = DEFAULT_CHUNK) -> np.ndarray:
    """Project world points into every camera, lens distortion included.

    Args:
        points_world_mm: (..., 3) points in world mm; NaN propagates.
        rig: the C cameras.
        chunk: points per block (bounds memory).
    Returns:
        uv_px: (..., C, 2) pixel coordinates (top-left pixel centre at (0, 0)); NaN for a
        point behind a camera (depth <= ``MIN_DEPTH_MM``).

    Example:
        >>> uv = project(np.zeros(3), rig)   # (C, 2): where the world origin appears
    """
    pts = check_points(points_world_mm)
    check_rig(rig)
    cam = pack_cameras(rig)
    flat = pts.reshape(-1, 3)
    out = np.empty((flat.shape[0], len(rig), 2))

    def work(sl: slice) -> None:
        project_block(np.ascontiguousarray(flat[sl]), cam, out[sl])

    for_each_chunk(work, flat.shape[0], block_points(len(rig), chunk))
    return out.reshape(pts.shape[:-1] + (len(rig), 2))


def in_front(points_world_mm, rig: CameraRig) -> np.ndarray:
    """(..., 3) world mm -> (..., C) bool: depth in that camera > ``MIN_DEPTH_MM``.

    NaN points are in front of no camera.
    """
    pts = check_points(points_world_mm)
    check_rig(rig)
    flat = pts.reshape(-1, 3)
    out = np.empty((flat.shape[0], len(rig)), dtype=bool)
    # In blocks, so the float depths never exist for all points at once (bounded memory).
    for sl in chunks(flat.shape[0], block_points(len(rig))):
        out[sl] = flat[sl] @ rig.R[:, 2, :].T + rig.t[:, 2] > MIN_DEPTH_MM
    return out.reshape(pts.shape[:-1] + (len(rig),))


def in_image(uv_px, rig: CameraRig, margin_px: float = 0.0) -> np.ndarray:
    """(..., C, 2) pixels -> (..., C) bool: inside camera c's image, ``margin_px`` from the edge.

    The image spans pixel centres 0 .. width-1 (so -0.5 .. width-0.5 to the pixel edges);
    a positive margin shrinks the accepted area, a negative one grows it. NaN is outside.
    """
    uv = check_uv(uv_px, rig)
    if not np.isfinite(margin_px):
        raise ValueError(f"margin_px must be finite, got {margin_px}")
    lo = -0.5 + margin_px
    hi = rig.sizes - 0.5 - margin_px  # (C, 2) as (width, height)
    return np.all((uv >= lo) & (uv <= hi), axis=-1)


def reprojection_error(points_world_mm, uv_px, rig: CameraRig) -> np.ndarray:
    """Pixel distance between observations and projected points.

    Args:
        points_world_mm: (..., 3), broadcastable against the leading axes of ``uv_px``.
        uv_px: (..., C, 2) observations, NaN where missing.
    Returns:
        (..., C) error in px; NaN where there is no observation, the point is NaN or it is
        behind that camera.
    """
    uv = check_uv(uv_px, rig)
    proj = project(points_world_mm, rig)
    return np.sqrt((proj[..., 0] - uv[..., 0]) ** 2 + (proj[..., 1] - uv[..., 1]) ** 2)
