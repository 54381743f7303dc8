"""OpenCV lens distortion: forward model, its iterative inverse, pixel <-> normalised.

The model is OpenCV's (``calib3d`` docs, "Detailed description"), on normalised image
coordinates (x, y) = (X/Z, Y/Z) of the camera frame, with r² = x² + y²::

    radial = (1 + k1 r² + k2 r⁴ + k3 r⁶) / (1 + k4 r² + k5 r⁴ + k6 r⁶)
    x_d = x radial + 2 p1 x y + p2 (r² + 2 x²) + s1 r² + s2 r⁴
    y_d = y radial + p1 (r² + 2 y²) + 2 p2 x y + s3 r² + s4 r⁴

then pixels ``u = fx x_d + skew y_d + cx``, ``v = fy y_d + cy``. The tilted-sensor terms
(coefficients 13-14) are rejected by :func:`triangulation.results.check_rig`.

The inverse has no closed form. :func:`undistort_normalized` runs OpenCV's fixed-point
iteration (``x = (x_d - tangential(x)) / radial(x)``) *to convergence* with a
convergence check, instead of OpenCV's default five iterations, so that
``project(undistort(uv))`` returns ``uv`` to ~1e-10 px. Observations where the iteration
does not converge (beyond the radius where the distortion polynomial folds back, so no
undistorted point maps there) come back as NaN.

All kernels work on arrays whose last axis is the camera axis C and broadcast the
per-camera coefficients along it; terms whose coefficients are zero for every camera of
the rig are skipped (most rigs have no rational or thin-prism terms).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from triangulation.camera import CameraRig
from triangulation.results import DEFAULT_CHUNK, block_points, check_rig, check_uv, for_each_chunk

__all__ = [
    "DistortionCoeffs",
    "distort_normalized",
    "undistort_normalized",
    "pixels_to_normalized",
    "normalized_to_pixels",
    "undistort_points",
]

log = logging.getLogger(__name__)

#: Estimated remaining error (normalised units) at which the fixed-point iteration stops:
#: 1e-13 is ~1e-10 px for a 1000 px focal length, below the 1e-9 px round trip.
UNDISTORT_TOL = 1e-13
#: A final step larger than this means "did not converge": the observation becomes NaN.
UNDISTORT_FAIL_TOL = 1e-9
UNDISTORT_MAX_ITER = 100


@dataclass(frozen=True)
class DistortionCoeffs:
    """Per-camera distortion coefficients as (C,) rows, plus which terms are present."""

    k1: np.ndarray
    k2: np.ndarray
    k3: np.ndarray
    k4: np.ndarray
    k5: np.ndarray
    k6: np.ndarray
    p1: np.ndarray
    p2: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
    s3: np.ndarray
    s4: np.ndarray
    tangential: bool
    rational: bool
    prism: bool
    any: bool

    @classmethod
    def from_rig(cls, rig: CameraRig) -> DistortionCoeffs:
        check_rig(rig)
        d = np.zeros((len(rig), 12))
        n = min(12, rig.dist.shape[1])
        d[:, :n] = rig.dist[:, :n]
        k1, k2, p1, p2, k3, k4, k5, k6, s1, s2, s3, s4 = (d[:, i].copy() for i in range(12))
        return cls(
            k1=k1, k2=k2, k3=k3, k4=k4, k5=k5, k6=k6, p1=p1, p2=p2, s1=s1, s2=s2, s3=s3, s4=s4,
            tangential=bool(np.any(d[:, 2:4])),
            rational=bool(np.any(d[:, 5:8])),
            prism=bool(np.any(d[:, 8:12])),
            any=bool(np.any(d)),
        )


def _radial(r2: np.ndarray, co: DistortionCoeffs) -> np.ndarray:
    radial = 1.0 + r2 * (co.k1 + r2 * (co.k2 + r2 * co.k3))
    if co.rational:
        radial /= 1.0 + r2 * (co.k4 + r2 * (co.k5 + r2 * co.k6))
    return radial


def _offsets(x, y, r2, co: DistortionCoeffs):
    """Tangential + thin-prism displacement (dx, dy), or (0, 0) if the rig has neither."""
    dx = dy = 0.0
    if co.tangential:
        xy2 = 2.0 * x * y
        dx = co.p1 * xy2 + co.p2 * (r2 + 2.0 * x * x)
        dy = co.p1 * (r2 + 2.0 * y * y) + co.p2 * xy2
    if co.prism:
        dx = dx + r2 * (co.s1 + co.s2 * r2)
        dy = dy + r2 * (co.s3 + co.s4 * r2)
    return dx, dy


def distort_normalized(x: np.ndarray, y: np.ndarray, co: DistortionCoeffs):
    """Apply the distortion model. x, y: (..., C) undistorted normalised -> (x_d, y_d)."""
    if not co.any:
        return x, y
    r2 = x * x + y * y
    radial = _radial(r2, co)
    dx, dy = _offsets(x, y, r2, co)
    return x * radial + dx, y * radial + dy


def _tangential(x, y, xx, yy, r2, co, dx, dy, tmp, tmp2) -> None:
    """dx = 2 p1 x y + p2 (r² + 2x²), dy = p1 (r² + 2y²) + 2 p2 x y, into dx, dy (in place)."""
    np.multiply(x, y, out=tmp)
    tmp *= 2.0
    np.multiply(xx, 2.0, out=dx)
    dx += r2
    dx *= co.p2
    np.multiply(tmp, co.p1, out=tmp2)
    dx += tmp2
    np.multiply(yy, 2.0, out=dy)
    dy += r2
    dy *= co.p1
    np.multiply(tmp, co.p2, out=tmp2)
    dy += tmp2


def undistort_normalized(
    xd: np.ndarray,
    yd: np.ndarray,
    co: DistortionCoeffs,
    tol: float = UNDISTORT_TOL,
    max_iter: int = UNDISTORT_MAX_ITER,
):
    """Invert :func:`distort_normalized` by fixed-point iteration run to convergence.

    Args:
        xd, yd: (..., C) distorted normalised coordinates; NaN propagates.
        co: the rig's coefficients (C broadcast on the last axis).
        tol: stop when the remaining error, estimated from the last step and the observed
            contraction rate, is below this (or a step is below it).
        max_iter: at most this many iterations; still-moving entries become NaN.
    Returns:
        (x, y) undistorted normalised coordinates, same shape (new arrays).

    The start is the second-order series inverse of the radial factor,
    ``(x_d - tangential(x_d)) (1 - k1 r² + (3 k1² - k2) r⁴)``, which saves one or two
    iterations. The loop works in place on preallocated buffers: it is the hot spot of
    triangulation.
    """
    xd = np.asarray(xd, dtype=np.float64)
    yd = np.asarray(yd, dtype=np.float64)
    if not co.any:
        return xd.copy(), yd.copy()
    missing = np.isnan(xd)
    missing |= np.isnan(yd)
    has_missing = bool(missing.any())
    if has_missing:  # NaN would defeat the max() convergence test
        xd = np.where(missing, 0.0, xd)
        yd = np.where(missing, 0.0, yd)
    shape = np.broadcast_shapes(xd.shape, yd.shape)
    xx, yy, r2, rad, dx, dy, diff, x_new, y_new = (np.empty(shape) for _ in range(9))
    # start: series inverse of the radial polynomial, tangential terms removed to first
    # order; about 20x closer than x_d itself, which saves one or two iterations
    np.multiply(xd, xd, out=xx)
    np.multiply(yd, yd, out=yy)
    np.add(xx, yy, out=r2)
    np.multiply(r2, 3.0 * co.k1 * co.k1 - co.k2, out=rad)
    rad -= co.k1
    rad *= r2
    rad += 1.0
    if co.rational:  # the series is for the numerator only; start where OpenCV does
        rad.fill(1.0)
    np.clip(rad, 0.5, 2.0, out=rad)
    if co.tangential:
        _tangential(xd, yd, xx, yy, r2, co, dx, dy, diff, x_new)
        x = (xd - dx) * rad
        y = (yd - dy) * rad
    else:
        x = xd * rad
        y = yd * rad
    step = prev_step = np.inf
    for it in range(max_iter):
        np.multiply(x, x, out=xx)
        np.multiply(y, y, out=yy)
        np.add(xx, yy, out=r2)
        # 1 / radial = (1 + k4 r² + k5 r⁴ + k6 r⁶) / (1 + k1 r² + k2 r⁴ + k3 r⁶)
        np.multiply(r2, co.k3, out=rad)
        rad += co.k2
        rad *= r2
        rad += co.k1
        rad *= r2
        rad += 1.0
        if co.rational:
            num = r2 * co.k6
            num += co.k5
            num *= r2
            num += co.k4
            num *= r2
            num += 1.0
            np.divide(num, rad, out=rad)
        else:
            np.divide(1.0, rad, out=rad)
        if co.tangential:
            _tangential(x, y, xx, yy, r2, co, dx, dy, diff, x_new)
        else:
            dx.fill(0.0)
            dy.fill(0.0)
        if co.prism:
            dx += r2 * (co.s1 + co.s2 * r2)
            dy += r2 * (co.s3 + co.s4 * r2)
        np.subtract(xd, dx, out=x_new)
        x_new *= rad
        np.subtract(yd, dy, out=y_new)
        y_new *= rad
        if it == 0 and max_iter > 1:  # the first step is never the last: skip the check
            x, x_new = x_new, x
            y, y_new = y_new, y
            continue
        np.subtract(x_new, x, out=diff)
        np.abs(diff, out=diff)
        np.subtract(y_new, y, out=dx)
        np.abs(dx, out=dx)
        np.maximum(diff, dx, out=diff)
        x, x_new = x_new, x
        y, y_new = y_new, y
        prev_step, step = step, diff.max(initial=0.0)
        if not step > tol:  # also leaves the loop when step is NaN; handled below
            break
        # linear convergence: the remaining error is about step * rho / (1 - rho)
        rho = step / prev_step
        if 0.0 < rho < 0.5 and step * rho <= tol * (1.0 - rho):
            step = 0.0
            break
    if not step <= tol:
        bad = ~(diff <= UNDISTORT_FAIL_TOL)
        if bad.any():
            log.debug("undistortion did not converge for %d observations", int(bad.sum()))
            missing = missing | bad
            has_missing = True
    if has_missing:
        x[missing] = np.nan
        y[missing] = np.nan
    return x, y


def pixels_to_normalized(uv_px: np.ndarray, K: np.ndarray):
    """Remove the intrinsics (skew included). uv_px: (..., C, 2), K: (C, 3, 3) -> (x_d, y_d)."""
    yd = (uv_px[..., 1] - K[:, 1, 2]) / K[:, 1, 1]
    xd = (uv_px[..., 0] - K[:, 0, 2] - K[:, 0, 1] * yd) / K[:, 0, 0]
    return xd, yd


def normalized_to_pixels(xd: np.ndarray, yd: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Apply the intrinsics (skew included). xd, yd: (..., C) -> uv_px (..., C, 2)."""
    u = K[:, 0, 0] * xd + K[:, 0, 1] * yd + K[:, 0, 2]
    v = K[:, 1, 1] * yd + K[:, 1, 2]
    return np.stack([u, v], axis=-1)


