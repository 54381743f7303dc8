"""Gauss-Newton refinement of 3D points on reprojection error, vectorised over points.

The residual of view c is measured on the undistorted image plane and scaled to pixels
by the local pixel scale of that observation (``sx, sy``: focal length times the lens's
local magnification, see :func:`pixel_scales`)::

    r_c = (X_c / Z_c - x_c) * sx_c,  (Y_c / Z_c - y_c) * sy_c

which equals the pixel reprojection error to first order in the (small) distance between
observation and projection, without evaluating the distortion model and its Jacobian in
every iteration. The final pixel errors reported to the caller are always computed with
the full distorted projection.

The normal equations ``JᵀJ δ = -Jᵀr`` are, like the DLT, assembled by GEMMs of a few
scalars per observation against per-camera blocks of the rotation; each point's 3×3
system is solved in closed form. A step is kept only if it lowers that point's cost.
"""

from __future__ import annotations

import numpy as np

from triangulation.camera import CameraRig
from triangulation.projection import MIN_DEPTH_MM, camera_planes

__all__ = ["pixel_scales", "refine_points", "refine_blocks"]

_IU3 = np.triu_indices(3)


def pixel_scales(xd, yd, x, y, K: np.ndarray):
    """(n, C) pixels per normalised unit at each observation: f times r_d / r_u."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.sqrt((xd * xd + yd * yd) / (x * x + y * y))
    ratio = np.where(np.isfinite(ratio) & (ratio > 0), ratio, 1.0)
    return K[:, 0, 0] * ratio, K[:, 1, 1] * ratio


def refine_blocks(rig: CameraRig):
    """Per-camera blocks for JᵀJ (5*C, 6) and Jᵀr (3*C, 3)."""
    R0, R1, R2 = rig.R[:, 0], rig.R[:, 1], rig.R[:, 2]

    def outer(a, b):
        return np.einsum("ci,cj->cij", a, b)

    q = np.stack(
        [
            outer(R0, R0),
            outer(R0, R2) + outer(R2, R0),
            outer(R2, R2),
            outer(R1, R1),
            outer(R1, R2) + outer(R2, R1),
        ],
        axis=1,
    )  # (C, 5, 3, 3)
    # laid out (5, C, 6) and (3, C, 3) to match the (n, 5, C) / (n, 3, C) scalar planes
    jtj = np.ascontiguousarray(q[:, :, _IU3[0], _IU3[1]].transpose(1, 0, 2).reshape(-1, 6))
    jtr = np.ascontiguousarray(rig.R.transpose(1, 0, 2).reshape(-1, 3))
    return jtj, jtr


def _residuals(X, x, y, wx, wy, rig):
    xc, yc, z = camera_planes(X, rig)
    front = z > MIN_DEPTH_MM
    iz = np.where(front, 1.0 / np.where(front, z, 1.0), 0.0)
    px = xc * iz
    py = yc * iz
    rx = px - x
    ry = py - y
    cost = (wx * rx * rx + wy * ry * ry).sum(1)
    cost = np.where(((wx > 0) & ~front).any(1), np.inf, cost)  # behind a used camera
    return cost, iz, px, py, rx, ry


def refine_points(X, x, y, wx, wy, rig: CameraRig, blocks, iterations: int = 2) -> np.ndarray:
    """Gauss-Newton on ``Σ_c wx rx² + wy ry²`` (normalised-plane residuals rx, ry).

    Args:
        X: (n, 3) start points (NaN rows stay NaN).
        x, y: (n, C) undistorted normalised observations (any finite value where unused).
        wx, wy: (n, C) residual weights, e.g. ``sx²`` / ``sy²`` on inliers, 0 elsewhere.
        blocks: ``refine_blocks(rig)``.
    Returns:
        (n, 3) refined points: each never worse in cost than its start.
    """
    jtj_blocks, jtr_blocks = blocks
    n, C = x.shape
    X = X.copy()
    finite = np.isfinite(X).all(1)
    X[~finite] = 0.0
    best_cost = None
    for it in range(iterations + 1):
        cost, iz, px, py, rx, ry = _residuals(X, x, y, wx, wy, rig)
        if best_cost is None:
            best_cost, best_X = cost, X
        else:
            better = cost < best_cost
            best_cost = np.where(better, cost, best_cost)
            best_X = np.where(better[:, None], X, best_X)
        if it == iterations:
            break
        iz2 = iz * iz
        s = np.empty((n, 5, C))
        ax = np.multiply(wx, iz2, out=s[:, 0])
        ay = np.multiply(wy, iz2, out=s[:, 3])
        np.multiply(ax, px, out=s[:, 1])
        np.multiply(s[:, 1], px, out=s[:, 2])
        np.negative(s[:, 1], out=s[:, 1])
        np.multiply(ay, py, out=s[:, 4])
        s[:, 2] += s[:, 4] * py
        np.negative(s[:, 4], out=s[:, 4])
        a, b, c, d, e, f = (s.reshape(n, 5 * C) @ jtj_blocks).T
        g = np.empty((n, 3, C))
        alpha = np.multiply(wx * rx, iz, out=g[:, 0])
        beta = np.multiply(wy * ry, iz, out=g[:, 1])
        np.multiply(alpha, px, out=g[:, 2])
        g[:, 2] += beta * py
        np.negative(g[:, 2], out=g[:, 2])
        gx, gy, gz = (g.reshape(n, 3 * C) @ jtr_blocks).T
        # tiny Levenberg damping keeps nearly singular systems solvable
        damp = 1e-12 * (a + d + f)
        a, d, f = a + damp, d + damp, f + damp
        c11 = d * f - e * e
        c12 = c * e - b * f
        c13 = b * e - c * d
        c22 = a * f - c * c
        c23 = b * c - a * e
        c33 = a * d - b * b
        with np.errstate(divide="ignore", invalid="ignore"):
            det = a * c11 + b * c12 + c * c13
            step = -np.stack(
                [c11 * gx + c12 * gy + c13 * gz, c12 * gx + c22 * gy + c23 * gz,
                 c13 * gx + c23 * gy + c33 * gz],
                axis=1,
            ) / det[:, None]
        X = X + np.where(np.isfinite(step), step, 0.0)
    best_X = best_X.copy()
    best_X[~finite] = np.nan
    return best_X
