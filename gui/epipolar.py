"""Epipolar curves as drawn: sampled where the hands can be, cut where the lens model folds.

``session.epipolar_curve`` samples the ray of a click from 1 % to 100x the baseline, so only
a handful of its samples fall inside another camera's image, and rays leaving the field of
view can come back folded by the distortion polynomial (seen as a second, wrong line). For
drawing, :func:`display_curve` samples the same ray densely over the depths of the studio
volume (around the point of the ray nearest the rig centre), keeps what lands in or near the
image and cuts the polyline where it turns back on itself.
"""

from __future__ import annotations

import numpy as np

from annotator.session.views import rig_centre
from triangulation import CameraRig, epipolar_line

__all__ = ["display_curve", "clean_polyline", "N_SAMPLES"]

N_SAMPLES = 200
#: Depth range around the ray point nearest the rig centre, as factors of its depth.
NEAR, FAR = 0.25, 3.0
#: Samples this far outside the image (fraction of its size) are dropped.
MARGIN = 0.05


def clean_polyline(uv_px: np.ndarray, width: int, height: int,
                   margin: float = MARGIN) -> np.ndarray | None:
    """(N, 2) curve -> (M, 2) curve with NaN breaks, or None when nothing is in view.

    Samples outside the image (plus ``margin``) are NaN; the curve is cut where its
    direction turns by more than 90 degrees (a fold of the distortion model), keeping the
    piece with most samples inside the image.
    """
    uv = np.asarray(uv_px, dtype=np.float64)
    if uv.ndim != 2 or uv.shape[1] != 2 or len(uv) < 2:
        raise ValueError(f"uv_px must be (N >= 2, 2), got {uv.shape}")
    mx, my = margin * width, margin * height
    inside = (np.isfinite(uv).all(axis=1) & (uv[:, 0] >= -mx) & (uv[:, 0] <= width - 1 + mx)
              & (uv[:, 1] >= -my) & (uv[:, 1] <= height - 1 + my))
    d = np.diff(uv, axis=0)
    turn = np.einsum("ij,ij->i", d[1:], d[:-1]) < 0  # turn[k]: at sample k + 1 (apex)
    cuts = np.flatnonzero(turn) + 2  # the apex stays with the piece before it
    best, best_n = None, 0
    for piece in np.split(np.arange(len(uv)), cuts):
        n = int(inside[piece].sum())
        if n > best_n:
            best, best_n = piece, n
    if best is None or best_n < 2:
        return None
    out = uv[best].copy()
    out[~inside[best]] = np.nan
    return out


def display_curve(rig: CameraRig, cam_a: str, uv_a_px, cam_b: str,
                  n_samples: int = N_SAMPLES) -> np.ndarray | None:
    """(M, 2) px in ``cam_b``: the epipolar curve of pixel ``uv_a_px`` of ``cam_a``, sampled
    over the studio volume and cleaned (see module doc); None when it misses the image."""
    a = rig[cam_a]
    b = rig[cam_b]
    centre = rig_centre(rig)
    # Depth (along a's optical axis) of the ray point nearest the rig centre.
    ray_cam = np.linalg.solve(a.K, np.array([uv_a_px[0], uv_a_px[1], 1.0]))
    ray_world = a.R.T @ ray_cam
    ray_world /= np.linalg.norm(ray_world)
    s = float(np.dot(centre - a.center_world, ray_world))
    depth0 = s * float(np.linalg.norm(ray_cam)) ** -1 if s > 0 else float(
        np.linalg.norm(centre - a.center_world))
    depth0 = max(depth0, 1.0)
    curve = epipolar_line(np.asarray(uv_a_px, dtype=np.float64), rig, cam_a, cam_b,
                          n_samples=n_samples, depth_range_mm=(NEAR * depth0, FAR * depth0))
    return clean_polyline(curve, b.width, b.height)