def undistort_points(uv_px, rig: CameraRig, *, chunk: int | None = DEFAULT_CHUNK) -> np.ndarray:
    """Pixel observations -> undistorted normalised image coordinates.

    Args:
        uv_px: (..., C, 2) pixels (C = len(rig)); NaN marks a missing observation.
        rig: the cameras.
    Returns:
        (..., C, 2) normalised coordinates (X/Z, Y/Z in the camera frame); NaN where the
        input is NaN or the distortion cannot be inverted there.

    Unlike ``cv2.undistortPoints`` with its default five iterations, the iteration runs to
    convergence, so ``project`` of the corresponding ray gives back ``uv_px`` to ~1e-10 px.

    Example:
        >>> xy = undistort_points(uv_px, rig)          # doctest: +SKIP
    """
    uv = check_uv(uv_px, rig)
    co = DistortionCoeffs.from_rig(rig)
    flat = uv.reshape(-1, len(rig), 2)
    out = np.empty_like(flat)

    def work(sl: slice) -> None:
        xd, yd = pixels_to_normalized(flat[sl], rig.K)
        out[sl, :, 0], out[sl, :, 1] = undistort_normalized(xd, yd, co)

    for_each_chunk(work, flat.shape[0], block_points(len(rig), chunk))
    return out.reshape(uv.shape)
