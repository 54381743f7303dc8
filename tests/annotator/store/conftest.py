"""Builders for small real projects on disk (a ring of cameras looking at the origin)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from triangulation import Camera, CameraRig


def ring_rig(n: int = 6, radius_mm: float = 1000.0, prefix: str = "40", size=(640, 480)):
    """``n`` cameras on a horizontal circle, all looking at the world origin."""
    cams = []
    for k in range(n):
        a = 2 * np.pi * k / n
        center = np.array([radius_mm * np.cos(a), radius_mm * np.sin(a), 0.0])
        z = -center / np.linalg.norm(center)
        x = np.cross([0.0, 0.0, 1.0], z)
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        R = np.stack([x, y, z])
        K = [[800.0, 0, size[0] / 2], [0, 800.0, size[1] / 2], [0, 0, 1]]
        dist = [0.05, -0.01, 0.001, 0.0005, 0.0]
        cams.append(Camera(f"{prefix}{k:04d}", size[0], size[1], K, dist, R, -R @ center))
    return CameraRig(cams)


def standard_paths(cameras: list[str], capture: str, sequence: str, frames) -> np.ndarray:
    return np.array(
        [[f"{capture}/{sequence}/cam{c}/image{f:04d}.jpg" for c in cameras] for f in frames],
        dtype=object,
    )


def make_project(path: Path, n_instants: int = 4, n_cameras: int = 6):
    """A writable store with ``n_instants`` instants of capture "0", sequence "seq"."""
    from annotator.store import ProjectStore

    store = ProjectStore.create(path, name="test", rigs=ring_rig(n_cameras))
    frames = list(range(n_instants))
    store.add_instants(
        ["0"] * n_instants, ["seq"] * n_instants, frames,
        standard_paths(store.camera_names, "0", "seq", frames),
    )
    store.save()
    return store


@pytest.fixture
def project(tmp_path):
    store = make_project(tmp_path / "proj")
    yield store
    store.close(save=False)
