"""World points -> pixels in every camera of a rig, and what can be seen where.

``x_cam = R_cam_from_world @ X_world + t``; a point with camera depth ``z <= MIN_DEPTH_MM``
is behind (or on the plane of) that camera and projects to NaN, so it is never reported
as visible in it. Projection matches ``cv2.projectPoints`` (same distortion model) to
~1e-12 px for cameras without skew; skew in K is applied too.
"""

from __future__ import annotations

import numpy as np

from triangulation._kernels import MIN_DEPTH_MM
from triangulation.camera import CameraRig
from triangulation.distortion import DistortionCoeffs, distort_normalized
from triangulation.results import (
    DEFAULT_CHUNK,
    block_points,
    check_points,
    check_rig,
    check_uv,
    for_each_chunk,
)

__all__ = [
    "MIN_DEPTH_MM",
    "world_to_camera",
    "camera_planes",
    "project_planes",
    "project",
    "in_front",
    "in_image",
    "reprojection_error",
]



def _homogeneous_extrinsics(rig: CameraRig) -> np.ndarray:
    """(4, 3C) matrix whose product with [X, 1] gives x, y, z planes of all cameras."""
    C = len(rig)
    Rt = np.empty((4, 3, C))
    Rt[:3] = rig.R.transpose(2, 1, 0)  # [j, i, c] = R[c, i, j]
    Rt[3] = rig.t.T
    return Rt.reshape(4, 3 * C)


def camera_planes(points_world_mm: np.ndarray, rig: CameraRig):
    """(N, 3) world mm -> camera-frame (x, y, z) planes, each (N, C), from one GEMM.

    Homogeneous coordinates against a contiguous (4, 3C) ``[R | t]ᵀ`` let BLAS do it all
    and give each coordinate as a contiguous row per point, which the elementwise kernels
    that follow read much faster than an interleaved (N, C, 3) layout.
    """
    C = len(rig)
    X4 = np.empty((points_world_mm.shape[0], 4))
    X4[:, :3] = points_world_mm
    X4[:, 3] = 1.0
    out = (X4 @ _homogeneous_extrinsics(rig)).reshape(-1, 3, C)
    return out[:, 0], out[:, 1], out[:, 2]


def world_to_camera(points_world_mm: np.ndarray, rig: CameraRig) -> np.ndarray:
    """(N, 3) world mm -> (N, C, 3) camera-frame mm (one GEMM, no loop over cameras)."""
    return np.stack(camera_planes(points_world_mm, rig), axis=-1)


def project_planes(pts: np.ndarray, rig: CameraRig, co: DistortionCoeffs):
    """(N, 3) world mm -> pixel planes (u, v), each (N, C); NaN behind a camera."""
    xc, yc, z = camera_planes(pts, rig)
    with np.errstate(divide="ignore"):
        iz = 1.0 / z
    iz[~(z > MIN_DEPTH_MM)] = np.nan  # behind the camera: never visible
    x, y = distort_normalized(xc * iz, yc * iz, co)
    K = rig.K
    v = K[:, 1, 1] * y
    v += K[:, 1, 2]
    u = K[:, 0, 0] * x
    u += K[:, 0, 1] * y
    u += K[:, 0, 2]
    return u, v


def project(points_world_mm, rig: CameraRig, *, chunk: int | None = DEFAULT_CHUNK) -> np.ndarray:
    """Project world points into every camera, lens distortion included.

    Args:
        points_world_mm: (..., 3) points in world mm; NaN propagates.
        rig: the C cameras.
    Returns:
        uv_px: (..., C, 2) pixel coordinates (top-left pixel centre at (0, 0)); NaN for a
        point behind a camera (depth <= ``MIN_DEPTH_MM``).

    Example:
        >>> uv = project(np.zeros(3), rig)   # (C, 2): where the world origin appears
    """
    pts = check_points(points_world_mm)
    check_rig(rig)
    co = DistortionCoeffs.from_rig(rig)
    flat = pts.reshape(-1, 3)
    out = np.empty((flat.shape[0], len(rig), 2))

    def work(sl: slice) -> None:
        out[sl, :, 0], out[sl, :, 1] = project_planes(flat[sl], rig, co)

    for_each_chunk(work, flat.shape[0], block_points(len(rig), chunk))
    return out.reshape(pts.shape[:-1] + (len(rig), 2))


def in_front(points_world_mm, rig: CameraRig) -> np.ndarray:
    """(..., 3) world mm -> (..., C) bool: depth in that camera > ``MIN_DEPTH_MM``.

    NaN points are in front of no camera.
    """
    pts = check_points(points_world_mm)
    check_rig(rig)
    z = np.einsum("cj,...j->...c", rig.R[:, 2, :], pts) + rig.t[:, 2]
    return z > MIN_DEPTH_MM


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
