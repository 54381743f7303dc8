"""Weighted linear (DLT) triangulation over any number of views, vectorised over points.

Each view with undistorted normalised observation (x, y) and extrinsics ``P = [R | t]``
(3, 4) gives the two homogeneous equations ``(x P₃ - P₁)·X = 0``, ``(y P₃ - P₂)·X = 0``
(Hartley & Zisserman, *Multiple View Geometry*, 2nd ed., §12.2). The DLT point is the unit
vector minimising ``Σ_c w_c |A_c X|²``: the eigenvector of the smallest eigenvalue of the
4×4 normal matrix ``M = Σ_c w_c A_cᵀ A_c`` (the same minimiser as the SVD of the stacked
A that aniposelib and ``cv2.triangulatePoints`` use, with unit weights).

Speed: ``A_cᵀ A_c = (x²+y²) P₃P₃ᵀ - x (P₃P₁ᵀ+P₁P₃ᵀ) - y (P₃P₂ᵀ+P₂P₃ᵀ) + P₁P₁ᵀ + P₂P₂ᵀ``, so M
is one GEMM of four scalars per observation against ten-entry per-camera blocks. The
smallest eigenvector is found from the block form ``M = [[B, b], [bᵀ, m]]``: for
``X = (x, 1)`` the eigen-equation reads ``x = -(B - λI)⁻¹ b`` and ``λ`` is the Rayleigh
quotient, i.e. Newton's method on the secular equation started at ``λ = 0``; four steps
reach float64 precision because λ is tiny compared with B's eigenvalues unless the
geometry is degenerate (then the point is NaN).
"""

from __future__ import annotations

import numpy as np

from triangulation.camera import CameraRig
from triangulation.distortion import DistortionCoeffs, pixels_to_normalized, undistort_normalized
from triangulation.projection import pixel_error_planes
from triangulation.results import (
    DEFAULT_CHUNK,
    Progress,
    Triangulation,
    block_points,
    check_uv,
    check_view_weights,
    for_each_chunk,
)

__all__ = ["triangulate", "dlt_blocks", "dlt_normalized", "solve_normal_matrix"]

# Upper-triangle entries of a symmetric 4x4 matrix, in the order of the 10 columns.
_IU = np.triu_indices(4)
# det(B) below this fraction of (trace(B)/3)^3 means rays (nearly) parallel: no point.
_DEGENERATE_DET = 1e-13


def dlt_blocks(rig: CameraRig) -> np.ndarray:
    """(4*C, 10) per-camera blocks: scalars (x²+y², -x, -y, 1) times these give A_cᵀA_c."""
    P = np.concatenate([rig.R, rig.t[:, :, None]], axis=2)  # (C, 3, 4), normalised cameras
    P1, P2, P3 = P[:, 0], P[:, 1], P[:, 2]

    def outer(a, b):
        return np.einsum("ci,cj->cij", a, b)

    blocks = np.stack(
        [
            outer(P3, P3),
            outer(P3, P1) + outer(P1, P3),
            outer(P3, P2) + outer(P2, P3),
            outer(P1, P1) + outer(P2, P2),
        ],
        axis=1,
    )  # (C, 4, 4, 4)
    # laid out (4, C, 10) to match the (n, 4, C) scalar planes of normal_matrix
    return np.ascontiguousarray(blocks[:, :, _IU[0], _IU[1]].transpose(1, 0, 2).reshape(-1, 10))


