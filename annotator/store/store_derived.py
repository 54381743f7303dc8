"""The derived-data half of :class:`~annotator.store.ProjectStore`: synthetic ground truth
(``ground_truth.h5``) and propagation of human 3D joints to 2D (``propagated.h5``).

Kept apart from ``store.py`` to keep each module readable; the mixin relies on the store's
``_labels``, ``_frames``, ``_gt``, ``_rigs``, ``_captures``, ``_camera_names``, ``path``,
``_check_instant``, ``_need_write``, ``save`` and ``camera_positions``.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable

import numpy as np

from annotator import skeleton
from annotator.store.errors import ProjectFormatError
from annotator.store.layout import LABELS_NAME, PROPAGATED_NAME
from annotator.store.propagate import rigs_digest
from annotator.store.records import GroundTruth, Propagation, PropagationSummary

__all__ = ["DerivedDataMixin"]

Progress = Callable[[int, int], None]


class DerivedDataMixin:
    """Ground truth and propagation (both derived from, or kept apart from, human work)."""

    # -- ground truth ----------------------------------------------------------------------
    def write_ground_truth(
        self, joints_world_mm, visible, uv_px, hand_present, instants=None
    ) -> None:
        """Write synthetic truth for ``instants`` (default: all F) to ground_truth.h5."""
        self._need_write()
        F = self.num_instants
        idx = np.arange(F) if instants is None else np.asarray(instants, np.int64).ravel()
        n = idx.size
        if n and (idx.min() < 0 or idx.max() >= F):
            raise ProjectFormatError(f"write_ground_truth: instants out of range 0..{F - 1}")
        if np.unique(idx).size != n:
            raise ProjectFormatError("write_ground_truth: repeated instants")
        C, J = len(self._camera_names), skeleton.NUM_JOINTS
        arrays = {}
        for name, value, shape in (
            ("joints_world_mm", joints_world_mm, (n, J, 3)),
            ("visible", visible, (n, C, J)),
            ("uv_px", uv_px, (n, C, J, 2)),
            ("hand_present", hand_present, (n, 2)),
        ):
            arr = np.asarray(value)
            if arr.shape != shape:
                raise ProjectFormatError(
                    f"write_ground_truth: {name} must be {shape}, got {arr.shape}"
                )
            if arr.dtype.kind == "f" and np.isinf(arr).any():
                raise ProjectFormatError(f"write_ground_truth: {name} contains inf")
            arrays[name] = arr
        order = np.argsort(idx)
        self._gt.write(idx[order], F, **{k: v[order] for k, v in arrays.items()})

    @property
    def has_ground_truth(self) -> bool:
        return self._gt.exists

    def ground_truth(self, i: int) -> GroundTruth | None:
        """The truth of instant ``i``, or None (no ground_truth.h5, or nothing for ``i``)."""
        i = self._check_instant(i)
        return self._gt.read(i) if self._gt.exists else None

    # -- propagation -----------------------------------------------------------------------
    def _human_joints(self, instants: np.ndarray) -> np.ndarray:
        """(F', J, 3) human 3D joints of ``instants`` (NaN elsewhere; repeats allowed)."""
        inst, joint, vals = self._labels.joints_table()
        keep = vals["source"] == 1
        inst, joint, xyz = inst[keep], joint[keep], vals["xyz_mm"][keep]
        uniq, back = np.unique(np.asarray(instants, np.int64), return_inverse=True)
        out = np.full((uniq.size, skeleton.NUM_JOINTS, 3), np.nan)
        if uniq.size:
            pos = np.clip(np.searchsorted(uniq, inst), 0, uniq.size - 1)
            found = uniq[pos] == inst
            out[pos[found], joint[found]] = xyz[found]
        return out[back.reshape(-1)]

    def _propagate_batch(
        self, instants: np.ndarray, joints: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from annotator.store.propagate import project_joints

        C, J = len(self._camera_names), skeleton.NUM_JOINTS
        F = instants.size
        if joints is None:
            joints = self._human_joints(instants)
        uv = np.full((F, C, J, 2), np.nan)
        inimg = np.zeros((F, C, J), bool)
        front = np.zeros((F, C, J), bool)
        caps = self._frames.columns()["capture"][instants] if F else np.empty(0, int)
        for k, cap in enumerate(self._captures):
            sel = np.nonzero(caps == k)[0]
            if sel.size == 0:
                continue
            u, m_img, m_front = project_joints(
                joints[sel], self._rigs[cap], self.camera_positions(cap), C
            )
            uv[sel], inimg[sel], front[sel] = u, m_img, m_front
        return uv, inimg, front

    def _propagation_instants(self, instants) -> np.ndarray:
        if instants is None:
            return self._labels.instants_with_joints("human").astype(np.int64)
        given = np.asarray(instants).ravel()
        if given.size and given.dtype.kind not in "iu":
            raise ProjectFormatError(f"instants must be integer indices, got {given.dtype}")
        idx = given.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_instants):
            raise IndexError(f"{self.path}: instants out of range 0..{self.num_instants - 1}")
        return idx

    def propagate(self, instants=None, progress: Progress | None = None) -> Propagation:
        """Project the human 3D joints of ``instants`` (default: every human-labelled one)
        into every camera. Works read-only; see :meth:`write_propagation` to store it."""
        idx = self._propagation_instants(instants)
        uv, inimg, front = self._propagate_batch(idx)
        if progress is not None:
            progress(idx.size, idx.size)
        return Propagation(uv_px=uv, in_image=inimg & front, in_front=front, instants=idx)

    def propagation(self, instants=None) -> Propagation:
        """The human 3D joints of ``instants`` (default: every human-labelled one) as 2D in
        every camera: what the machine labeller trains from.

        Rows of ``propagated.h5`` (``annotator propagate``) are used where their joints and
        the cameras are the project's now; the other instants are computed as
        :meth:`propagate` does. The result is the same either way.
        """
        from annotator.store.propagate import read_current_rows

        idx = self._propagation_instants(instants)
        joints = self._human_joints(idx)
        stored = read_current_rows(self.path / PROPAGATED_NAME, idx, joints,
                                   rigs_digest(self._rigs))  # fmt: skip
        if stored is None or not stored[0].any():
            uv, inimg, front = self._propagate_batch(idx, joints)
            return Propagation(uv_px=uv, in_image=inimg & front, in_front=front, instants=idx)
        found, (uv_f, img_f, front_f) = stored
        C, J = len(self._camera_names), skeleton.NUM_JOINTS
        uv = np.empty((idx.size, C, J, 2))
        inimg = np.empty((idx.size, C, J), bool)
        front = np.empty((idx.size, C, J), bool)
        uv[found], inimg[found], front[found] = uv_f, img_f, front_f
        rest = ~found
        if rest.any():
            u, m_img, m_front = self._propagate_batch(idx[rest], joints[rest])
            uv[rest], inimg[rest], front[rest] = u, m_img & m_front, m_front
        return Propagation(uv_px=uv, in_image=inimg, in_front=front, instants=idx)

    def write_propagation(
        self, instants=None, progress: Progress | None = None, batch: int = 256
    ) -> PropagationSummary:
        """Propagate and write ``propagated.h5`` atomically (layout: :mod:`.propagate`)."""
        from annotator.store.propagate import write_propagated

        self._need_write()
        self.save()
        idx = self._propagation_instants(instants)
        labels_path = self.path / LABELS_NAME
        attrs = {
            "created": _time.time(),
            "labels_saved": labels_path.stat().st_mtime if labels_path.exists() else 0.0,
        }

        attrs["rigs_digest"] = rigs_digest(self._rigs)

        def compute(chunk: np.ndarray):
            joints = self._human_joints(chunk)
            uv, inimg, front = self._propagate_batch(chunk, joints)
            return joints, uv, inimg & front, front

        views, joint_views = write_propagated(
            self.path / PROPAGATED_NAME,
            idx,
            len(self._camera_names),
            skeleton.NUM_JOINTS,
            compute,
            attrs,
            batch=batch,
            progress=progress,
        )
        return PropagationSummary(
            int(idx.size), views, joint_views, str(self.path / PROPAGATED_NAME)
        )

    def propagated(self, instants=None) -> Propagation | None:
        """Read ``propagated.h5`` (all of it, or the given instants present in it)."""
        import h5py

        path = self.path / PROPAGATED_NAME
        if not path.exists():
            return None
        try:
            with h5py.File(path, "r") as f:
                stored = f["instants"][...]
                if instants is None:
                    rows = np.arange(stored.size)
                else:
                    want = np.asarray(instants, np.int64).ravel()
                    rows = np.nonzero(np.isin(stored, want))[0]
                return Propagation(
                    uv_px=f["uv_px"][rows].astype(np.float64),
                    in_image=f["in_image"][rows],
                    in_front=f["in_front"][rows],
                    instants=stored[rows],
                )
        except (OSError, KeyError) as exc:
            raise ProjectFormatError(f"{path}: unreadable propagation ({exc})") from None
