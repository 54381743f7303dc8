"""The steps of :func:`triangulation.refine_rig` (see :mod:`triangulation.bundle_adjust`):
which cameras can be refined, the start points, the subsample, one round of adjustment and
its inlier gate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from triangulation._ba_model import Model, default_free_mask, intrinsics_prior
from triangulation._ba_solver import solve_lm, solve_scipy
from triangulation.camera import CameraRig
from triangulation.ransac import triangulate_ransac
from triangulation.results import Triangulation

__all__ = [
    "Settings",
    "refinable_cameras",
    "start_triangulation",
    "subsample",
    "solve_round",
    "gate",
    "kept_observations",
    "per_camera_median",
    "counts_text",
]

#: A camera needs at least this many observations of points that another refined camera
#: also sees, or it is left unchanged.
MIN_CAMERA_OBSERVATIONS = 6
#: A round's gate: ``GATE_FACTOR`` times the median error (4.7 sigma for Gaussian pixel
#: noise), at least ``GATE_FLOOR * threshold_px``.
GATE_FACTOR = 4.0
GATE_FLOOR = 0.25
#: The start triangulation's RANSAC threshold, in units of ``threshold_px``; doubled up to
#: ``START_MAX_DOUBLINGS`` times while fewer than half the observations are inliers.
START_FACTOR = 8.0
START_MAX_DOUBLINGS = 5
#: Subsampling keeps at least this many observations per camera where it has them.
MIN_PER_CAMERA = 300
#: Freed intrinsics are held near the input's by a prior: a change that moves the image
#: corner by this many pixels costs as much as one observation off by a pixel (see
#: :func:`triangulation._ba_model.intrinsics_prior`). Measured on synthetic domes: 1 px
#: kept correctable focal errors, 30 px let ``"all"`` drift (3x the point error).
INTRINSICS_PRIOR_PX = 3.0


@dataclass(frozen=True)
class Settings:
    """What every round of one :func:`refine_rig` call shares."""

    input_rig: CameraRig
    intrinsics: str
    robust: str | None
    threshold_px: float
    max_iter: int
    solver: str
    refined: np.ndarray  # (C,) bool
    center_prior_mm: float | None = None
    rotation_prior_deg: float | None = None

    def free_mask(self) -> np.ndarray:
        free = default_free_mask(self.input_rig, self.intrinsics)
        free[~self.refined] = False
        return free


def counts_text(rig: CameraRig, counts: np.ndarray) -> str:
    """ "name count, ..." for error messages."""
    return ", ".join(f"{n} {int(k)}" for n, k in zip(rig.names, counts, strict=True))


def refinable_cameras(rig: CameraRig, seen: np.ndarray, observations: np.ndarray):
    """(C,) bool of the cameras to refine and ``(name, reason)`` for the others.

    A camera needs ``MIN_CAMERA_OBSERVATIONS`` observations of points that another refined
    camera sees; dropping one camera can starve another, so this repeats until stable.
    Fewer than two refinable cameras is a ValueError listing every camera's count.
    """
    refined = np.ones(len(rig), dtype=bool)
    counts_when_dropped = np.zeros(len(rig), dtype=np.int64)
    while True:
        # observations of points that at least one other refined camera also sees
        others = (seen & refined[:, None]).sum(0)[None, :] - (seen & refined[:, None])
        counts = (seen & (others >= 1)).sum(1)
        drop = refined & (counts < MIN_CAMERA_OBSERVATIONS)
        if not drop.any():
            break
        counts_when_dropped[drop] = counts[drop]
        refined &= ~drop
    unchanged = []
    for c in np.flatnonzero(~refined):
        if observations[c] == 0:
            why = "no observations of points seen by another camera"
        else:
            why = (
                f"{int(counts_when_dropped[c])} observations of points another refined "
                f"camera sees (needs {MIN_CAMERA_OBSERVATIONS})"
            )
        unchanged.append((rig.names[c], why))
    if refined.sum() < 2:
        raise ValueError(
            f"refine_rig: fewer than two cameras have {MIN_CAMERA_OBSERVATIONS} or more "
            f"observations of points shared with another camera; observations per camera: "
            f"{counts_text(rig, observations)}"
        )
    return refined, unchanged


def start_triangulation(uv_pts: np.ndarray, rig: CameraRig, threshold_px: float) -> Triangulation:
    """RANSAC with a threshold wide enough for a drifted rig (see ``START_FACTOR``)."""
    observed = np.isfinite(uv_pts[..., 0])
    threshold = START_FACTOR * threshold_px
    for _ in range(START_MAX_DOUBLINGS):
        tri = triangulate_ransac(uv_pts, rig, threshold_px=threshold)
        if tri.inliers.sum() >= 0.5 * max(observed[tri.valid].sum(), 1):
            break
        threshold *= 2.0
    return tri


def subsample(in_ba: np.ndarray, valid: np.ndarray, max_observations: int | None) -> np.ndarray:
    """Indices of the points to adjust (sorted): all when their observations fit
    ``max_observations``; else points in a fixed pseudo-random order, those seen by more
    cameras first, up to the budget, then more points for any camera left under
    ``MIN_PER_CAMERA`` observations. ``in_ba`` (C, N), ``valid`` (N,)."""
    idx = np.flatnonzero(valid)
    counts = in_ba[:, idx].sum(0)
    if max_observations is None or counts.sum() <= max_observations:
        return idx
    rng = np.random.default_rng(0)
    order = np.lexsort((rng.random(idx.size), -counts))  # most cameras first, random ties
    take = np.zeros(idx.size, dtype=bool)
    take[order[np.cumsum(counts[order]) <= max_observations]] = True
    vis = in_ba[:, idx[order]]  # (C, n) in priority order
    for c in range(vis.shape[0]):
        taken = take[order]
        short = min(int(vis[c].sum()), MIN_PER_CAMERA) - int((vis[c] & taken).sum())
        if short > 0:  # the next points of the order that camera c sees
            take[order[np.flatnonzero(vis[c] & ~taken)[:short]]] = True
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


def solve_round(
    settings: Settings,
    rig: CameraRig,
    points: np.ndarray,
    uv: np.ndarray,
    kept: np.ndarray,
    tol: float,
    first: bool,
):
    """One bundle adjustment of the ``kept`` (n, C) observations ``uv`` (n, C, 2), from
    ``rig`` and the (n, 3) ``points``. Returns the new rig, the points (those without kept
    observations as they were) and the iterations."""
    s = settings
    rows = np.flatnonzero(kept.any(1))
    pt_local, cam_idx = np.nonzero(kept[rows])  # sorted by point, as the solver needs
    free = s.free_mask() & (kept.sum(0) >= MIN_CAMERA_OBSERVATIONS)[:, None]
    prior = intrinsics_prior(s.input_rig, rig, s.intrinsics, INTRINSICS_PRIOR_PX)
    uv_kept = uv[rows][pt_local, cam_idx]
    center = None
    if s.center_prior_mm:
        weight = np.full(len(rig), 1.0 / s.center_prior_mm**2)
        center = (s.input_rig.centers_world, weight)
    rotation = None
    if s.rotation_prior_deg:
        weight = np.full(len(rig), 1.0 / np.deg2rad(s.rotation_prior_deg) ** 2)
        rotation = (s.input_rig.R, weight)
    model = Model(rig, s.intrinsics, free, cam_idx, pt_local, uv_kept, points[rows], prior,
                  center, rotation)
    if s.solver == "scipy":
        sol = solve_scipy(model, s.robust, s.threshold_px, s.max_iter, tol, first)
    else:
        sol = solve_lm(model, s.robust, s.threshold_px, s.max_iter, tol)
    points = points.copy()
    points[rows] = model.points(sol.x)
    new_rig = _with_parameters(rig, *model.cameras(sol.x), s.intrinsics)
    return new_rig, points, sol.iterations


def gate(errors: np.ndarray, threshold_px: float) -> float:
    """A round's gate: ``GATE_FACTOR`` times the median of the finite ``errors``, at least
    ``GATE_FLOOR * threshold_px``."""
    e = errors[np.isfinite(errors)]
    median = float(np.median(e)) if e.size else 0.0
    return max(GATE_FACTOR * median, GATE_FLOOR * threshold_px)


def kept_observations(observed: np.ndarray, errors: np.ndarray, gate_px: float) -> np.ndarray:
    """(n, C) observations within the gate, of cameras with ``MIN_CAMERA_OBSERVATIONS`` of
    them, of points with two such observations (one pass)."""
    kept = observed & (errors < gate_px)
    kept &= (kept.sum(0) >= MIN_CAMERA_OBSERVATIONS)[None, :]
    kept &= (kept.sum(1) >= 2)[:, None]
    return kept


def per_camera_median(err: np.ndarray) -> np.ndarray:
    """(N, C) errors -> (C,) median over each camera's finite values (NaN if none)."""
    out = np.full(err.shape[1], np.nan)
    for c in range(err.shape[1]):
        e = err[:, c]
        e = e[np.isfinite(e)]
        if e.size:
            out[c] = np.median(e)
    return out
