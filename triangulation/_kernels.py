"""Compiled per-point kernels behind :func:`triangulate` and :func:`triangulate_ransac`.

Why compiled code here: the numpy versions of these paths were limited by numpy itself.
Each step (undistortion run to convergence, the normal matrix, the 4x4 eigen-solve, the
distorted reprojection, RANSAC's hypotheses) was a separate pass over (points x views)
temporaries, about 75 ns per observation for the undistortion alone. Here each point is
handled start to finish by one loop over its views with everything in registers, and
Newton's method with the analytic Jacobian of the lens model replaces the linearly
converging fixed-point iteration. ``project`` (:func:`project_block`) and
``undistort_points`` (:func:`undistort_block`) call the same code, so the lens model and
its inverse exist once and projecting, undistorting and triangulating always agree.

Conventions are those of :mod:`triangulation.distortion` and :mod:`triangulation.dlt`:
cameras are packed by :func:`pack_cameras` as columns of rows ``fx, skew, cx, fy, cy, k1, k2, p1,
p2, k3, k4, k5, k6, s1, s2, s3, s4, R (row-major 9), t (3)``.

Threading: the kernels are serial, compiled once for float64 C-contiguous arrays
(``cache=True``) and release the GIL, so the block runner
(:func:`triangulation.results.for_each_chunk`) runs blocks on its thread pool and its
thread count is the only one. Every point is computed from its own row alone, in the
same order of operations, so results do not depend on the thread count or block size.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from triangulation.camera import CameraRig

__all__ = [
    "JIT_OPTIONS",
    "MIN_DEPTH_MM",
    "pack_cameras",
    "distort",
    "newton_step",
    "undistort_start",
    "undistort_hard",
    "undistort",
    "undistort_block",
    "to_camera",
    "project_px",
    "project_block",
    "add_view",
    "solve_sym3",
    "solve_dlt",
    "pixel_errors",
    "triangulate_block",
]

#: Only the value-safe fast-math flags: fused multiply-add ("contract") and reciprocal
#: multiplication ("arcp"), about 1.4x here. No "nnan"/"ninf": NaN marks missing views and
#: the kernels test for it; no "reassoc", so every sum keeps its order (results stay
#: identical for any thread count or block size).
JIT_OPTIONS = dict(nogil=True, cache=True, fastmath={"contract", "arcp"}, error_model="numpy")

#: Camera depth (mm) at or below which a point counts as behind the camera.
MIN_DEPTH_MM = 1e-6
#: Newton stops when a step is below this (normalised units); quadratic convergence puts
#: the remaining error far below the 1e-10 px of the numpy undistortion.
_NEWTON_TOL = 1e-12
_NEWTON_MAX_ITER = 30
#: The fixed-point fallback (see undistort_hard) stops after this many iterations and
#: gives NaN unless its last step is below the fail tolerance (as the numpy iteration).
_FIXED_POINT_MAX_ITER = 200
_FIXED_POINT_FAIL_TOL = 1e-9
#: det(B) below this fraction of (trace(B)/3)^3 means rays (nearly) parallel: no point.
_DEGENERATE_DET = 1e-13


def pack_cameras(rig: CameraRig) -> np.ndarray:
    """(29, C) float64: per camera (column) intrinsics, 12 distortion coefficients, R, t.

    Parameters are rows so that loops over the views read them contiguously.
    """
    C = len(rig)
    d = np.zeros((C, 12))
    n = min(12, rig.dist.shape[1])
    d[:, :n] = rig.dist[:, :n]
    K = rig.K
    intr = np.stack([K[:, 0, 0], K[:, 0, 1], K[:, 0, 2], K[:, 1, 1], K[:, 1, 2]], axis=1)
    return np.ascontiguousarray(
        np.concatenate([intr, d, rig.R.reshape(C, 9), rig.t], axis=1).T, dtype=np.float64
    )


@njit(inline="always", **JIT_OPTIONS)
def distort(cam, c, x, y):
    """Distorted normalised (xd, yd), the Jacobian d(xd, yd)/d(x, y) of the OpenCV model
    (j00, j01, j10, j11) and the radial factor."""
    k1, k2, p1, p2, k3, k4 = cam[5, c], cam[6, c], cam[7, c], cam[8, c], cam[9, c], cam[10, c]
    k5, k6 = cam[11, c], cam[12, c]
    s1, s2, s3, s4 = cam[13, c], cam[14, c], cam[15, c], cam[16, c]
    r2 = x * x + y * y
    num = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    den = 1.0 + r2 * (k4 + r2 * (k5 + r2 * k6))
    iden = 1.0 / den
    rad = num * iden
    dnum = k1 + r2 * (2.0 * k2 + 3.0 * r2 * k3)
    dden = k4 + r2 * (2.0 * k5 + 3.0 * r2 * k6)
    drad = (dnum - rad * dden) * iden  # d rad / d r²
    xy2 = 2.0 * x * y
    xd = x * rad + p1 * xy2 + p2 * (r2 + 2.0 * x * x) + r2 * (s1 + s2 * r2)
    yd = y * rad + p1 * (r2 + 2.0 * y * y) + p2 * xy2 + r2 * (s3 + s4 * r2)
    ax = x * drad + s1 + 2.0 * s2 * r2  # d xd / d r² without the tangential terms
    ay = y * drad + s3 + 2.0 * s4 * r2
    j00 = rad + 2.0 * x * ax + 2.0 * p1 * y + 6.0 * p2 * x
    j01 = 2.0 * y * ax + 2.0 * p1 * x + 2.0 * p2 * y
    j10 = 2.0 * x * ay + 2.0 * p1 * x + 2.0 * p2 * y
    j11 = rad + 2.0 * y * ay + 6.0 * p1 * y + 2.0 * p2 * x
    return xd, yd, j00, j01, j10, j11, rad


@njit(inline="always", **JIT_OPTIONS)
def newton_step(cam, c, x, y, xd, yd):
    """Newton step (dx, dy) towards distort(x, y) = (xd, yd), the Jacobian's det and the
    radial factor at (x, y)."""
    fx, fy, j00, j01, j10, j11, rad = distort(cam, c, x, y)
    det = j00 * j11 - j01 * j10
    idet = 1.0 / det
    ex = xd - fx
    ey = yd - fy
    return (j11 * ex - j01 * ey) * idet, (j00 * ey - j10 * ex) * idet, det, rad


@njit(inline="always", **JIT_OPTIONS)
def undistort_start(cam, c, xd, yd):
    """Start of the inversion: the series inverse of the radial factor,
    ``(x_d - tangential(x_d)) (1 - k1 r² + (3 k1² - k2) r⁴)`` (no series with rational terms)."""
    k1, k2, p1, p2 = cam[5, c], cam[6, c], cam[7, c], cam[8, c]
    r2 = xd * xd + yd * yd
    if cam[10, c] != 0.0 or cam[11, c] != 0.0 or cam[12, c] != 0.0:
        rad = 1.0
    else:
        rad = min(2.0, max(0.5, 1.0 + r2 * (-k1 + r2 * (3.0 * k1 * k1 - k2))))
    xy2 = 2.0 * xd * yd
    return ((xd - p1 * xy2 - p2 * (r2 + 2.0 * xd * xd)) * rad,
            (yd - p1 * (r2 + 2.0 * yd * yd) - p2 * xy2) * rad)


@njit(**JIT_OPTIONS)
def undistort_hard(cam, c, xd, yd, x, y):
    """The views Newton did not settle in two steps: Newton continued while it stays where
    the model is invertible (det J > 0, radial factor > 0); if it leaves that region
    (strong distortion near the fold), OpenCV's fixed-point iteration
    ``x <- x + (x_d - distort(x)) / radial(x)`` from the start instead, which converges
    where the model is a contraction.
    """
    for _ in range(_NEWTON_MAX_ITER):
        dx, dy, det, rad = newton_step(cam, c, x, y, xd, yd)
        if not (det > 0.0 and rad > 0.0):
            break
        x += dx
        y += dy
        if abs(dx) <= _NEWTON_TOL and abs(dy) <= _NEWTON_TOL:
            return x, y
    x, y = undistort_start(cam, c, xd, yd)
    step = np.inf
    for _ in range(_FIXED_POINT_MAX_ITER):
        fx, fy, j00, j01, j10, j11, rad = distort(cam, c, x, y)
        if not rad > 0.0:
            break
        dx = (xd - fx) / rad
        dy = (yd - fy) / rad
        x += dx
        y += dy
        step = max(abs(dx), abs(dy))
        if step <= _NEWTON_TOL:
            break
    if step <= _FIXED_POINT_FAIL_TOL and j00 * j11 - j01 * j10 > 0.0:
        return x, y
    return np.nan, np.nan


@njit(**JIT_OPTIONS)
def undistort(uv, cam, x, y, xd, yd, step):
    """Pixels (C, 2) -> undistorted (x, y) and distorted (xd, yd) normalised, each (C,).

    Newton's method on the full model from :func:`undistort_start`, run per view until a
    step is below ``_NEWTON_TOL``: two steps for all views in branch-free loops (the
    views' dependency chains then overlap in the CPU), :func:`undistort_hard` for the
    few that need more. No solution (beyond the fold of the distortion polynomial, where
    no ray maps) gives NaN; missing views stay NaN. ``step`` is (C,) scratch.
    """
    C = cam.shape[1]
    for c in range(C):
        v = (uv[c, 1] - cam[4, c]) / cam[3, c]
        u = (uv[c, 0] - cam[2, c] - cam[1, c] * v) / cam[0, c]
        xd[c] = u
        yd[c] = v
        x[c], y[c] = undistort_start(cam, c, u, v)
    for c in range(C):
        dx, dy, _, _ = newton_step(cam, c, x[c], y[c], xd[c], yd[c])
        x[c] += dx
        y[c] += dy
    for c in range(C):  # step 2: its size tells which views have converged
        dx, dy, det, rad = newton_step(cam, c, x[c], y[c], xd[c], yd[c])
        x[c] += dx
        y[c] += dy
        step[c] = max(abs(dx), abs(dy)) if det > 0.0 and rad > 0.0 else np.inf
    for c in range(C):
        if not step[c] <= _NEWTON_TOL and not math.isnan(xd[c] + yd[c]):
            x[c], y[c] = undistort_hard(cam, c, xd[c], yd[c], x[c], y[c])


@njit(**JIT_OPTIONS)
def undistort_block(uv, cam, out):
    """(n, C, 2) pixels -> (n, C, 2) undistorted normalised coordinates (NaN: none)."""
    C = cam.shape[1]
    x = np.empty(C)
    y = np.empty(C)
    xd = np.empty(C)
    yd = np.empty(C)
    step = np.empty(C)
    for i in range(uv.shape[0]):
        undistort(uv[i], cam, x, y, xd, yd, step)
        for c in range(C):
            out[i, c, 0] = x[c]
            out[i, c, 1] = y[c]


@njit(inline="always", **JIT_OPTIONS)
def to_camera(cam, c, X0, X1, X2):
    """World point -> camera frame (xc, yc, z) of camera c."""
    return (cam[17, c] * X0 + cam[18, c] * X1 + cam[19, c] * X2 + cam[26, c],
            cam[20, c] * X0 + cam[21, c] * X1 + cam[22, c] * X2 + cam[27, c],
            cam[23, c] * X0 + cam[24, c] * X1 + cam[25, c] * X2 + cam[28, c])


@njit(inline="always", **JIT_OPTIONS)
def project_px(cam, c, X0, X1, X2):
    """World point -> distorted pixel (u, v); NaN behind the camera."""
    xc, yc, z = to_camera(cam, c, X0, X1, X2)
    iz = 1.0 / z if z > MIN_DEPTH_MM else np.nan  # behind: NaN (a select, no branch)
    xd, yd, _, _, _, _, _ = distort(cam, c, xc * iz, yc * iz)
    return cam[0, c] * xd + cam[1, c] * yd + cam[2, c], cam[3, c] * yd + cam[4, c]


@njit(**JIT_OPTIONS)
def project_block(points, cam, out):
    """(n, 3) world mm -> (n, C, 2) distorted pixels (NaN behind a camera)."""
    for i in range(points.shape[0]):
        X0, X1, X2 = points[i, 0], points[i, 1], points[i, 2]
        for c in range(cam.shape[1]):
            out[i, c, 0], out[i, c, 1] = project_px(cam, c, X0, X1, X2)


@njit(inline="always", **JIT_OPTIONS)
def add_view(M, cam, c, x, y, w):
    """M += w (a aᵀ + b bᵀ), a = x P₃ - P₁, b = y P₃ - P₂, P = [R | t]; M: 10 upper entries."""
    a0 = x * cam[23, c] - cam[17, c]
    a1 = x * cam[24, c] - cam[18, c]
    a2 = x * cam[25, c] - cam[19, c]
    a3 = x * cam[28, c] - cam[26, c]
    b0 = y * cam[23, c] - cam[20, c]
    b1 = y * cam[24, c] - cam[21, c]
    b2 = y * cam[25, c] - cam[22, c]
    b3 = y * cam[28, c] - cam[27, c]
    M[0] += w * (a0 * a0 + b0 * b0)
    M[1] += w * (a0 * a1 + b0 * b1)
    M[2] += w * (a0 * a2 + b0 * b2)
    M[3] += w * (a0 * a3 + b0 * b3)
    M[4] += w * (a1 * a1 + b1 * b1)
    M[5] += w * (a1 * a2 + b1 * b2)
    M[6] += w * (a1 * a3 + b1 * b3)
    M[7] += w * (a2 * a2 + b2 * b2)
    M[8] += w * (a2 * a3 + b2 * b3)
    M[9] += w * (a3 * a3 + b3 * b3)


@njit(inline="always", **JIT_OPTIONS)
def solve_sym3(a, b, c, d, e, f, gx, gy, gz):
    """Solve ``[[a, b, c], [b, d, e], [c, e, f]] s = -g`` by cofactors.

    Returns (s0, s1, s2, det, c33) with c33 = a d - b² the leading 2x2 minor, so callers
    can check positive definiteness (a > 0, c33 > 0, det > 0) without recomputing it.
    """
    c11 = d * f - e * e
    c12 = c * e - b * f
    c13 = b * e - c * d
    c22 = a * f - c * c
    c23 = b * c - a * e
    c33 = a * d - b * b
    det = a * c11 + b * c12 + c * c13
    s0 = -(c11 * gx + c12 * gy + c13 * gz) / det
    s1 = -(c12 * gx + c22 * gy + c23 * gz) / det
    s2 = -(c13 * gx + c23 * gy + c33 * gz) / det
    return s0, s1, s2, det, c33


@njit(**JIT_OPTIONS)
def solve_dlt(M, steps):
    """Smallest eigenvector (X, 1) of the 4x4 normal matrix M (10 upper entries).

    Block form ``M = [[B, b], [bᵀ, m]]``: ``X = -(B - λI)⁻¹ b`` with λ the Rayleigh
    quotient of (X, 1), i.e. Newton's method on the secular equation from λ = 0; a few
    steps reach float64 precision as λ is tiny against B's eigenvalues. Parallel rays
    (det B ~ 0) give NaN; a step that would make B - λI indefinite is not taken.
    """
    a, b0, c, bx, d, e, by, f, bz, m = M[0], M[1], M[2], M[3], M[4], M[5], M[6], M[7], M[8], M[9]
    scale = ((a + d + f) / 3.0) ** 3
    lam = 0.0
    X0 = X1 = X2 = np.nan
    for step in range(steps + 1):
        n0, n1, n2, det, c33 = solve_sym3(a - lam, b0, c, d - lam, e, f - lam, bx, by, bz)
        if step == 0:
            if not det > _DEGENERATE_DET * scale:
                return np.nan, np.nan, np.nan
        elif not (a - lam > 0.0 and c33 > 0.0 and det > 0.0):
            break
        if not (math.isfinite(n0) and math.isfinite(n1) and math.isfinite(n2)):
            break
        X0, X1, X2 = n0, n1, n2
        if step == steps:
            break
        q = (X0 * (a * X0 + b0 * X1 + c * X2) + X1 * (b0 * X0 + d * X1 + e * X2)
             + X2 * (c * X0 + e * X1 + f * X2) + 2.0 * (bx * X0 + by * X1 + bz * X2) + m)
        lam = max(q, 0.0) / (1.0 + X0 * X0 + X1 * X1 + X2 * X2)
    return X0, X1, X2


@njit(**JIT_OPTIONS)
def pixel_errors(uv, cam, X0, X1, X2, err):
    """err[c] = pixel distance of observation c from the projection (NaN where missing)."""
    for c in range(cam.shape[1]):
        pu, pv = project_px(cam, c, X0, X1, X2)
        du = pu - uv[c, 0]
        dv = pv - uv[c, 1]
        err[c] = math.sqrt(du * du + dv * dv)


@njit(**JIT_OPTIONS)
def triangulate_block(uv, w, use_w, cam, want_err, points, used, err):
    """Weighted DLT of each point of a block, written into ``points``, ``used``, ``err``.

    uv: (n, C, 2) pixels (NaN: missing); w: (n, C) weights, read only if ``use_w``;
    cam: ``pack_cameras``; points (n, 3), used (n, C) bool, err (n, C) outputs (``err``
    untouched unless ``want_err``).
    """
    n, C = uv.shape[0], uv.shape[1]
    M = np.empty(10)
    x = np.empty(C)
    y = np.empty(C)
    xd = np.empty(C)
    yd = np.empty(C)
    step = np.empty(C)
    for i in range(n):
        undistort(uv[i], cam, x, y, xd, yd, step)
        M[:] = 0.0
        count = 0
        for c in range(C):
            wc = w[i, c] if use_w else 1.0
            ok = not math.isnan(x[c]) and wc > 0.0
            used[i, c] = ok
            if ok:
                add_view(M, cam, c, x[c], y[c], wc)
                count += 1
        X0 = X1 = X2 = np.nan
        if count >= 2:
            X0, X1, X2 = solve_dlt(M, 4)
        if math.isnan(X0):
            X0 = X1 = X2 = np.nan
            for c in range(C):
                used[i, c] = False
        points[i, 0], points[i, 1], points[i, 2] = X0, X1, X2
        if want_err:
            pixel_errors(uv[i], cam, X0, X1, X2, err[i])
