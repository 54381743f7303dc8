"""OpenCV lens distortion and its inverse, pixels -> rays.

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

import numpy as np

from triangulation._kernels import pack_cameras, undistort_block
from triangulation.camera import CameraRig
from triangulation.results import DEFAULT_CHUNK, block_points, check_uv, for_each_chunk

__all__ = ["undistort_points"]


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
