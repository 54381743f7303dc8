"""Robust triangulation: view-pair hypotheses, consensus, DLT refit, Gauss-Newton.

For each point (all vectorised over points, no loop over points or cameras):

1. pick up to ``max_pair_views`` of its observed views (highest ``confidence`` first, or
   a pseudo-random choice that is a function of the observation itself, so the result
   does not depend on the order of the cameras) and form every pair of them;
2. triangulate each pair (two-view DLT) and score every hypothesis against
   ``score_views`` views (the seed views and the next ones) in one broadcast with the
   MSAC cost ``Σ_c min(e_c², threshold²)`` (Torr & Zisserman 2000), e_c the reprojection
   error in pixels (first-order, on the undistorted plane);
3. take the best hypothesis's inliers among all views (e_c < threshold), refit the
   weighted DLT on them, refine by Gauss-Newton on their reprojection error
   (:mod:`triangulation.refine`);
4. recompute exact pixel errors with the full distorted projection and the final inlier
   set; points with fewer than ``min_inliers`` inliers are NaN.

With 20 % outliers and six views per point, the chance that no pair of the fifteen is
clean is 0.16 %, and those points come out NaN rather than wrong.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from triangulation.camera import CameraRig
from triangulation.distortion import DistortionCoeffs, pixels_to_normalized, undistort_normalized
from triangulation.dlt import dlt_blocks, normal_matrix, solve_normal_matrix
from triangulation.projection import MIN_DEPTH_MM, camera_planes, pixel_error_planes
from triangulation.refine import pixel_scales, refine_blocks, refine_points
from triangulation.results import (
    BLOCK_OBSERVATIONS,
    Progress,
    Triangulation,
    check_uv,
    check_view_weights,
    for_each_chunk,
)

__all__ = ["triangulate_ransac", "observation_hash"]


def observation_hash(uv: np.ndarray) -> np.ndarray:
    """(..., 2) -> (...) pseudo-random numbers in [0, 1) that travel with the observation."""
    h = np.sin(uv[..., 0] * 12.9898 + uv[..., 1] * 78.233) * 43758.5453
    return h - np.floor(h)


def triangulate_ransac(
    uv_px,
    rig: CameraRig,
    confidence=None,
    threshold_px: float = 4.0,
    min_inliers: int = 2,
    *,
    max_pair_views: int = 6,
    score_views: int = 16,
    refine_iterations: int = 2,
    progress: Progress | None = None,
    chunk: int | None = None,
) -> Triangulation:
    """Outlier-robust triangulation of pixel observations.

    Args:
        uv_px: (..., C, 2) pixel observations, C = len(rig); NaN marks a missing view.
        rig: the cameras.
        confidence: optional (..., C) non-negative scores (e.g. heatmap maxima). Views with
            the highest confidence seed the hypotheses, and confidences weight the DLT
            refit. 0 or NaN drops the view.
        threshold_px: a view is an inlier when its reprojection error is below this.
        min_inliers: points with fewer inlier views are NaN (at least 2).
        max_pair_views: hypotheses come from all pairs of this many views per point
            (all views when there are fewer): 6 gives 15 hypotheses.
        score_views: hypotheses are scored on this many views per point (the seed views
            first, then the next by confidence / hash); the inliers of the winner are then
            found among all views. Scoring on all C views costs C / score_views more.
        refine_iterations: Gauss-Newton iterations after the DLT refit (0 to skip).
        chunk: points per block (bounds memory).
        progress: optional ``progress(points_done, points_total)`` called after each block.
    Returns:
        Triangulation: points (..., 3), inliers (..., C), reproj_error_px (..., C) for
        every observed view (inlier or not), n_views (...,) = number of inliers.
    """
    uv = check_uv(uv_px, rig)
    conf = check_view_weights(confidence, uv, name="confidence")
    if not (np.isfinite(threshold_px) and threshold_px > 0):
        raise ValueError(f"threshold_px must be a positive number, got {threshold_px}")
    if int(min_inliers) != min_inliers or min_inliers < 2:
        raise ValueError(f"min_inliers must be an integer >= 2, got {min_inliers}")
    if int(max_pair_views) != max_pair_views or max_pair_views < 2:
        raise ValueError(f"max_pair_views must be an integer >= 2, got {max_pair_views}")
    if int(score_views) != score_views or score_views < max_pair_views:
        raise ValueError(f"score_views must be an integer >= max_pair_views, got {score_views}")
    C = len(rig)
    batch = uv.shape[:-2]
    flat = uv.reshape(-1, C, 2)
    conf_flat = None if conf is None else conf.reshape(-1, C)
    n = flat.shape[0]
    k = min(C, int(max_pair_views))
    n_score = min(C, int(score_views))
    pairs = np.array(list(combinations(range(k), 2)), dtype=np.int64).reshape(-1, 2)  # (H, 2)
    if C < 2:  # a one-camera rig triangulates nothing
        return Triangulation(
            points_world_mm=np.full(batch + (3,), np.nan),
            inliers=np.zeros(batch + (C,), dtype=bool),
            reproj_error_px=np.full(batch + (C,), np.nan),
            n_views=np.zeros(batch, dtype=np.int64),
        )
    co = DistortionCoeffs.from_rig(rig)
    dblocks = dlt_blocks(rig).reshape(4, C, 10)
    rblocks = refine_blocks(rig)
    th2 = float(threshold_px) ** 2
    points = np.empty((n, 3))
    inliers = np.empty((n, C), dtype=bool)
    errors = np.empty((n, C))

    def work(sl: slice) -> None:
        obs = flat[sl]
        m = obs.shape[0]
        xd, yd = pixels_to_normalized(obs, rig.K)
        x, y = undistort_normalized(xd, yd, co)
        seen = ~np.isnan(x)
        w = seen.astype(np.float64) if conf_flat is None else np.where(seen, conf_flat[sl], 0.0)
        seen &= w > 0
        sx, sy = pixel_scales(xd, yd, x, y, rig.K)
        x = np.where(seen, x, 0.0)
        y = np.where(seen, y, 0.0)
        sx2 = np.where(seen, sx * sx, 0.0)
        sy2 = np.where(seen, sy * sy, 0.0)

        # 1. views that seed and score the hypotheses: top confidence, else an order-free
        #    hash; the first k seed the pairs, all S (k <= S <= C) score them
        key = observation_hash(np.nan_to_num(obs))
        if conf_flat is not None:
            key = key * 1e-6 - w
        key = np.where(seen, key, np.inf)
        if n_score < C:
            cand = np.argpartition(key, n_score - 1, axis=1)[:, :n_score]
        else:
            cand = np.tile(np.arange(C), (m, 1))
        cand = np.take_along_axis(cand, np.argsort(np.take_along_axis(key, cand, 1), 1), 1)
        rows = np.arange(m)[:, None]
        sv = seen[rows, cand]
        xv, yv = x[rows, cand], y[rows, cand]
        # 2. two-view DLT per pair: per-view normal-matrix terms, summed per pair
        svf = sv[:, :k].astype(np.float64)
        xk, yk = xv[:, :k], yv[:, :k]
        s = np.stack([svf * (xk * xk + yk * yk), -svf * xk, -svf * yk, svf], axis=-1)
        per_view = np.einsum("mks,mksj->mkj", s, dblocks[:, cand[:, :k]].transpose(1, 2, 0, 3))
        m10 = per_view[:, pairs[:, 0]] + per_view[:, pairs[:, 1]]  # (m, H, 10)
        H = pairs.shape[0]
        hyp = solve_normal_matrix(m10.reshape(m * H, 10), refine_steps=2).reshape(m, H, 3)
        bad_hyp = ~np.isfinite(hyp[..., 0])
        hyp[bad_hyp] = 0.0
        # score all hypotheses against the S views at once (MSAC)
        Rv = rig.R[cand]  # (m, S, 3, 3)
        xc = np.matmul(hyp, Rv.transpose(0, 3, 1, 2).reshape(m, 3, -1)).reshape(m, H, -1, 3)
        xc += rig.t[cand][:, None]
        z = xc[..., 2]
        front = z > MIN_DEPTH_MM
        iz = 1.0 / np.where(front, z, 1.0)
        ex = xc[..., 0] * iz - xv[:, None]
        ey = xc[..., 1] * iz - yv[:, None]
        e2 = ex * ex * sx2[rows, cand][:, None] + ey * ey * sy2[rows, cand][:, None]
        e2 = np.where(front | ~sv[:, None], e2, th2)
        cost = np.minimum(e2, th2).sum(-1)
        cost[bad_hyp] = np.inf
        best = hyp[np.arange(m), np.argmin(cost, axis=1)]
        # inliers of the best hypothesis among all views
        xc, yc, z = camera_planes(best, rig)
        front = z > MIN_DEPTH_MM
        iz = 1.0 / np.where(front, z, 1.0)
        ex = xc * iz - x
        ey = yc * iz - y
        e2 = ex * ex * sx2 + ey * ey * sy2
        inl = seen & front & (e2 < th2)
        # 3. DLT refit on the inliers, Gauss-Newton on their reprojection error
        wi = np.where(inl, w, 0.0)
        X = solve_normal_matrix(normal_matrix(x, y, wi, dblocks.reshape(4 * C, 10)))
        if refine_iterations > 0:
            X = refine_points(X, x, y, np.where(inl, sx2, 0.0), np.where(inl, sy2, 0.0),
                              rig, rblocks, refine_iterations)
        # 4. exact pixel errors, final inliers
        err = pixel_error_planes(X, obs, rig, co)
        err[~seen] = np.nan
        final = err < threshold_px
        nv = final.sum(1)
        X[nv < min_inliers] = np.nan
        final[nv < min_inliers] = False
        points[sl] = X
        inliers[sl] = final
        errors[sl] = err

    block = chunk if chunk is not None else max(256, BLOCK_OBSERVATIONS // C)
    if int(block) < 1:
        raise ValueError(f"chunk must be a positive number of points, got {chunk}")
    for_each_chunk(work, n, int(block), progress)
    return Triangulation(
        points_world_mm=points.reshape(batch + (3,)),
        inliers=inliers.reshape(batch + (C,)),
        reproj_error_px=errors.reshape(batch + (C,)),
        n_views=inliers.sum(-1).reshape(batch),
    )
