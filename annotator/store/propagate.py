"""Propagation: human 3D joints projected into every camera, and ``propagated.h5``.

Propagated 2D labels are derived data (recomputable from ``labels.h5`` and
``cameras.toml`` at any time), so they live in their own file, ``propagated.h5``, written
atomically by ``annotator propagate`` / :meth:`ProjectStore.write_propagation`::

    instants (F',) i8   uv_px (F', C, J, 2) f4 (NaN = none)   in_image, in_front (F', C, J) bool

with attributes ``created`` (unix time) and ``labels_saved`` (mtime of the labels.h5 used).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from annotator.store.atomic import atomic_file
from triangulation.camera import CameraRig

__all__ = ["project_joints", "write_propagated", "PROPAGATED_NAME"]

PROPAGATED_NAME = "propagated.h5"


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
    compute: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]],
    attrs: dict[str, float],
    batch: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Write ``propagated.h5`` atomically, computing ``batch`` instants at a time.

    Returns (labelled views, visible joint views)."""
    C, J = num_cameras, num_joints
    n = int(instants.size)
    with atomic_file(Path(path)) as tmp:
        with h5py.File(tmp, "w") as f:
            for k, v in attrs.items():
                f.attrs[k] = v
            f.create_dataset("instants", data=instants.astype(np.int64))
            uv_ds = f.create_dataset(
                "uv_px",
                (n, C, J, 2),
                "f4",
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
                uv, inimg, front = compute(instants[start:stop])
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
