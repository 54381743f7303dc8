"""A studio camera dome: calibrated cameras on a partial sphere around the hands.

World frame of the synthetic studio: millimetres, ``z`` up, the subject stands at
``y < 0`` facing ``+y`` and holds the hands around the origin. Cameras sit on a partial
sphere (no cameras under the floor, none in the wedge behind the subject's back) of radius
about one metre, look at the hands with a small aiming error, and are mounted in landscape
or portrait orientation (512x334 or 334x512 images, as InterHand2.6M's). Intrinsics are
those of a studio machine-vision camera at that resolution (focal length about 1250 px),
with small lens distortion. A few cameras are mis-aimed and see nothing useful, as happens
in real rigs.
"""

from __future__ import annotations

import numpy as np

from triangulation.camera import Camera, CameraRig

__all__ = ["make_dome", "look_at", "camera_name"]

#: Elevation range of the dome (degrees above the horizontal plane through the hands).
ELEVATION_DEG = (-25.0, 75.0)
#: Half-width of the azimuth wedge behind the subject that holds no cameras (degrees).
BACK_WEDGE_DEG = 35.0


def camera_name(i: int) -> str:
    """Studio-style camera identifier of the ``i``-th camera (``"400001"`` ...)."""
    return f"4{i + 1:05d}"


def look_at(center_world: np.ndarray, target_world: np.ndarray, up_world: np.ndarray) -> np.ndarray:
    """(3, 3) ``R_cam_from_world`` of a camera at ``center_world`` looking at ``target_world``.

    Camera axes are OpenCV's: ``x`` right, ``y`` down, ``z`` forward. ``up_world`` sets the
    roll (it appears pointing up in the image).
    """
    fwd = np.asarray(target_world, dtype=np.float64) - np.asarray(center_world, dtype=np.float64)
    n = np.linalg.norm(fwd)
    if n == 0:
        raise ValueError("look_at: the camera centre and target coincide")
    fwd = fwd / n
    right = np.cross(fwd, up_world)
    if np.linalg.norm(right) < 1e-9:
        right = np.cross(fwd, np.array([1.0, 0.0, 0.0]))
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    return np.stack([right, down, fwd])


def _dome_directions(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) unit directions spread evenly (Fibonacci lattice) over the allowed dome."""
    lo, hi = np.sin(np.deg2rad(ELEVATION_DEG))
    # Oversample a Fibonacci sphere band, then drop the back wedge; repeat until enough.
    m = n
    while True:
        k = np.arange(m) + 0.5
        zs = lo + (hi - lo) * k / m
        golden = np.pi * (3.0 - np.sqrt(5.0))
        phi = golden * np.arange(m) + rng.uniform(0, 2 * np.pi)
        rxy = np.sqrt(1.0 - zs**2)
        d = np.stack([rxy * np.cos(phi), rxy * np.sin(phi), zs], axis=1)
        az = np.degrees(np.arctan2(d[:, 0], -d[:, 1]))  # 0 = straight behind the subject
        keep = np.abs(az) > BACK_WEDGE_DEG
        if keep.sum() >= n:
            idx = np.flatnonzero(keep)
            pick = idx[np.round(np.linspace(0, idx.size - 1, n)).astype(int)]
            return d[pick]
        m = int(m * 1.3) + 1


def make_dome(
    n_cameras: int = 80,
    *,
    width: int = 512,
    height: int = 334,
    seed: int = 0,
    radius_mm: float = 1000.0,
    useless_fraction: float = 0.04,
    portrait_fraction: float = 0.5,
) -> CameraRig:
    """Generate a calibrated camera dome around the world origin.

    Args:
        n_cameras: number of cameras (C >= 1).
        width, height: landscape image size in pixels; portrait cameras swap them.
        seed: random seed (same seed, same rig).
        radius_mm: mean camera distance from the hands.
        useless_fraction: share of cameras aimed away from the hands.
        portrait_fraction: share of cameras mounted in portrait orientation.

    Returns:
        A CameraRig of ``n_cameras`` cameras named ``camera_name(i)``.
    """
    if n_cameras < 1:
        raise ValueError(f"make_dome: n_cameras must be >= 1, got {n_cameras}")
    if width < 16 or height < 16:
        raise ValueError(f"make_dome: image size {width}x{height} is too small")
    rng = np.random.default_rng([seed, 0xD0E])
    dirs = _dome_directions(n_cameras, rng)
    n_useless = int(round(useless_fraction * n_cameras)) if n_cameras >= 10 else 0
    useless = set(rng.choice(n_cameras, size=n_useless, replace=False).tolist())
    portrait = rng.random(n_cameras) < portrait_fraction
    cams = []
    scale = max(width, height) / 512.0
    for i in range(n_cameras):
        dist_mm = radius_mm * rng.uniform(0.88, 1.12)
        center = dirs[i] * dist_mm
        target = rng.normal(0.0, 25.0, 3)  # aiming error, mm at the hands
        if i in useless:
            # Aimed well off the hands: at the floor, the ceiling or the wall beside them.
            off = rng.normal(0.0, 1.0, 3)
            off /= np.linalg.norm(off)
            target = target + off * rng.uniform(650.0, 900.0)
        up = np.array([0.0, 0.0, 1.0])
        R = look_at(center, target, up)
        if portrait[i]:
            R = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]) @ R
            w, h = min(width, height), max(width, height)
        else:
            w, h = max(width, height), min(width, height)
        roll = np.deg2rad(rng.normal(0.0, 2.0))
        c, s = np.cos(roll), np.sin(roll)
        R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ R
        f = rng.uniform(1150.0, 1350.0) * scale
        K = np.array(
            [
                [f * rng.uniform(0.999, 1.001), 0.0, (w - 1) / 2 + rng.normal(0, 6 * scale)],
                [0.0, f, (h - 1) / 2 + rng.normal(0, 6 * scale)],
                [0.0, 0.0, 1.0],
            ]
        )
        dist = np.array(
            [
                rng.uniform(-0.12, 0.06),
                rng.uniform(-0.15, 0.15),
                rng.normal(0.0, 5e-4),
                rng.normal(0.0, 5e-4),
                0.0,
            ]
        )
        t = -R @ center
        cams.append(Camera(camera_name(i), w, h, K, dist, R, t))
    return CameraRig(cams)
