"""Weighted linear (DLT) triangulation over any number of views, batched over points.

Each view with undistorted normalised observation (x, y) and extrinsics ``P = [R | t]``
(3, 4) gives the two homogeneous equations ``(x P₃ - P₁)·X = 0``, ``(y P₃ - P₂)·X = 0``
(Hartley & Zisserman, *Multiple View Geometry*, 2nd ed., §12.2). The DLT point is the unit
vector minimising ``Σ_c w_c |A_c X|²``: the eigenvector of the smallest eigenvalue of the
4×4 normal matrix ``M = Σ_c w_c A_cᵀ A_c`` (the same minimiser as the SVD of the stacked
A that aniposelib and ``cv2.triangulatePoints`` use, with unit weights).

The smallest eigenvector is found from the block form ``M = [[B, b], [bᵀ, m]]``: for
``X = (x, 1)`` the eigen-equation reads ``x = -(B - λI)⁻¹ b`` and ``λ`` is the Rayleigh
quotient, i.e. Newton's method on the secular equation started at ``λ = 0``; four steps
reach float64 precision because λ is tiny compared with B's eigenvalues unless the
geometry is degenerate (then the point is NaN). The per-point work (undistortion to
convergence, M, the solve, the distorted reprojection) runs in the compiled kernel
:func:`triangulation._kernels.triangulate_block`.
"""

from __future__ import annotations

import numpy as np

from triangulation._kernels import pack_cameras, triangulate_block
from triangulation.camera import CameraRig
from triangulation.results import (
    DEFAULT_CHUNK,
    Progress,
    Triangulation,
    block_points,
    check_uv,
    check_view_weights,
    for_each_chunk,
)

__all__ = ["triangulate"]


def triangulate(
    uv_px,
    rig: CameraRig,
    weights=None,
    *,
    reproj_error: bool = True,
    progress: Progress | None = None,
    chunk: int | None = DEFAULT_CHUNK,
) -> Triangulation:
    """Weighted DLT triangulation of pixel observations from all cameras of a rig.

    Args:
        uv_px: (..., C, 2) pixel observations, C = len(rig); NaN marks a missing view.
        rig: the cameras (distortion is removed before the DLT).
        weights: optional (..., C) (or broadcastable) non-negative weight per view, e.g. a
            detector confidence; it multiplies that view's squared algebraic residual.
            0 or NaN drops the view.
        reproj_error: compute ``reproj_error_px`` (one extra projection); False gives NaN.
        chunk: points per block (bounds memory).
        progress: optional ``progress(points_done, points_total)`` called after each block.
    Returns:
        Triangulation with ``points_world_mm`` (..., 3) (NaN where fewer than two usable
        views or rays parallel), ``inliers`` (..., C) = the views used, ``n_views`` (...,)
        and ``reproj_error_px`` (..., C).

    Example:
        >>> tri = triangulate(project(points, rig), rig)   # doctest: +SKIP
        >>> np.allclose(tri.points_world_mm, points)       # doctest: +SKIP
        True
    """
    uv = check_uv(uv_px, rig)
    w_in = check_view_weights(weights, uv)
    C = len(rig)
    batch = uv.shape[:-2]
    flat = uv.reshape(-1, C, 2)
    w_flat = np.zeros((1, 1)) if w_in is None else w_in.reshape(-1, C)
    n = flat.shape[0]
    cam = pack_cameras(rig)
    points = np.empty((n, 3))
    used = np.empty((n, C), dtype=bool)
    errors = np.empty((n, C)) if reproj_error else np.full((n, C), np.nan)
    use_w = w_in is not None

    def work(sl: slice) -> None:
        # contiguous float64 blocks: the kernel is compiled for that layout only
        w = np.ascontiguousarray(w_flat[sl]) if use_w else w_flat
        triangulate_block(np.ascontiguousarray(flat[sl]), w, use_w, cam, bool(reproj_error),
                          points[sl], used[sl], errors[sl])

    for_each_chunk(work, n, block_points(C, chunk), progress)
    return Triangulation(
        points_world_mm=points.reshape(batch + (3,)),
        inliers=used.reshape(batch + (C,)),
        reproj_error_px=errors.reshape(batch + (C,)),
        n_views=used.sum(-1).reshape(batch),
    )