def normal_matrix(x: np.ndarray, y: np.ndarray, w: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """(n, C) observations and weights (0 where missing, x/y finite) -> (n, 10) of M."""
    n, C = x.shape
    s = np.empty((n, 4, C))
    np.multiply(w, x, out=s[:, 1])
    np.multiply(w, y, out=s[:, 2])
    np.multiply(s[:, 1], x, out=s[:, 0])
    s[:, 0] += s[:, 2] * y
    np.negative(s[:, 1], out=s[:, 1])
    np.negative(s[:, 2], out=s[:, 2])
    s[:, 3] = w
    return s.reshape(n, 4 * C) @ blocks


def solve_normal_matrix(m10: np.ndarray, refine_steps: int = 4) -> np.ndarray:
    """(n, 10) upper triangles of M -> (n, 3) inhomogeneous smallest eigenvectors.

    Degenerate systems (parallel rays, fewer than two views) give NaN.
    """
    a, b0, c, bx, d, e, by, f, bz, m = m10.T  # M rows: [a b0 c bx] [. d e by] [. . f bz] [. m]
    bvec = np.stack([bx, by, bz])
    scale = ((a + d + f) / 3.0) ** 3
    lam = np.zeros_like(a)
    X_prev = None
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for step in range(refine_steps + 1):
            aa, dd, ff = a - lam, d - lam, f - lam
            c11 = dd * ff - e * e
            c12 = c * e - b0 * ff
            c13 = b0 * e - c * dd
            c22 = aa * ff - c * c
            c23 = b0 * c - aa * e
            c33 = aa * dd - b0 * b0
            det = aa * c11 + b0 * c12 + c * c13
            if step == 0:
                ok = det > _DEGENERATE_DET * scale
            else:  # keep B - λI positive definite, else stay at the previous solution
                pd = (aa > 0) & (c33 > 0) & (det > 0)
                det = np.where(pd, det, np.nan)
            X = -np.stack(
                [
                    c11 * bx + c12 * by + c13 * bz,
                    c12 * bx + c22 * by + c23 * bz,
                    c13 * bx + c23 * by + c33 * bz,
                ]
            ) / det
            if step > 0:
                X = np.where(np.isfinite(X), X, X_prev)
            if step == refine_steps:
                break
            # Rayleigh quotient of (X, 1): (XᵀBX + 2 bᵀX + m) / (1 + |X|²)
            BX = np.stack(
                [a * X[0] + b0 * X[1] + c * X[2], b0 * X[0] + d * X[1] + e * X[2],
                 c * X[0] + e * X[1] + f * X[2]]
            )
            num = (X * BX).sum(0) + 2.0 * (bvec * X).sum(0) + m
            lam = np.maximum(num, 0.0) / (1.0 + (X * X).sum(0))
            X_prev = X
    X = np.where(ok, X, np.nan)
    return X.T


def dlt_normalized(x, y, w, blocks) -> np.ndarray:
    """(n, C) undistorted normalised observations + weights -> (n, 3) DLT points."""
    return solve_normal_matrix(normal_matrix(x, y, w, blocks))


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
    w_flat = None if w_in is None else w_in.reshape(-1, C)
    n = flat.shape[0]
    co = DistortionCoeffs.from_rig(rig)
    blocks = dlt_blocks(rig)
    points = np.empty((n, 3))
    used = np.empty((n, C), dtype=bool)
    errors = np.full((n, C), np.nan)

    def work(sl: slice) -> None:
        obs = flat[sl]
        x, y = undistort_normalized(*pixels_to_normalized(obs, rig.K), co)
        seen = ~np.isnan(x)
        w = seen.astype(np.float64) if w_flat is None else np.where(seen, w_flat[sl], 0.0)
        use = w > 0
        x = np.where(seen, x, 0.0)
        y = np.where(seen, y, 0.0)
        X = dlt_normalized(x, y, w, blocks)
        X[use.sum(1) < 2] = np.nan
        points[sl] = X
        used[sl] = use & np.isfinite(X[:, :1])
        if reproj_error:
            errors[sl] = pixel_error_planes(X, obs, rig, co)

    for_each_chunk(work, n, block_points(C, chunk), progress)
    return Triangulation(
        points_world_mm=points.reshape(batch + (3,)),
        inliers=used.reshape(batch + (C,)),
        reproj_error_px=errors.reshape(batch + (C,)),
        n_views=used.sum(-1).reshape(batch),
    )
