"""Compiled residuals and analytic Jacobian rows of the bundle adjustment (one loop).

Internals of :mod:`triangulation._ba_model` (the parameter layout is described there).
Cameras come packed as in :mod:`triangulation._kernels` (columns of ``fx, skew, cx, fy,
cy, 12 distortion coefficients, R row-major, t``) and use its lens model
(:func:`triangulation._kernels.distort`), so the adjustment and the triangulation project
identically. Per observation, everything stays in registers; numpy's passes over
(observations x parameters) temporaries were ~10x slower.
"""

from __future__ import annotations

from numba import njit

from triangulation._kernels import JIT_OPTIONS, distort, to_camera

__all__ = [
    "ba_block",
    "accumulate",
    "fill_reduced",
    "point_rhs",
    "MODE_FIXED",
    "MODE_FOCAL",
    "MODE_ALL",
]

MODE_FIXED, MODE_FOCAL, MODE_ALL = 0, 1, 2


@njit(inline="always", **JIT_OPTIONS)
def _dist_coeff_jac(cam, c, x, y, out, m, col):
    """d(u, v)/d(k1, k2, p1, p2, k3, k4, k5, k6, s1, s2, s3, s4) into out[m, :, col:col+12]."""
    k1, k2, k3 = cam[5, c], cam[6, c], cam[9, c]
    k4, k5, k6 = cam[10, c], cam[11, c], cam[12, c]
    r2 = x * x + y * y
    r4 = r2 * r2
    r6 = r4 * r2
    num = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    iden = 1.0 / (1.0 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    rad = num * iden
    fx, sk, fy = cam[0, c], cam[1, c], cam[3, c]
    xy2 = 2.0 * x * y
    # d(xd, yd) per coefficient, then (u, v) = [[fx, sk], [0, fy]] (xd, yd)
    dx = (
        x * r2 * iden,
        x * r4 * iden,
        xy2,
        r2 + 2.0 * x * x,
        x * r6 * iden,
        -x * rad * r2 * iden,
        -x * rad * r4 * iden,
        -x * rad * r6 * iden,
        r2,
        r4,
        0.0,
        0.0,
    )
    dy = (
        y * r2 * iden,
        y * r4 * iden,
        r2 + 2.0 * y * y,
        xy2,
        y * r6 * iden,
        -y * rad * r2 * iden,
        -y * rad * r4 * iden,
        -y * rad * r6 * iden,
        0.0,
        0.0,
        r2,
        r4,
    )
    for k in range(12):
        out[m, 0, col + k] = fx * dx[k] + sk * dy[k]
        out[m, 1, col + k] = fy * dy[k]


@njit(**JIT_OPTIONS)
def ba_block(cam, Jl, points, obs_cam, obs_pt, uv, mode, want_jac, res, jac):
    """Residuals (and Jacobian rows) of the observations ``obs_cam``, ``obs_pt``, ``uv``.

    Args:
        cam: (29, C) packed current cameras; Jl: (C, 3, 3) left Jacobians of the rotation
            updates; points: (n, 3) world mm; obs_cam, obs_pt: (M,) int64; uv: (M, 2).
        mode: MODE_FIXED / MODE_FOCAL / MODE_ALL; want_jac: fill ``jac`` too.
        res: (M, 2) out, ``project - uv``; jac: (M, 2, P + 3) out, the full camera layout
            then the point's 3 coordinates.
    """
    P = jac.shape[2] - 3
    for m in range(obs_cam.shape[0]):
        c = obs_cam[m]
        p = obs_pt[m]
        X0, X1, X2 = points[p, 0], points[p, 1], points[p, 2]
        yc0, yc1, yc2 = to_camera(cam, c, X0, X1, X2)
        iz = 1.0 / yc2
        x = yc0 * iz
        y = yc1 * iz
        xd, yd, j00, j01, j10, j11, _ = distort(cam, c, x, y)
        fx, sk, cx, fy, cy = cam[0, c], cam[1, c], cam[2, c], cam[3, c], cam[4, c]
        res[m, 0] = fx * xd + sk * yd + cx - uv[m, 0]
        res[m, 1] = fy * yd + cy - uv[m, 1]
        if not want_jac:
            continue
        # G = d(u, v)/d(camera-frame point) = [[fx, sk], [0, fy]] J_dist d(x, y)/d(yc)
        a00 = fx * j00 + sk * j10
        a01 = fx * j01 + sk * j11
        a10 = fy * j10
        a11 = fy * j11
        g = (
            (a00 * iz, a01 * iz, -(a00 * x + a01 * y) * iz),
            (a10 * iz, a11 * iz, -(a10 * x + a11 * y) * iz),
        )
        # rotated point without t: d(yr)/dw = -[yr]x Jl
        r0 = yc0 - cam[26, c]
        r1 = yc1 - cam[27, c]
        r2 = yc2 - cam[28, c]
        for i in range(2):
            gi0, gi1, gi2 = g[i]
            # h = -g_i [yr]x = yr x g_i (row vector)
            h0 = r1 * gi2 - r2 * gi1
            h1 = r2 * gi0 - r0 * gi2
            h2 = r0 * gi1 - r1 * gi0
            for k in range(3):
                jac[m, i, k] = h0 * Jl[c, 0, k] + h1 * Jl[c, 1, k] + h2 * Jl[c, 2, k]
                jac[m, i, 3 + k] = g[i][k]
                jac[m, i, P + k] = (
                    gi0 * cam[17 + k, c] + gi1 * cam[20 + k, c] + gi2 * cam[23 + k, c]
                )
        if mode == MODE_FOCAL:
            jac[m, 0, 6] = fx * xd + sk * yd
            jac[m, 1, 6] = fy * yd
        elif mode == MODE_ALL:
            jac[m, 0, 6], jac[m, 0, 7], jac[m, 0, 8], jac[m, 0, 9] = xd, 0.0, 1.0, 0.0
            jac[m, 1, 6], jac[m, 1, 7], jac[m, 1, 8], jac[m, 1, 9] = 0.0, yd, 0.0, 1.0
            _dist_coeff_jac(cam, c, x, y, jac, m, 10)


@njit(**JIT_OPTIONS)
def accumulate(jac, res, w, obs_cam, obs_pt, U, V, gc, gp):
    """Weighted Gauss-Newton blocks: per camera ``U += w Jcᵀ Jc`` (upper triangle) and
    ``gc += w Jcᵀ r``; per point ``V += w Jpᵀ Jp`` (upper triangle) and ``gp += w Jpᵀ r``.
    Serial (the blocks are shared between observations)."""
    P = jac.shape[2] - 3
    for m in range(obs_cam.shape[0]):
        c = obs_cam[m]
        p = obs_pt[m]
        wm = w[m]
        for i in range(2):
            r = wm * res[m, i]
            for a in range(P):
                ja = jac[m, i, a]
                gc[c, a] += ja * r
                wa = wm * ja
                for b in range(a, P):
                    U[c, a, b] += wa * jac[m, i, b]
            for a in range(3):
                ja = jac[m, i, P + a]
                gp[p, a] += ja * r
                wa = wm * ja
                for b in range(a, 3):
                    V[p, a, b] += wa * jac[m, i, P + b]


@njit(**JIT_OPTIONS)
def fill_reduced(jac, w, obs_cam, obs_pt, m0, m1, p0, row, Linv, Z):
    """Columns of points ``p0..`` of ``Z``: block (camera c, point p) = ``W_cp Linv_pᵀ``
    with ``W_cp = w Jcᵀ Jp`` (free camera rows only, ``row[c, a]`` or -1), so that
    ``Z Zᵀ = Σ_p W_p V_p⁻¹ W_pᵀ`` for ``V_p⁻¹ = Linv_pᵀ Linv_p``. Observations
    ``m0..m1`` must be those of these points."""
    P = jac.shape[2] - 3
    for m in range(m0, m1):
        c = obs_cam[m]
        p = obs_pt[m]
        col = 3 * (p - p0)
        wm = w[m]
        for a in range(P):
            ra = row[c, a]
            if ra < 0:
                continue
            j0a = jac[m, 0, a]
            j1a = jac[m, 1, a]
            W0 = wm * (j0a * jac[m, 0, P] + j1a * jac[m, 1, P])
            W1 = wm * (j0a * jac[m, 0, P + 1] + j1a * jac[m, 1, P + 1])
            W2 = wm * (j0a * jac[m, 0, P + 2] + j1a * jac[m, 1, P + 2])
            for k in range(3):
                Z[ra, col + k] += W0 * Linv[p, k, 0] + W1 * Linv[p, k, 1] + W2 * Linv[p, k, 2]


@njit(**JIT_OPTIONS)
def point_rhs(jac, w, obs_cam, obs_pt, dcam, gp, out):
    """``out = gp + Σ_m W_mᵀ dcam[c_m]`` per point (back-substitution's right-hand side)."""
    P = jac.shape[2] - 3
    out[:] = gp
    for m in range(obs_cam.shape[0]):
        c = obs_cam[m]
        p = obs_pt[m]
        a0 = 0.0
        a1 = 0.0
        for k in range(P):
            a0 += jac[m, 0, k] * dcam[c, k]
            a1 += jac[m, 1, k] * dcam[c, k]
        for j in range(3):
            out[p, j] += w[m] * (jac[m, 0, P + j] * a0 + jac[m, 1, P + j] * a1)
