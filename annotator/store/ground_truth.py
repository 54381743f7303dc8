"""``ground_truth.h5``: exact truth from the synthetic studio, kept apart from human labels.

Dense, chunked per instant (F = the project's instants, NaN / False where never written)::

    joints_world_mm (F, J, 3) f8     visible (F, C, J) bool     uv_px (F, C, J, 2) f4
    hand_present (F, 2) bool         written (F,) bool

Writes go to a copy that replaces the file atomically.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import h5py
import numpy as np

from annotator.store.atomic import atomic_file
from annotator.store.errors import ProjectFormatError
from annotator.store.layout import GROUND_TRUTH_NAME
from annotator.store.records import GroundTruth

__all__ = ["GroundTruthStore", "GROUND_TRUTH_NAME"]



class GroundTruthStore:
    """Lazy reader / atomic writer of ``ground_truth.h5``."""

    def __init__(self, path: Path, num_cameras: int, num_joints: int):
        self.path = Path(path)
        self.C = int(num_cameras)
        self.J = int(num_joints)
        self._h5: h5py.File | None = None

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def _specs(self) -> dict[str, tuple[tuple[int, ...], str, object]]:
        C, J = self.C, self.J
        return {
            "joints_world_mm": ((J, 3), "f8", np.nan),
            "visible": ((C, J), "?", False),
            "uv_px": ((C, J, 2), "f4", np.nan),
            "hand_present": ((2,), "?", False),
            "written": ((), "?", False),
        }

    def write(self, instants: np.ndarray, num_instants: int, **arrays: np.ndarray) -> None:
        """Write rows ``instants`` (sorted unique) of every array; grows the file to F."""
        self.close()
        specs = self._specs()
        with atomic_file(self.path) as tmp:
            if self.path.exists():
                shutil.copyfile(self.path, tmp)
                mode = "r+"
            else:
                mode = "w"
            with h5py.File(tmp, mode) as f:
                for name, (shape, dtype, fill) in specs.items():
                    if name not in f:
                        f.create_dataset(
                            name,
                            (num_instants, *shape),
                            dtype=dtype,
                            maxshape=(None, *shape),
                            chunks=(1, *shape) if shape else (4096,),
                            fillvalue=fill,
                            compression="lzf" if shape else None,
                        )
                    ds = f[name]
                    if ds.shape[0] < num_instants:
                        ds.resize((num_instants, *shape))
                    values = arrays.get(name, np.ones(len(instants), bool))
                    if instants.size and np.all(np.diff(instants) == 1):
                        ds[int(instants[0]) : int(instants[-1]) + 1] = values
                    else:
                        for k, i in enumerate(instants.tolist()):
                            ds[i] = values[k]
                f.flush()

    def read(self, i: int) -> GroundTruth | None:
        """The truth of instant ``i``, or None when none was written for it."""
        if self._h5 is None:
            try:
                self._h5 = h5py.File(self.path, "r")
            except OSError as exc:
                raise ProjectFormatError(f"{self.path}: unreadable ground truth ({exc})") from None
        f = self._h5
        try:
            if i >= f["written"].shape[0] or not f["written"][i]:
                return None
            return GroundTruth(
                joints_world_mm=f["joints_world_mm"][i],
                visible=f["visible"][i],
                uv_px=f["uv_px"][i].astype(np.float64),
                hand_present=f["hand_present"][i],
            )
        except KeyError as exc:
            with contextlib.suppress(Exception):
                self.close()
            raise ProjectFormatError(f"{self.path}: missing dataset {exc}") from None
