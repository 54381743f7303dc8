"""Refine a rig's calibration from 2D observations of unknown 3D points (bundle adjustment).

:func:`refine_rig` takes pixel observations of the same points from many cameras (human
clicks, detections, board corners) and adjusts every camera's pose (and, on request, its
focal length or all its intrinsics) together with the points, minimising a robust sum of
squared pixel reprojection errors. The method:

1. **Start.** Points seen by at least two cameras are triangulated with the input rig by
   :func:`triangulate_ransac`, with a wide threshold (``8 * threshold_px``, doubled while
   fewer than half the observations are inliers) so that a drifted calibration still finds
   its points while gross outliers are rejected.
2. **Subsample.** When the usable observations exceed ``max_observations``, a fixed
   pseudo-random subset of the points is adjusted (points seen by more cameras first, and
   every camera keeps at least ``MIN_PER_CAMERA`` observations where it has them); the
   camera parameters need far fewer points than a capture holds.
3. **Rounds.** Each round keeps the observations whose current error is below a gate,
   ``max(2 * threshold_px, 4 * median error)``, and solves the bundle adjustment with
   ``scipy.optimize.least_squares`` (``method="trf"``, ``loss="huber"``/``"cauchy"``/
   ``"linear"``, ``f_scale=threshold_px``, ``x_scale="jac"``, LSMR on the sparse analytic
   Jacobian of :mod:`triangulation._ba_model`). The gate shrinks as the cameras improve;
   rounds stop when it has reached ``2 * threshold_px`` and the kept set no longer changes
   (at most ``MAX_ROUNDS``), each starting from the previous one.
4. **Gauge.** Image points fix the rig only up to a similarity of the world. The similarity
   that maps the refined camera centres onto the input centres (least squares, Umeyama) is
   applied to the refined cameras, so the result stays in the input's world frame and
   scale: the mean centre, the overall orientation and the spread of the centres are the
   input's (see :mod:`triangulation._gauge`).
5. **Report.** All points are triangulated again with the refined rig by
   :func:`triangulate_ransac` at ``INLIER_FACTOR * threshold_px``; its inliers are the
   reported inliers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from triangulation._ba_model import Model, default_free_mask, intrinsics_prior
from triangulation._ba_solver import solve_lm, solve_scipy
from triangulation._gauge import apply_similarity, fit_similarity, rotation_angle_deg
from triangulation.camera import CameraRig
from triangulation.projection import project
from triangulation.ransac import triangulate_ransac
from triangulation.results import check_int, check_rig

__all__ = ["RigRefinement", "refine_rig"]

#: A camera needs at least this many observations of points that another refined camera
#: also sees, or it is left unchanged.
MIN_CAMERA_OBSERVATIONS = 6
#: Fewer usable points (seen by two refined cameras) than this is an error.
MIN_POINTS = 6
#: Reported inliers: final reprojection error below ``INLIER_FACTOR * threshold_px``.
INLIER_FACTOR = 2.0
#: A round's gate: ``GATE_FACTOR`` times the median error (4.7 sigma for Gaussian pixel
#: noise), at least ``GATE_FLOOR * threshold_px``.
GATE_FACTOR = 4.0
GATE_FLOOR = 0.25
#: Rounds stop when fewer than this fraction of the kept observations changed.
STABLE_FRACTION = 1e-3
#: The start triangulation's RANSAC threshold, in units of ``threshold_px``.
START_FACTOR = 8.0
#: Rounds that update the inliers, then one last round on the final inliers.
MAX_ROUNDS = 5
#: Freed intrinsics are held near the input's by a prior: a change that moves the image
#: corner by this many pixels costs as much as one observation off by a pixel (see
#: triangulation._ba_model.intrinsics_prior).
INTRINSICS_PRIOR_PX = 1.0
#: Subsampling keeps at least this many observations per camera where it has them.
MIN_PER_CAMERA = 300
#: A round stops when an iteration lowers the cost by less than this fraction of it; the
#: rounds that only find the inliers stop early, the last one (on the final inliers) not.
ROUND_TOL = 1e-4
FINAL_TOL = 1e-8
_INTRINSICS = ("fixed", "focal", "all")
_ROBUST = ("huber", "cauchy", None)
_SOLVERS = ("lm", "scipy")


@dataclass(frozen=True)
class RigRefinement:
    """The result of :func:`refine_rig`. Axis C is the rig's camera order, N the points.

    Attributes:
        rig: the refined CameraRig (same names, sizes and order; in the input's world
            frame and scale).
        points: (N, 3) world mm, the points triangulated with the refined rig; NaN for
            points seen by fewer than two cameras or without two inlier views.
        reprojection_before_px, reprojection_after_px: (C,) per camera, the median pixel
            error over its observations of the points (each triangulated robustly with the
            input rig, resp. the refined one); NaN for a camera without observations.
        inliers: (C, N) bool, observations with a final error below
            ``INLIER_FACTOR * threshold_px`` (2x).
        iterations: trust-region iterations (Jacobian evaluations), all rounds together.
        seconds: wall time of the call.
        observations: (C,) int, each camera's observations of points seen by two or more
            cameras.
        center_shift_mm: (C,) distance between each camera's refined and input centre.
        rotation_change_deg: (C,) angle of the rotation between refined and input axes.
        focal_ratio: (C,) refined fx / input fx (1 unless intrinsics are freed).
        unchanged: ``(name, reason)`` for every camera left as it was.
        points_used: points in the bundle adjustment (after subsampling).
        rounds: bundle-adjustment rounds run.
        gauge_scale: scale of the similarity that took the adjusted rig back to the
            input's frame (1 + the relative scale drift of the adjustment).
    """

    rig: CameraRig
    points: np.ndarray
    reprojection_before_px: np.ndarray
    reprojection_after_px: np.ndarray
    inliers: np.ndarray
    iterations: int
    seconds: float
    observations: np.ndarray
    center_shift_mm: np.ndarray
    rotation_change_deg: np.ndarray
    focal_ratio: np.ndarray
    unchanged: tuple[tuple[str, str], ...]
    points_used: int
    rounds: int
    gauge_scale: float

    def table(self) -> list[dict]:
        """One dict per camera: name, observations, reprojection before / after (px),
        centre shift (mm), rotation change (degrees), focal ratio, unchanged reason."""
        why = dict(self.unchanged)
        return [
            dict(
                name=cam.name,
                observations=int(self.observations[c]),
                reprojection_before_px=float(self.reprojection_before_px[c]),
                reprojection_after_px=float(self.reprojection_after_px[c]),
                center_shift_mm=float(self.center_shift_mm[c]),
                rotation_change_deg=float(self.rotation_change_deg[c]),
                focal_ratio=float(self.focal_ratio[c]),
                unchanged=why.get(cam.name),
            )
            for c, cam in enumerate(self.rig)
        ]


def refine_rig(
    rig: CameraRig,
    uv,
    *,
    intrinsics: str = "fixed",
    robust: str | None = "huber",
    threshold_px: float = 2.0,
    max_iter: int = 100,
    max_observations: int | None = 500_000,
    solver: str = "lm",
) -> RigRefinement:
    """Bundle-adjust a rig from pixel observations of unknown points.

    Args:
        rig: the C cameras to refine (the start; it is not modified).
        uv: (C, N, 2) pixel observations in the rig's camera order, NaN where a camera has
            none. Points seen by fewer than two cameras are ignored.
        intrinsics: ``"fixed"`` (default: only R and t move), ``"focal"`` (also one focal
            scale per camera: fx, fy and the skew are multiplied by the same factor, the
            aspect ratio and principal point stay) or ``"all"`` (fx, fy, cx, cy and every
            distortion coefficient that is non-zero in the input camera; zero coefficients
            stay zero, so a model is never extended, and the skew stays).
        robust: ``"huber"`` (default), ``"cauchy"`` or None (squared loss), applied by
            ``least_squares`` to each pixel coordinate's residual with scale ``threshold_px``.
            Gross outliers are also dropped between rounds (see the module docstring).
        threshold_px: the robust loss's scale; the reported inliers are the observations
            within ``2 * threshold_px``.
        max_iter: most residual evaluations per ``least_squares`` round (``max_nfev``).
        max_observations: above this many usable observations a subset of the points is
            adjusted (None: all). The reported points are all triangulated again.
    Returns:
        RigRefinement. The refined rig is in the input's world frame and scale: after the
        adjustment, the similarity (Umeyama) mapping the refined camera centres onto the
        input's is applied to the refined cameras (unchanged cameras excluded).
    Raises:
        ValueError: ``uv`` is not (C, N, 2) for this rig, an option is unknown, or fewer
            than two cameras or ``MIN_POINTS`` points can be refined (the message names the
            cameras and their observation counts). A camera with fewer than
            ``MIN_CAMERA_OBSERVATIONS`` observations of points another refined camera sees
            is left unchanged and listed in ``unchanged``.
    """
    start = time.perf_counter()
    uv = _check_inputs(rig, uv, intrinsics, robust, threshold_px)
    if solver not in _SOLVERS:
        raise ValueError(f"refine_rig: solver must be one of {_SOLVERS}, got {solver!r}")
    max_iter = check_int(max_iter, "max_iter", 1)
    if max_observations is not None:
        max_observations = check_int(max_observations, "max_observations", 1)
    C, N = uv.shape[:2]
    seen = np.isfinite(uv).all(-1)  # (C, N); a half-NaN observation is missing
    usable = seen.sum(0) >= 2
    observations = (seen & usable).sum(1)
    refined, unchanged = _refinable_cameras(rig, seen, observations)
    in_ba = seen & refined[:, None]
    points_ok = in_ba.sum(0) >= 2
    uv_pts = np.where((seen & usable)[..., None], uv, np.nan).transpose(1, 0, 2)  # (N, C, 2)

    # 1. start points and the first gate
    inlier_gate = INLIER_FACTOR * threshold_px
    before = _start_triangulation(uv_pts, rig, threshold_px)
    err_before = before.reproj_error_px  # (N, C)
    valid_start = points_ok & before.valid
    if valid_start.sum() < MIN_POINTS:
        raise ValueError(
            f"refine_rig: only {int(valid_start.sum())} points could be triangulated from the "
            f"observations of two or more refined cameras (at least {MIN_POINTS} needed); "
            f"observations per camera: {_counts(rig, observations)}"
        )

    # 2. subsample
    chosen = _subsample(in_ba, valid_start, max_observations)
    uv_sub = uv[:, chosen].transpose(1, 0, 2)  # (n, C, 2)
    obs_sub = in_ba[:, chosen].T  # (n, C)
    points = before.points_world_mm[chosen]
    errors = err_before[chosen]
    gate = _gate(errors[obs_sub], threshold_px)

    # 3. rounds of bundle adjustment
    free_all = default_free_mask(rig, intrinsics)
    free_all[~refined] = False
    current = rig
    iterations = 0
    kept = _kept(obs_sub, errors, gate)
    stable = False
    for rounds in range(1, MAX_ROUNDS + 2):
        last = stable or rounds == MAX_ROUNDS + 1
        current, points, n_iter = _solve_round(
            rig,
            current,
            points,
            uv_sub,
            kept,
            free_all,
            intrinsics,
            robust,
            threshold_px,
            max_iter,
            FINAL_TOL if last else ROUND_TOL,
            solver,
            rounds == 1,
        )
        iterations += n_iter
        if last:
            break
        errors = np.linalg.norm(project(points, current) - uv_sub, axis=-1)
        new_kept = _kept(obs_sub, errors, _gate(errors[obs_sub], threshold_px))
        stable = rounds > 1 and np.count_nonzero(new_kept != kept) <= STABLE_FRACTION * kept.sum()
        kept = new_kept

    # 4. gauge: back to the input's frame and scale
    sim = fit_similarity(
        current.centers_world[refined],
        rig.centers_world[refined],
        current.R[refined],
        rig.R[refined],
    )
    R_new, t_new, _ = apply_similarity(sim, current.R, current.t, None)
    final = CameraRig(
        cam.replace(K=new.K, dist=new.dist, R=R_new[c], t=t_new[c]) if refined[c] else cam
        for c, (cam, new) in enumerate(zip(rig, current, strict=True))
    )

    # 5. report
    after = triangulate_ransac(uv_pts, final, threshold_px=inlier_gate, refine_iterations=3)
    err_after = after.reproj_error_px
    inliers = (after.inliers & (err_after < inlier_gate)).T
    return RigRefinement(
        rig=final,
        points=after.points_world_mm,
        reprojection_before_px=_per_camera_median(err_before),
        reprojection_after_px=_per_camera_median(err_after),
        inliers=inliers,
        iterations=iterations,
        seconds=time.perf_counter() - start,
        observations=observations,
        center_shift_mm=np.linalg.norm(final.centers_world - rig.centers_world, axis=1),
        rotation_change_deg=rotation_angle_deg(final.R, rig.R),
        focal_ratio=final.K[:, 0, 0] / rig.K[:, 0, 0],
        unchanged=tuple(unchanged),
        points_used=int(chosen.size),
        rounds=rounds,
        gauge_scale=sim.scale,
    )


def _check_inputs(rig, uv, intrinsics, robust, threshold_px) -> np.ndarray:
    check_rig(rig)
    arr = np.asarray(uv, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[0] != len(rig) or arr.shape[2] != 2:
        raise ValueError(
            f"refine_rig: uv must have shape (C, N, 2) = ({len(rig)}, N, 2) for this "
            f"{len(rig)}-camera rig, got {arr.shape}"
        )
    if np.isinf(arr).any():
        raise ValueError("refine_rig: uv contains inf (use NaN for a missing observation)")
    if intrinsics not in _INTRINSICS:
        raise ValueError(f"refine_rig: intrinsics must be one of {_INTRINSICS}, got {intrinsics!r}")
    if robust not in _ROBUST:
        raise ValueError(f"refine_rig: robust must be 'huber', 'cauchy' or None, got {robust!r}")
    if not (
        isinstance(threshold_px, int | float | np.number)
        and not isinstance(threshold_px, bool)
        and np.isfinite(threshold_px)
        and threshold_px > 0
    ):
        raise ValueError(
            f"refine_rig: threshold_px must be a positive number, got {threshold_px!r}"
        )
    return arr


def _counts(rig: CameraRig, counts: np.ndarray) -> str:
    return ", ".join(f"{n} {int(k)}" for n, k in zip(rig.names, counts, strict=True))


def _refinable_cameras(rig: CameraRig, seen: np.ndarray, observations: np.ndarray):
    """(C,) bool of the cameras to refine and ``(name, reason)`` for the others.

    A camera needs ``MIN_CAMERA_OBSERVATIONS`` observations of points that another refined
    camera sees; dropping one camera can starve another, so this repeats until stable.
    """
    refined = np.ones(len(rig), dtype=bool)
    while True:
        shared = seen & ((seen & refined[:, None]).sum(0) >= 2)
        counts = (shared & refined[:, None]).sum(1)
        drop = refined & (counts < MIN_CAMERA_OBSERVATIONS)
        if not drop.any():
            break
        refined &= ~drop
    unchanged = []
    for c in np.flatnonzero(~refined):
        if observations[c] == 0:
            why = "no observations of points seen by another camera"
        else:
            why = (
                f"{int(counts[c])} observations of points another refined camera sees "
                f"(needs {MIN_CAMERA_OBSERVATIONS})"
            )
        unchanged.append((rig.names[c], why))
    if refined.sum() < 2:
        raise ValueError(
            f"refine_rig: fewer than two cameras have {MIN_CAMERA_OBSERVATIONS} or more "
            f"observations of points shared with another camera; observations per camera: "
            f"{_counts(rig, observations)}"
        )
    return refined, unchanged


def _start_triangulation(uv_pts: np.ndarray, rig: CameraRig, threshold_px: float):
    """RANSAC with a threshold wide enough for a drifted rig: ``START_FACTOR *
    threshold_px``, doubled (up to 32x that) while fewer than half the observations of the
    triangulated points are inliers."""
    observed = np.isfinite(uv_pts[..., 0])
    threshold = START_FACTOR * threshold_px
    while True:
        tri = triangulate_ransac(uv_pts, rig, threshold_px=threshold)
        n_obs = observed[tri.valid].sum()
        if (
            tri.inliers.sum() >= 0.5 * max(n_obs, 1)
            or threshold >= 32 * START_FACTOR * threshold_px
        ):
            return tri
        threshold *= 2.0


def _subsample(in_ba: np.ndarray, valid: np.ndarray, max_observations: int | None) -> np.ndarray:
    """Indices of the points to adjust (sorted): all when they fit ``max_observations``;
    else points in a fixed pseudo-random order, those seen by more cameras first, up to the
    budget, then more points for any camera left under ``MIN_PER_CAMERA`` observations."""
    idx = np.flatnonzero(valid)
    counts = in_ba[:, idx].sum(0)
    if max_observations is None or counts.sum() <= max_observations:
        return idx
    rng = np.random.default_rng(0)
    order = np.lexsort((rng.random(idx.size), -counts))  # most cameras first, random ties
    take = np.zeros(idx.size, dtype=bool)
    take[order[np.cumsum(counts[order]) <= max_observations]] = True
    vis = in_ba[:, idx[order]]  # (C, n) in priority order
    have = (vis & take[order][None]).sum(1)
    total = vis.sum(1)
    for c in np.flatnonzero(have < np.minimum(total, MIN_PER_CAMERA)):
        missing = np.flatnonzero(vis[c] & ~take[order])
        take[order[missing[: MIN_PER_CAMERA - have[c]]]] = True
    return idx[np.sort(np.flatnonzero(take))]


def _with_parameters(rig: CameraRig, R, t, K, dist, intrinsics: str) -> CameraRig:
    cams = []
    for c, cam in enumerate(rig):
        changes = dict(R=R[c], t=t[c])
        if intrinsics != "fixed":
            changes["K"] = K[c]
        if intrinsics == "all":
            d = cam.dist.copy()
            n = min(d.size, dist.shape[1])
            d[:n] = dist[c, :n]
            changes["dist"] = d
        cams.append(cam.replace(**changes))
    return CameraRig(cams)


def _solve_round(
    input_rig,
    rig,
    points,
    uv,
    kept,
    free_all,
    intrinsics,
    robust,
    threshold_px,
    max_iter,
    tol,
    solver,
    first,
):
    """One bundle adjustment of the ``kept`` (n, C) observations from ``rig`` and the (n, 3)
    ``points``: the new rig, the points (those without kept observations as they were) and
    the iterations."""
    rows = np.flatnonzero(kept.any(1))
    pt_local, cam_idx = np.nonzero(kept[rows])  # sorted by point, as the solver needs
    free = free_all & (kept.sum(0) >= MIN_CAMERA_OBSERVATIONS)[:, None]
    prior = intrinsics_prior(input_rig, rig, intrinsics, INTRINSICS_PRIOR_PX)
    model = Model(
        rig, intrinsics, free, cam_idx, pt_local, uv[rows][pt_local, cam_idx], points[rows], prior
    )
    if solver == "scipy":
        sol = solve_scipy(model, robust, threshold_px, max_iter, tol, first)
    else:
        sol = solve_lm(model, robust, threshold_px, max_iter, tol)
    points = points.copy()
    points[rows] = model.points(sol.x)
    return _with_parameters(rig, *model.cameras(sol.x), intrinsics), points, sol.iterations


def _gate(errors: np.ndarray, threshold_px: float) -> float:
    """A round's gate: ``GATE_FACTOR`` times the median error, at least
    ``GATE_FLOOR * threshold_px``."""
    return max(GATE_FACTOR * _median(errors), GATE_FLOOR * threshold_px)


def _kept(observed: np.ndarray, errors: np.ndarray, gate: float) -> np.ndarray:
    """(n, C) observations within the gate, of cameras with ``MIN_CAMERA_OBSERVATIONS`` of
    them, of points with two such observations (one pass)."""
    kept = observed & (errors < gate)
    kept &= (kept.sum(0) >= MIN_CAMERA_OBSERVATIONS)[None, :]
    kept &= (kept.sum(1) >= 2)[:, None]
    return kept


def _median(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else 0.0


def _per_camera_median(err: np.ndarray) -> np.ndarray:
    """(N, C) errors -> (C,) median over each camera's finite values (NaN if none)."""
    out = np.full(err.shape[1], np.nan)
    for c in range(err.shape[1]):
        e = err[:, c]
        e = e[np.isfinite(e)]
        if e.size:
            out[c] = np.median(e)
    return out
