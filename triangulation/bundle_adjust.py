"""Refine a rig's calibration from 2D observations of unknown 3D points (bundle adjustment).

:func:`refine_rig` takes pixel observations of the same points from many cameras (human
clicks, machine detections, board corners) and adjusts every camera's pose (and, on
request, its focal length or all its intrinsics) together with the points, minimising a
robust sum of squared pixel reprojection errors. The method:

1. **Start.** Points seen by at least two cameras are triangulated with the input rig by
   :func:`triangulate_ransac`, with a wide threshold (``8 * threshold_px``, doubled while
   fewer than half the observations are inliers), so that a drifted calibration still
   finds its points while gross outliers are rejected.
2. **Subsample.** When the usable observations exceed ``max_observations``, a fixed
   pseudo-random subset of the points is adjusted (points seen by more cameras first, and
   every camera keeps at least 300 observations where it has them): the camera parameters
   need far fewer points than a capture holds.
3. **Rounds.** Each round keeps the observations whose current error is below a gate,
   ``max(4 * median error, threshold_px / 4)``, and solves the bundle adjustment on them by
   Levenberg-Marquardt on the reduced camera system (the points eliminated by their Schur
   complement, :mod:`triangulation._ba_solver`) with the sparse analytic Jacobian of
   :mod:`triangulation._ba_model`, the robust loss acting on each observation's pixel
   distance. The gate shrinks as the cameras improve; once the kept set changes by less
   than 0.1 % (at most 5 rounds), a last round on the final inliers converges tightly.
   Each round starts from the previous one.
4. **Gauge.** Image points fix the rig only up to a similarity of the world. The similarity
   that maps the refined camera centres onto the input centres (least squares, Umeyama)
   is applied to the refined cameras, so the result stays in the input's world frame and
   scale: the mean centre, the overall orientation and the spread of the centres are the
   input's (:mod:`triangulation._gauge`). Cameras left unchanged take no part in the fit.
5. **Report.** All points are triangulated again with the refined rig by
   :func:`triangulate_ransac` at ``2 * threshold_px``; its inliers are the reported
   inliers, its points the reported points.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from triangulation._ba_steps import (
    MIN_CAMERA_OBSERVATIONS,
    Settings,
    counts_text,
    gate,
    kept_observations,
    per_camera_median,
    refinable_cameras,
    solve_round,
    start_triangulation,
    subsample,
)
from triangulation._gauge import apply_similarity, fit_similarity_robust, rotation_angle_deg
from triangulation.camera import CameraRig
from triangulation.projection import project
from triangulation.ransac import triangulate_ransac
from triangulation.results import check_int, check_rig

__all__ = ["RigRefinement", "refine_rig"]

#: Fewer usable points (seen by two refined cameras) than this is an error.
MIN_POINTS = 6
#: Reported inliers: final reprojection error below ``INLIER_FACTOR * threshold_px``.
INLIER_FACTOR = 2.0
#: Rounds stop when fewer than this fraction of the kept observations changed.
STABLE_FRACTION = 1e-3
#: Rounds that update the inliers, then one last round on the final inliers.
MAX_ROUNDS = 5
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
        iterations: solver iterations (Jacobian evaluations), all rounds together.
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
    center_prior_mm: float | None = None,
    rotation_prior_deg: float | None = None,
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
            stay zero, so a lens model is never extended, and the skew stays). Freed
            intrinsics are held near the input's by a weak prior (a change that moves the
            image corner by 3 px weighs as one observation off by 1 px), so the directions
            the points leave undetermined, such as focal length against depth when the
            points span little depth, do not drift.
        robust: ``"huber"`` (default), ``"cauchy"`` or None (squared loss), on each
            observation's pixel distance with scale ``threshold_px``. Gross outliers are
            also dropped between rounds (see the module docstring).
        threshold_px: the robust loss's scale; the reported inliers are the observations
            within ``2 * threshold_px`` of the final points.
        max_iter: most Levenberg-Marquardt iterations per round.
        max_observations: above this many usable observations a subset of the points is
            adjusted (None: all). The reported points are all triangulated again.
        solver: ``"lm"`` (default) or ``"scipy"``: ``scipy.optimize.least_squares``
            (``trf``, LSMR, the same sparse analytic Jacobian, ``x_scale="jac"``, the robust
            loss on each pixel coordinate), kept for comparison: slower, and with freed
            intrinsics it may stop far from the optimum (see :mod:`triangulation._ba_solver`).
        center_prior_mm: hold each camera centre near the input's: a centre that moves this
            far costs as much as one observation 1 px off (``"lm"`` only; None: no prior).
            For sparse observations (a few clicked views per joint, tens of observations
            per camera, all of a small volume such as a hand): there the points fix each
            camera's view of the volume but hardly its distance to it, and without the
            prior the cameras drift along that direction together, a motion the gauge
            (a similarity about the centres' centroid) does not take back at the volume.
        rotation_prior_deg: hold each camera's axes near the input's: a turn of this many
            degrees costs as much as one observation 1 px off (``"lm"`` only; None: none).
            With the centre prior it makes the adjustment a MAP estimate of a bump of known
            size: a hand-sized volume leaves one motion nearly free (the points shift
            while every camera turns to follow them), and the input's orientations are what
            pins it.
    Returns:
        RigRefinement. The refined rig is in the input's world frame and scale: after the
        adjustment, the similarity (Umeyama) mapping the refined camera centres onto the
        input's is applied to the refined cameras (unchanged cameras excluded).
    Raises:
        ValueError: ``uv`` is not (C, N, 2) for this rig, an option is unknown, or fewer
            than two cameras or ``MIN_POINTS`` points can be refined (the message names the
            cameras and their observation counts). A camera with fewer than 6 observations
            of points another refined camera sees is left unchanged and listed in
            ``unchanged`` with the reason.

    Example:
        >>> result = refine_rig(rig, uv_px)                     # doctest: +SKIP
        >>> result.rig, result.reprojection_after_px            # doctest: +SKIP
    """
    start = time.perf_counter()
    uv = _check_inputs(rig, uv, intrinsics, robust, threshold_px, solver)
    max_iter = check_int(max_iter, "max_iter", 1)
    if max_observations is not None:
        max_observations = check_int(max_observations, "max_observations", 1)
    seen = np.isfinite(uv).all(-1)  # (C, N); a half-NaN observation is missing
    usable = seen.sum(0) >= 2
    observations = (seen & usable).sum(1)
    refined, unchanged = refinable_cameras(rig, seen, observations)
    refined = refined.copy()
    in_ba = seen & refined[:, None]
    uv_pts = np.where((seen & usable)[..., None], uv, np.nan).transpose(1, 0, 2)  # (N, C, 2)

    # 1. start points
    before = start_triangulation(uv_pts, rig, threshold_px)
    valid_start = (in_ba.sum(0) >= 2) & before.valid
    if valid_start.sum() < MIN_POINTS:
        raise ValueError(
            f"refine_rig: only {int(valid_start.sum())} points could be triangulated from the "
            f"observations of two or more refined cameras (at least {MIN_POINTS} needed); "
            f"observations per camera: {counts_text(rig, observations)}"
        )

    # 2. subsample
    chosen = subsample(in_ba, valid_start, max_observations)
    uv_sub = uv[:, chosen].transpose(1, 0, 2)  # (n, C, 2)
    observed = in_ba[:, chosen].T  # (n, C)
    points = before.points_world_mm[chosen]
    errors = before.reproj_error_px[chosen]

    # 3. rounds of bundle adjustment
    if center_prior_mm is not None and not (np.isfinite(center_prior_mm) and center_prior_mm > 0):
        raise ValueError(f"refine_rig: center_prior_mm must be > 0, got {center_prior_mm}")
    if center_prior_mm is not None and solver != "lm":
        raise ValueError("refine_rig: center_prior_mm needs solver='lm'")
    if rotation_prior_deg is not None and not (
            np.isfinite(rotation_prior_deg) and rotation_prior_deg > 0):
        raise ValueError(f"refine_rig: rotation_prior_deg must be > 0, got {rotation_prior_deg}")
    if rotation_prior_deg is not None and solver != "lm":
        raise ValueError("refine_rig: rotation_prior_deg needs solver='lm'")
    settings = Settings(rig, intrinsics, robust, threshold_px, max_iter, solver, refined.copy(),
                        center_prior_mm, rotation_prior_deg)
    current = rig
    iterations = 0
    kept = kept_observations(observed, errors, gate(errors[observed], threshold_px))
    stable = False
    for rounds in range(1, MAX_ROUNDS + 2):
        last = stable or rounds == MAX_ROUNDS + 1
        tol = FINAL_TOL if last else ROUND_TOL
        current, points, n_iter = solve_round(
            settings, current, points, uv_sub, kept, tol, rounds == 1
        )
        iterations += n_iter
        if last:
            break
        errors = np.linalg.norm(project(points, current) - uv_sub, axis=-1)
        new_kept = kept_observations(observed, errors, gate(errors[observed], threshold_px))
        stable = rounds > 1 and np.count_nonzero(new_kept != kept) <= STABLE_FRACTION * kept.sum()
        kept = new_kept

    # a camera whose observations are almost all outliers was not adjusted at the end
    n_kept = kept.sum(0)
    for c in np.flatnonzero(refined & (n_kept < MIN_CAMERA_OBSERVATIONS)):
        why = f"{int(n_kept[c])} inlier observations (needs {MIN_CAMERA_OBSERVATIONS})"
        unchanged.append((rig.names[c], why))
        refined[c] = False
    if refined.sum() < 2:
        raise ValueError(
            f"refine_rig: fewer than two cameras kept {MIN_CAMERA_OBSERVATIONS} or more inlier "
            f"observations; inliers per camera: {counts_text(rig, n_kept)}"
        )

    # 4. gauge: back to the input's frame and scale
    sim = fit_similarity_robust(
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
    inlier_gate = INLIER_FACTOR * threshold_px
    after = triangulate_ransac(uv_pts, final, threshold_px=inlier_gate, refine_iterations=3)
    return RigRefinement(
        rig=final,
        points=after.points_world_mm,
        reprojection_before_px=per_camera_median(before.reproj_error_px),
        reprojection_after_px=per_camera_median(after.reproj_error_px),
        inliers=(after.inliers & (after.reproj_error_px < inlier_gate)).T,
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


def _check_inputs(rig, uv, intrinsics, robust, threshold_px, solver) -> np.ndarray:
    check_rig(rig)
    if solver not in _SOLVERS:
        raise ValueError(f"refine_rig: solver must be one of {_SOLVERS}, got {solver!r}")
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
