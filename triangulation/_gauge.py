"""The similarity that puts a refined rig back into its input's world frame and scale.

Internals of :mod:`triangulation.bundle_adjust`. A bundle adjustment from image points alone
determines the cameras only up to a similarity of the world (rotation, translation, scale:
7 degrees of freedom). :func:`fit_similarity` finds the one that maps the refined camera
centres onto the input centres in the least-squares sense (Umeyama 1991);
:func:`apply_similarity` moves cameras and points by it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Similarity", "fit_similarity", "apply_similarity", "rotation_angle_deg"]

#: Weight of the orientation term, relative to the mean squared centre spread. It only
#: decides the rotation where the centres leave it open (two cameras, or all on a line).
_ORIENTATION_WEIGHT = 1e-6


class Similarity:
    """``X_to = scale * rotation @ X_from + translation``."""

    def __init__(self, scale: float, rotation: np.ndarray, translation: np.ndarray):
        self.scale = float(scale)
        self.rotation = np.asarray(rotation, dtype=np.float64)
        self.translation = np.asarray(translation, dtype=np.float64)

    def __repr__(self) -> str:
        angle = rotation_angle_deg(self.rotation, np.eye(3))
        return (
            f"Similarity(scale={self.scale:.6f}, rotation={angle:.4f} deg, "
            f"translation={np.linalg.norm(self.translation):.3f} mm)"
        )


def rotation_angle_deg(Ra: np.ndarray, Rb: np.ndarray) -> np.ndarray:
    """Angle in degrees of the rotation taking ``Rb`` to ``Ra`` ((..., 3, 3) each)."""
    D = Ra @ np.swapaxes(Rb, -1, -2)
    cos = (np.trace(D, axis1=-2, axis2=-1) - 1.0) / 2.0
    A = D - np.swapaxes(D, -1, -2)  # 2 sin(angle) [axis]x: accurate for small angles
    sin = 0.5 * np.sqrt(A[..., 0, 1] ** 2 + A[..., 0, 2] ** 2 + A[..., 1, 2] ** 2)
    return np.degrees(np.arctan2(sin, cos))


def fit_similarity(
    centers_from: np.ndarray,
    centers_to: np.ndarray,
    R_from: np.ndarray | None = None,
    R_to: np.ndarray | None = None,
) -> Similarity:
    """Least-squares similarity from (K, 3) points (camera centres) ``centers_from`` to
    ``centers_to``; NaN rows are skipped.

    Umeyama's closed form: the rotation maximises ``tr(Q^T B)`` with ``B`` the cross
    covariance of the centred centres, then the scale is the least-squares one for that
    rotation. The cameras' orientations (``R_from`` / ``R_to``, (K, 3, 3) world -> camera)
    enter ``B`` with a tiny weight, so they decide only the rotation the centres leave
    free (two cameras, or centres on a line); with one camera the scale is 1.
    """
    ok = np.isfinite(centers_from).all(1) & np.isfinite(centers_to).all(1)
    centers_from, centers_to = centers_from[ok], centers_to[ok]
    mu_from = centers_from.mean(0)
    mu_to = centers_to.mean(0)
    a = centers_from - mu_from
    b = centers_to - mu_to
    spread = float(np.einsum("ki,ki->", a, a))
    B = b.T @ a  # sum_k b_k a_k^T
    if R_from is None or R_to is None:
        A = np.zeros((3, 3))
    else:
        A = np.einsum("kji,kjl->il", R_to[ok], R_from[ok])  # sum_k R_to_k^T R_from_k
    H = B + _ORIENTATION_WEIGHT * max(spread, 1.0) * A
    U, _, Vt = np.linalg.svd(H)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
    Q = U @ D @ Vt
    scale = float(np.trace(Q.T @ B)) / spread if spread > 1e-12 else 1.0
    if not scale > 0:
        scale = 1.0
    return Similarity(scale, Q, mu_to - scale * Q @ mu_from)


def apply_similarity(sim: Similarity, R: np.ndarray, t: np.ndarray, points: np.ndarray | None):
    """Cameras (R (K, 3, 3), t (K, 3)) and optional (N, 3) points moved by ``sim``.

    A world point maps as ``X' = s Q X + d``; a camera's frame is scaled by ``s`` too, so
    its image of every point is unchanged: ``R' = R Q^T``, ``t' = s t - R' d``.
    """
    Q, s, d = sim.rotation, sim.scale, sim.translation
    R_new = R @ Q.T
    t_new = s * t - R_new @ d
    pts = None if points is None else s * points @ Q.T + d
    return R_new, t_new, pts
