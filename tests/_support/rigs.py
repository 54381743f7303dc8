"""Synthetic camera rigs and scenes for tests and benchmarks (exact ground truth)."""

from __future__ import annotations

import numpy as np

from triangulation._gauge import apply_similarity, fit_similarity
from triangulation.camera import Camera, CameraRig

__all__ = [
    "look_at_rotation",
    "dome_rig",
    "cube_points",
    "perturb_rig",
    "align_rig",
    "align_points",
]


def look_at_rotation(center_world: np.ndarray, target_world: np.ndarray, up=(0.0, 0.0, 1.0)):
    """R_cam_from_world for a camera at ``center_world`` whose optical axis hits the target."""
    z = np.asarray(target_world, float) - np.asarray(center_world, float)
    z /= np.linalg.norm(z)
    up = np.asarray(up, float)
    if abs(z @ up) > 0.99:
        up = np.array([1.0, 0.0, 0.0])
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])


def dome_rig(
    n_cameras: int = 80,
    radius_mm: float = 1000.0,
    size: tuple[int, int] = (512, 334),
    focal_px: float = 1200.0,
    distortion: float = 1.0,
    n_dist: int = 5,
    seed: int = 0,
) -> CameraRig:
    """Cameras spread over an upper hemisphere (Fibonacci spiral) looking at the origin.

    Every other camera is rotated to portrait (height x width); distortion is small and
    random (``distortion`` scales it; 0 gives pinhole cameras); ``n_dist`` in (4, 5, 8, 12).
    """
    rng = np.random.default_rng(seed)
    i = np.arange(n_cameras) + 0.5
    elevation = np.arcsin(0.15 + 0.8 * i / n_cameras)  # keep cameras above the floor
    azimuth = np.pi * (1 + 5**0.5) * i
    cams = []
    for k in range(n_cameras):
        c = radius_mm * np.array(
            [np.cos(elevation[k]) * np.cos(azimuth[k]), np.cos(elevation[k]) * np.sin(azimuth[k]),
             np.sin(elevation[k])]
        )
        R = look_at_rotation(c, np.zeros(3))
        w, h = size if k % 2 == 0 else size[::-1]
        f = focal_px * rng.uniform(0.95, 1.05)
        K = [[f, 0.0, (w - 1) / 2 + rng.normal(0, 3)], [0.0, f * rng.uniform(0.998, 1.002),
             (h - 1) / 2 + rng.normal(0, 3)], [0.0, 0.0, 1.0]]
        full = np.array(
            [rng.normal(-0.08, 0.03), rng.normal(0.05, 0.05), rng.normal(0, 5e-4),
             rng.normal(0, 5e-4), rng.normal(0, 0.05), rng.normal(0, 0.02), rng.normal(0, 0.02),
             rng.normal(0, 0.02), rng.normal(0, 1e-3), rng.normal(0, 1e-4), rng.normal(0, 1e-3),
             rng.normal(0, 1e-4)]
        )
        cams.append(Camera(f"cam{k:03d}", w, h, K, distortion * full[:n_dist], R, -R @ c))
    return CameraRig(cams)


def cube_points(n: int, side_mm: float = 300.0, seed: int = 1) -> np.ndarray:
    """(n, 3) points uniform in a cube of ``side_mm`` centred on the origin."""
    return np.random.default_rng(seed).uniform(-side_mm / 2, side_mm / 2, (n, 3))


def _rotation(axis_angle: np.ndarray) -> np.ndarray:
    theta = np.linalg.norm(axis_angle)
    if theta == 0:
        return np.eye(3)
    k = axis_angle / theta
    K = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(theta) * K + (1 - np.cos(theta)) * K @ K


def perturb_rig(
    rig: CameraRig,
    rotation_deg: float,
    translation_mm: float,
    seed: int,
    *,
    gauge_free: bool = False,
) -> CameraRig:
    """Every camera turned by ``rotation_deg`` about a random axis through its centre and
    its centre moved ``translation_mm`` in a random direction (a bumped camera).

    ``gauge_free``: then the similarity that best maps the perturbed centres back onto the
    true ones is applied, so the perturbation holds no change of the world frame or scale
    (which image points cannot reveal) and a refined rig can be compared with the truth as
    it is.
    """
    rng = np.random.default_rng(seed)
    cams = []
    for cam in rig:
        axis = rng.normal(size=3)
        direction = rng.normal(size=3)
        R = _rotation(np.deg2rad(rotation_deg) * axis / np.linalg.norm(axis)) @ cam.R
        center = cam.center_world + translation_mm * direction / np.linalg.norm(direction)
        cams.append(cam.replace(R=R, t=-R @ center))
    out = CameraRig(cams)
    return align_rig(out, rig) if gauge_free else out


def align_rig(rig: CameraRig, truth: CameraRig) -> CameraRig:
    """``rig`` moved by the similarity that best maps its camera centres onto ``truth``'s."""
    sim = fit_similarity(rig.centers_world, truth.centers_world, rig.R, truth.R)
    R, t, _ = apply_similarity(sim, rig.R, rig.t, None)
    return CameraRig(cam.replace(R=R[c], t=t[c]) for c, cam in enumerate(rig))


def align_points(points: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(N, 3) points moved by the similarity that best maps them onto ``truth`` (NaN
    rows skipped in the fit)."""
    sim = fit_similarity(points, truth)
    return sim.scale * points @ sim.rotation.T + sim.translation
