"""Compiled per-point RANSAC triangulation (see :mod:`triangulation.ransac` for the method).

Built on the primitives of :mod:`triangulation._kernels` (why compiled code is used, the
packed camera layout and the threading model are described there). Per point:

1. undistort every observed view (Newton, to convergence) and rank the views by key:
   ``-confidence`` (ties broken by a hash of the observation), else the hash alone; the
   first ``k`` seed the pair hypotheses, the first ``S`` score them;
2. two-view DLT per pair, MSAC cost ``Σ min(e², threshold²)`` over the ``S`` views with
   the first-order pixel error ``e`` on the undistorted plane (scaled by the local pixel
   scale), keep the cheapest;
3. its inliers among all views, weighted DLT refit, Gauss-Newton on the true distorted
   pixel reprojection error of those inliers;
4. exact pixel errors of every observed view and the final inlier count (a point with
   fewer than ``min_inliers`` is NaN, with NaN errors).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from triangulation._kernels import (
    JIT_OPTIONS,
    MIN_DEPTH_MM,
    add_view,
    distort,
    pixel_errors,
    solve_dlt,
    solve_sym3,
    to_camera,
    undistort,
)

__all__ = ["ransac_block"]


@njit(inline="always", **JIT_OPTIONS)
def _hash(u, v):
    """Pseudo-random number in [0, 1) that is a function of the observation only, so the
    choice of seed views does not depend on the order of the cameras."""
    h = math.sin(u * 12.9898 + v * 78.233) * 43758.5453
    return h - math.floor(h)


@njit(**JIT_OPTIONS)
def _refine(X0, X1, X2, uv, cam, use, iterations):
    """Gauss-Newton on the summed squared pixel errors (distortion included) of the views
    in ``use``; returns the iterate of least cost (never worse than the start)."""
    best = np.inf
    B0, B1, B2 = X0, X1, X2
    for it in range(iterations + 1):
        cost = 0.0
        a = b = c_ = d = e = f = gx = gy = gz = 0.0
        for c in range(cam.shape[1]):
            if not use[c]:
                continue
            xc, yc, z = to_camera(cam, c, X0, X1, X2)
            if not z > MIN_DEPTH_MM:  # behind a used camera: stop here
                cost = np.inf
                break
            iz = 1.0 / z
            x = xc * iz
            y = yc * iz
            xd, yd, j00, j01, j10, j11, _ = distort(cam, c, x, y)
            ru = cam[0, c] * xd + cam[1, c] * yd + cam[2, c] - uv[c, 0]
            rv = cam[3, c] * yd + cam[4, c] - uv[c, 1]
            cost += ru * ru + rv * rv
            if it == iterations:
                continue
            # d(u, v)/d(x, y) = [[fx, skew], [0, fy]] J, then d(x, y)/d(xc, yc, z)
            g00 = (cam[0, c] * j00 + cam[1, c] * j10) * iz
            g01 = (cam[0, c] * j01 + cam[1, c] * j11) * iz
            g10 = cam[3, c] * j10 * iz
            g11 = cam[3, c] * j11 * iz
            h02 = -(g00 * x + g01 * y)
            h12 = -(g10 * x + g11 * y)
            # rows of d(u, v)/dX_world: camera-frame rows times R
            u0 = g00 * cam[17, c] + g01 * cam[20, c] + h02 * cam[23, c]
            u1 = g00 * cam[18, c] + g01 * cam[21, c] + h02 * cam[24, c]
            u2 = g00 * cam[19, c] + g01 * cam[22, c] + h02 * cam[25, c]
            v0 = g10 * cam[17, c] + g11 * cam[20, c] + h12 * cam[23, c]
            v1 = g10 * cam[18, c] + g11 * cam[21, c] + h12 * cam[24, c]
            v2 = g10 * cam[19, c] + g11 * cam[22, c] + h12 * cam[25, c]
            a += u0 * u0 + v0 * v0
            b += u0 * u1 + v0 * v1
            c_ += u0 * u2 + v0 * v2
            d += u1 * u1 + v1 * v1
            e += u1 * u2 + v1 * v2
            f += u2 * u2 + v2 * v2
            gx += u0 * ru + v0 * rv
            gy += u1 * ru + v1 * rv
            gz += u2 * ru + v2 * rv
        if cost < best:
            best = cost
            B0, B1, B2 = X0, X1, X2
        if it == iterations or not math.isfinite(cost):
            break
        damp = 1e-12 * (a + d + f)  # keeps nearly singular systems solvable
        a += damp
        d += damp
        f += damp
        s0, s1, s2, _, _ = solve_sym3(a, b, c_, d, e, f, gx, gy, gz)
        if not (math.isfinite(s0) and math.isfinite(s1) and math.isfinite(s2)):
            break
        X0 += s0
        X1 += s1
        X2 += s2
    return B0, B1, B2


@njit(**JIT_OPTIONS)
def ransac_block(uv, conf, use_conf, cam, threshold, min_inliers, k_pairs, n_score,
                 refine_iterations, points, inliers, err):
    """RANSAC triangulation of each point of a block into ``points``, ``inliers``, ``err``.

    uv: (n, C, 2) pixels (NaN: missing); conf: (n, C), read only if ``use_conf``; cam:
    ``pack_cameras``; k_pairs <= n_score views seed / score the hypotheses.
    """
    n, C = uv.shape[0], uv.shape[1]
    th2 = threshold * threshold
    x = np.empty(C)
    y = np.empty(C)
    sx2 = np.empty(C)
    sy2 = np.empty(C)
    wv = np.empty(C)
    seen = np.empty(C, dtype=np.bool_)
    use = np.empty(C, dtype=np.bool_)
    ckey = np.empty(n_score)
    cidx = np.empty(n_score, dtype=np.int64)
    pv = np.empty((k_pairs, 10))
    M = np.empty(10)
    xdv = np.empty(C)
    ydv = np.empty(C)
    step = np.empty(C)
    for i in range(n):
        undistort(uv[i], cam, x, y, xdv, ydv, step)
        # 1. undistort, pixel scales, ranking of the views (sorted insertion, top S)
        ns = 0
        for c in range(C):
            seen[c] = False
            u, v = uv[i, c, 0], uv[i, c, 1]
            wc = conf[i, c] if use_conf else 1.0
            if math.isnan(u) or math.isnan(v) or not wc > 0.0:
                continue
            xu, yu, xd, yd = x[c], y[c], xdv[c], ydv[c]
            if math.isnan(xu):
                continue
            seen[c] = True
            wv[c] = wc
            ru2 = xu * xu + yu * yu
            ratio = math.sqrt((xd * xd + yd * yd) / ru2) if ru2 > 0.0 else 1.0
            if not (math.isfinite(ratio) and ratio > 0.0):
                ratio = 1.0
            sx2[c] = (cam[0, c] * ratio) ** 2
            sy2[c] = (cam[3, c] * ratio) ** 2
            key = _hash(u, v)
            if use_conf:
                key = key * 1e-6 - wc
            if ns < n_score:
                j = ns
                ns += 1
            elif key < ckey[ns - 1]:
                j = ns - 1
            else:
                continue
            while j > 0 and key < ckey[j - 1]:
                ckey[j] = ckey[j - 1]
                cidx[j] = cidx[j - 1]
                j -= 1
            ckey[j] = key
            cidx[j] = c
        X0 = X1 = X2 = np.nan
        if ns >= 2:
            # 2. pair hypotheses, MSAC score on the S ranked views
            k = min(k_pairs, ns)
            for a in range(k):
                c = cidx[a]
                pv[a, :] = 0.0
                add_view(pv[a], cam, c, x[c], y[c], 1.0)
            best = np.inf
            H0 = H1 = H2 = np.nan
            for a in range(k):
                for b in range(a + 1, k):
                    for j in range(10):
                        M[j] = pv[a, j] + pv[b, j]
                    h0, h1, h2 = solve_dlt(M, 2)
                    if math.isnan(h0):
                        continue
                    cost = 0.0
                    for s in range(ns):
                        c = cidx[s]
                        xc, yc, z = to_camera(cam, c, h0, h1, h2)
                        if z > MIN_DEPTH_MM:
                            iz = 1.0 / z
                            ex = xc * iz - x[c]
                            ey = yc * iz - y[c]
                            cost += min(ex * ex * sx2[c] + ey * ey * sy2[c], th2)
                        else:
                            cost += th2
                        if cost >= best:  # cannot win any more (argmin keeps the first)
                            break
                    if cost < best:
                        best = cost
                        H0, H1, H2 = h0, h1, h2
            # 3. inliers of the best hypothesis among all views, refit, Gauss-Newton
            if best < np.inf:
                M[:] = 0.0
                n_use = 0
                for c in range(C):
                    use[c] = False
                    if not seen[c]:
                        continue
                    xc, yc, z = to_camera(cam, c, H0, H1, H2)
                    if not z > MIN_DEPTH_MM:
                        continue
                    iz = 1.0 / z
                    ex = xc * iz - x[c]
                    ey = yc * iz - y[c]
                    if ex * ex * sx2[c] + ey * ey * sy2[c] < th2:
                        use[c] = True
                        add_view(M, cam, c, x[c], y[c], wv[c])
                        n_use += 1
                if n_use >= 2:
                    X0, X1, X2 = solve_dlt(M, 4)
                    if not math.isnan(X0) and refine_iterations > 0:
                        X0, X1, X2 = _refine(X0, X1, X2, uv[i], cam, use, refine_iterations)
        # 4. exact pixel errors of the observed views, final inliers
        pixel_errors(uv[i], cam, X0, X1, X2, err[i])
        nv = 0
        for c in range(C):
            if not seen[c]:
                err[i, c] = np.nan
            inliers[i, c] = err[i, c] < threshold
            nv += inliers[i, c]
        if nv < min_inliers:  # no point: no inliers and no errors either
            X0 = X1 = X2 = np.nan
            for c in range(C):
                inliers[i, c] = False
                err[i, c] = np.nan
        points[i, 0], points[i, 1], points[i, 2] = X0, X1, X2
