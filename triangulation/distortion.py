"""OpenCV lens distortion: forward model (numpy) and its inverse, pixels -> rays.

The model is OpenCV's (``calib3d`` docs, "Detailed description"), on normalised image
coordinates (x, y) = (X/Z, Y/Z) of the camera frame, with r² = x² + y²::

    radial = (1 + k1 r² + k2 r⁴ + k3 r⁶) / (1 + k4 r² + k5 r⁴ + k6 r⁶)
    x_d = x radial + 2 p1 x y + p2 (r² + 2 x²) + s1 r² + s2 r⁴
    y_d = y radial + p1 (r² + 2 y²) + 2 p2 x y + s3 r² + s4 r⁴

then pixels ``u = fx x_d + skew y_d + cx``, ``v = fy y_d + cy``. The tilted-sensor terms
(coefficients 13-14) are rejected by :func:`triangulation.results.check_rig`.

The inverse has no closed form. :func:`undistort_points` runs Newton's method with the
model's analytic Jacobian *to convergence* (OpenCV's default is five fixed-point
iterations), so that ``project(undistort(uv))`` returns ``uv`` to ~1e-10 px. It is the
same compiled per-view code the triangulation kernels use
(:func:`triangulation._kernels.undistort`), so undistorting and triangulating always
agree on which observations can be inverted: those beyond the radius where the
distortion polynomial folds back (no undistorted point maps there) come back as NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from triangulation._kernels import pack_cameras, undistort_block
from triangulation.camera import CameraRig
from triangulation.results import DEFAULT_CHUNK, block_points, check_rig, check_uv, for_each_chunk

__all__ = [
    "DistortionCoeffs",
    "distort_normalized",
    "undistort_points",
]


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


def undistort_points(uv_px, rig: CameraRig, *, chunk: int | None = DEFAULT_CHUNK) -> np.ndarray:
    """Pixel observations -> undistorted normalised image coordinates.

    Args:
        uv_px: (..., C, 2) pixels (C = len(rig)); NaN marks a missing observation.
        rig: the cameras.
        chunk: points per block (bounds memory).
    Returns:
        (..., C, 2) normalised coordinates (X/Z, Y/Z in the camera frame); NaN where the
        input is NaN or the distortion cannot be inverted there.

    Unlike ``cv2.undistortPoints`` with its default five iterations, the inversion runs to
    convergence, so ``project`` of the corresponding ray gives back ``uv_px`` to ~1e-10 px.

    Example:
        >>> xy = undistort_points(uv_px, rig)          # doctest: +SKIP
    """
    uv = check_uv(uv_px, rig)
    cam = pack_cameras(rig)
    flat = uv.reshape(-1, len(rig), 2)
    out = np.empty(flat.shape)

    def work(sl: slice) -> None:
        undistort_block(np.ascontiguousarray(flat[sl]), cam, out[sl])

    for_each_chunk(work, flat.shape[0], block_points(len(rig), chunk))
    return out.reshape(uv.shape)
