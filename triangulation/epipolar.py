"""Epipolar geometry between two cameras, lens distortion included.

The GUI draws, in every other view, the epipolar line of a click: the image of the ray
through the clicked pixel. With lens distortion that image is a curve, so
:func:`epipolar_line` returns a polyline: points along the ray (undistorted click,
back-projected) projected into the other camera with the full model.
"""

from __future__ import annotations

import numpy as np

from triangulation.camera import Camera, CameraRig
from triangulation.distortion import undistort_points
from triangulation.projection import project
from triangulation.results import check_int

__all__ = ["fundamental_matrix", "epipolar_line"]


def _skew(v: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


def fundamental_matrix(cam_a: Camera, cam_b: Camera) -> np.ndarray:
    """(3, 3) F with ``[u_b, v_b, 1] F [u_a, v_a, 1]ᵀ = 0`` for undistorted pixels.

    Hartley & Zisserman §9.2.2: ``F = K_b⁻ᵀ [t]ₓ R K_a⁻¹`` with (R, t) the motion from
    camera a's frame to camera b's. Normalised so that ``‖F‖ = 1``.
    """
    if not isinstance(cam_a, Camera) or not isinstance(cam_b, Camera):
        raise ValueError("fundamental_matrix takes two Camera objects")
    R_ba = cam_b.R @ cam_a.R.T
    t_ba = cam_b.t - R_ba @ cam_a.t
    if np.linalg.norm(t_ba) < 1e-9 * max(1.0, np.linalg.norm(cam_a.t)):
        raise ValueError(
            f"cameras {cam_a.name!r} and {cam_b.name!r} share a centre: no epipolar geometry"
        )
    F = np.linalg.inv(cam_b.K).T @ _skew(t_ba) @ R_ba @ np.linalg.inv(cam_a.K)
    return F / np.linalg.norm(F)


def epipolar_line(
    uv_px_in_a,
    rig: CameraRig,
    cam_a: str | int,
    cam_b: str | int,
    n_samples: int = 64,
    depth_range_mm: tuple[float, float] | None = None,
) -> np.ndarray:
    """Polyline in camera b of the ray through pixel(s) ``uv_px_in_a`` of camera a.

    Args:
        uv_px_in_a: (..., 2) pixel(s) in camera a.
        rig: the cameras; ``cam_a`` / ``cam_b`` are names or indices in it.
        n_samples: points on the polyline.
        depth_range_mm: (near, far) depths along camera a's optical axis to sample; by
            default from 1 % to 100x the distance between the two camera centres, with
            samples spaced uniformly in inverse depth (uniform along the image line).
    Returns:
        (..., n_samples, 2) pixels in camera b, NaN where the ray point is behind camera b.
        Lens distortion of both cameras is included, so the polyline may curve.
    """
    ia = int(cam_a) if isinstance(cam_a, int | np.integer) else rig.index(cam_a)
    ib = int(cam_b) if isinstance(cam_b, int | np.integer) else rig.index(cam_b)
    if not (0 <= ia < len(rig) and 0 <= ib < len(rig)):
        raise ValueError(f"camera index out of range for a rig of {len(rig)}: {cam_a}, {cam_b}")
    if ia == ib:
        raise ValueError("epipolar_line needs two different cameras")
    n_samples = check_int(n_samples, "n_samples", 2)
    uv = np.asarray(uv_px_in_a, dtype=np.float64)
    if uv.ndim < 1 or uv.shape[-1] != 2:
        raise ValueError(f"uv_px_in_a must have shape (..., 2), got {uv.shape}")
    if np.isinf(uv).any():
        raise ValueError("uv_px_in_a contains inf")
    a = rig[ia]
    baseline = float(np.linalg.norm(rig.centers_world[ia] - rig.centers_world[ib]))
    near, far = depth_range_mm if depth_range_mm is not None else (0.01 * baseline, 100 * baseline)
    if not (0 < near < far and np.isfinite(far)):
        raise ValueError(f"depth_range_mm must be 0 < near < far, got {(near, far)}")
    pair = CameraRig([a])
    xy = undistort_points(uv[..., None, :], pair)[..., 0, :]  # (..., 2)
    ray_cam = np.concatenate([xy, np.ones(xy.shape[:-1] + (1,))], axis=-1)  # z = 1
    inv_depth = np.linspace(1.0 / near, 1.0 / far, int(n_samples))
    pts_cam = ray_cam[..., None, :] / inv_depth[:, None]  # (..., S, 3) in camera a
    pts_world = (pts_cam - a.t) @ a.R  # R^T (x - t), row-vector form
    return project(pts_world, rig[ib : ib + 1])[..., 0, :]  # NaN behind camera b
