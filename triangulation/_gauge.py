"""The similarity that puts a refined rig back into its input's world frame and scale.

Internals of :mod:`triangulation.bundle_adjust`. A bundle adjustment from image points alone
determines the cameras only up to a similarity of the world (rotation, translation, scale:
7 degrees of freedom). :func:`fit_similarity` finds the one that maps the refined camera
centres onto the input centres in the least-squares sense (Umeyama 1991);
:func:`apply_similarity` moves cameras and points by it.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "Similarity",
    "fit_similarity",
    "fit_similarity_robust",
    "apply_similarity",
    "rotation_angle_deg",
]

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
    weights: np.ndarray | None = None,
) -> Similarity:
    """Least-squares similarity from (K, 3) points (camera centres) ``centers_from`` to
    ``centers_to``; NaN rows are skipped.

    Umeyama's closed form: the rotation maximises ``tr(Q^T B)`` with ``B`` the cross
    covariance of the centred centres, then the scale is the least-squares one for that
    rotation. The cameras' orientations (``R_from`` / ``R_to``, (K, 3, 3) world -> camera)
    enter ``B`` with a tiny weight, so they decide only the rotation the centres leave
    free (two cameras, or centres on a line); with one camera the scale is 1. ``weights``
    (K,) >= 0 weigh each camera's centre (default: all 1).
    """
    ok = np.isfinite(centers_from).all(1) & np.isfinite(centers_to).all(1)
    w = np.ones(len(ok)) if weights is None else np.asarray(weights, dtype=np.float64)
    ok &= w > 0
    centers_from, centers_to, w = centers_from[ok], centers_to[ok], w[ok]
    w = w / w.sum() * w.size
    mu_from = (w[:, None] * centers_from).sum(0) / w.sum()
    mu_to = (w[:, None] * centers_to).sum(0) / w.sum()
    a = centers_from - mu_from
    b = centers_to - mu_to
    spread = float(np.einsum("k,ki,ki->", w, a, a))
    B = (w[:, None] * b).T @ a  # sum_k w_k b_k a_k^T
    if R_from is None or R_to is None:
        A = np.zeros((3, 3))
    else:
        A = np.einsum("k,kji,kjl->il", w, R_to[ok], R_from[ok])  # sum_k w_k R_to_k^T R_from_k
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


def fit_similarity_robust(
    centers_from: np.ndarray,
    centers_to: np.ndarray,
    R_from: np.ndarray | None = None,
    R_to: np.ndarray | None = None,
    rounds: int = 10,
) -> Similarity:
    """:func:`fit_similarity` reweighted (Huber, at 2.5 robust standard deviations of the
    centre residuals), so that a few cameras whose refined centres drifted far (those the
    observations hold weakly) do not move the whole rig's frame."""
    w = np.ones(len(centers_from))
    sim = fit_similarity(centers_from, centers_to, R_from, R_to)
    for _ in range(rounds):
        moved = sim.scale * centers_from @ sim.rotation.T + sim.translation
        r = np.linalg.norm(moved - centers_to, axis=1)
        sigma = 1.4826 * float(np.nanmedian(r))
        if not sigma > 1e-12:
            break
        new_w = np.minimum(1.0, 2.5 * sigma / np.maximum(r, 1e-300))
        new_w[~np.isfinite(new_w)] = 0.0
        if np.allclose(new_w, w, atol=1e-6):
            break
        w = new_w
        sim = fit_similarity(centers_from, centers_to, R_from, R_to, weights=w)
    return sim
