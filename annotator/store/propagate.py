"""Propagation: human 3D joints projected into every camera, and ``propagated.h5``.

Propagated 2D labels are derived data (recomputable from ``labels.h5`` and
``cameras.toml`` at any time), so they live in their own file, ``propagated.h5``, written
atomically by ``annotator propagate`` / :meth:`ProjectStore.write_propagation`::

    instants (F',) i8            joints_mm (F', J, 3) f8   the human 3D joints projected
    uv_px (F', C, J, 2) f8 (NaN = none)   in_image, in_front (F', C, J) bool

with attributes ``created`` (unix time), ``labels_saved`` (mtime of the labels.h5 used) and
``rigs_digest`` (:func:`rigs_digest` of the cameras used). Files written before
``joints_mm`` and ``rigs_digest`` existed (uv_px was f4) read as stale.

:meth:`ProjectStore.propagation` is the one reader everything trains from: it takes a row
of the file only when its joints and the cameras are those of the project now, and computes
the rest with the same function (:meth:`ProjectStore.propagate`). ``annotator propagate``
thus precomputes what the labeller's training would otherwise compute at its start.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from annotator.store.atomic import atomic_file
from annotator.store.errors import ProjectFormatError
from annotator.store.layout import PROPAGATED_NAME
from triangulation.camera import CameraRig

__all__ = [
    "project_joints",
    "write_propagated",
    "read_current_rows",
    "rigs_digest",
    "PROPAGATED_NAME",
]



def project_joints(
    joints_world_mm: np.ndarray, rig: CameraRig, camera_index: np.ndarray, num_cameras: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project (F, J, 3) joints with ``rig`` into the project camera axis.

    Args:
        joints_world_mm: (F, J, 3), NaN = unset.
        rig: the capture's rig (C' cameras).
        camera_index: (C',) position of each rig camera on the project axis (C).
        num_cameras: C.
    Returns:
        uv_px (F, C, J, 2) NaN where not projectable, in_image (F, C, J), in_front (F, C, J).
    """
    from triangulation.projection import in_front, in_image, project

    F, J, _ = joints_world_mm.shape
    uv_rig = project(joints_world_mm, rig)  # (F, J, C', 2)
    front_rig = in_front(joints_world_mm, rig)  # (F, J, C')
    inimg_rig = in_image(uv_rig, rig)  # (F, J, C')
    uv = np.full((F, num_cameras, J, 2), np.nan)
    front = np.zeros((F, num_cameras, J), bool)
    inimg = np.zeros((F, num_cameras, J), bool)
    uv[:, camera_index] = uv_rig.transpose(0, 2, 1, 3)
    front[:, camera_index] = front_rig.transpose(0, 2, 1)
    inimg[:, camera_index] = inimg_rig.transpose(0, 2, 1)
    return uv, inimg, front


def write_propagated(
    path: Path,
    instants: np.ndarray,
    num_cameras: int,
    num_joints: int,
    compute: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    attrs: dict[str, float],
    batch: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Write ``propagated.h5`` atomically, computing ``batch`` instants at a time;
    ``compute(instants)`` gives (joints_mm, uv_px, in_image, in_front) of those instants.

    Returns (labelled views, visible joint views)."""
    C, J = num_cameras, num_joints
    n = int(instants.size)
    with atomic_file(Path(path)) as tmp:
        with h5py.File(tmp, "w") as f:
            for k, v in attrs.items():
                f.attrs[k] = v
            f.create_dataset("instants", data=instants.astype(np.int64))
            joints_ds = f.create_dataset(
                "joints_mm", (n, J, 3), "f8", maxshape=(None, J, 3), chunks=(1, J, 3),
                compression="lzf", fillvalue=np.nan,
            )
            uv_ds = f.create_dataset(
                "uv_px",
                (n, C, J, 2),
                "f8",
                # maxshape lets a project with no human 3D yet write an empty file
                # (h5py refuses a fixed zero-row dataset with chunks).
                maxshape=(None, C, J, 2),
                chunks=(1, C, J, 2),
                compression="lzf",
                fillvalue=np.nan,
            )
            img_ds = f.create_dataset(
                "in_image", (n, C, J), "?", maxshape=(None, C, J), chunks=(1, C, J),
                compression="lzf",
            )
            frn_ds = f.create_dataset(
                "in_front", (n, C, J), "?", maxshape=(None, C, J), chunks=(1, C, J),
                compression="lzf",
            )
            views = joint_views = 0
            for start in range(0, n, batch):
                stop = min(n, start + batch)
                joints, uv, inimg, front = compute(instants[start:stop])
                joints_ds[start:stop] = joints
                views += int(inimg.any(axis=2).sum())
                joint_views += int(inimg.sum())
                uv_ds[start:stop] = uv
                img_ds[start:stop] = inimg
                frn_ds[start:stop] = front
                if progress is not None:
                    progress(stop, n)
            f.attrs["labelled_views"] = views
            f.attrs["joint_views"] = joint_views
            f.flush()
    return views, joint_views


def rigs_digest(rigs: dict[str, CameraRig]) -> str:
    """A digest of every camera of every capture (names, sizes, K, distortion, R, t)."""
    h = hashlib.sha256()
    for capture in sorted(rigs):
        h.update(capture.encode() + b"\0")
        for cam in rigs[capture]:
            h.update(f"{cam.name}\0{cam.width}x{cam.height}\0".encode())
            for arr in (cam.K, cam.dist, cam.R, cam.t):
                h.update(np.ascontiguousarray(arr, np.float64).tobytes())
    return h.hexdigest()


def read_current_rows(
    path: Path, instants: np.ndarray, joints_mm: np.ndarray, digest: str
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
    """The rows of ``path`` for ``instants`` whose stored joints equal ``joints_mm`` (same
    order; NaN matches NaN) and whose cameras digest is ``digest``.

    Returns (mask over ``instants`` of the rows taken, (uv_px, in_image, in_front) of those
    rows in ``instants`` order), or None when the file is absent, of an older layout or made
    with other cameras. An unreadable file is a ProjectFormatError.
    """
    if not path.exists():
        return None
    try:
        with h5py.File(path, "r") as f:
            if "joints_mm" not in f or f.attrs.get("rigs_digest") != digest:
                return None
            row_of = {int(i): r for r, i in enumerate(f["instants"][...])}
            rows = np.array([row_of.get(int(i), -1) for i in instants], np.int64)
            found = rows >= 0
            if found.any():
                # h5py reads strictly increasing rows: read each once, then spread
                uniq, back = np.unique(rows[found], return_inverse=True)
                same = _same_joints(f["joints_mm"][uniq][back], joints_mm[found])
                found[np.nonzero(found)[0][~same]] = False
            if not found.any():
                return found, (np.empty((0,)), np.empty((0,), bool), np.empty((0,), bool))
            uniq, back = np.unique(rows[found], return_inverse=True)
            return found, tuple(f[name][uniq][back] for name in ("uv_px", "in_image", "in_front"))
    except (OSError, KeyError) as exc:
        raise ProjectFormatError(f"{path}: unreadable propagation ({exc})") from None


def _same_joints(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n,) bool: rows of (n, J, 3) arrays equal, NaN matching NaN."""
    eq = (a == b) | (np.isnan(a) & np.isnan(b))
    return eq.reshape(len(a), -1).all(axis=1)
