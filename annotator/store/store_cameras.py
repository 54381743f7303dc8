"""Cameras and folders of :class:`~annotator.store.ProjectStore`: the project camera axis,
the rigs per capture, and the image root and sub-folders.

A mixin, kept apart from ``store.py`` to keep each module readable; it relies on the
store's ``path``, ``_pf``, ``_rigs``, ``_captures``, ``_camera_names`` and ``_camera_index``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from annotator.store import layout
from annotator.store.errors import ProjectFormatError
from annotator.store.layout import CAMERAS_NAME
from triangulation.camera import CameraRig

__all__ = ["CamerasMixin", "CAMERAS_NAME"]



class CamerasMixin:
    """Camera axis, rigs and folders."""

    @property
    def image_root(self) -> Path:
        root = Path(self._pf.image_root)
        return root if root.is_absolute() else self.path / root

    @property
    def camera_names(self) -> list[str]:
        return list(self._camera_names)

    @property
    def captures(self) -> list[str]:
        return list(self._captures)

    @property
    def rigs(self) -> dict[str, CameraRig]:
        return dict(self._rigs)

    def rig(self, capture: str) -> CameraRig:
        try:
            return self._rigs[str(capture)]
        except KeyError:
            raise KeyError(f"{self.path}: no capture {capture!r} (have {self._captures})") from None

    def camera_mask(self, capture: str) -> np.ndarray:
        """(C,) bool: the project cameras that ``capture`` has."""
        mask = np.zeros(len(self._camera_names), bool)
        mask[[self._camera_index[n] for n in self.rig(capture).names]] = True
        return mask

    def camera_positions(self, capture: str) -> np.ndarray:
        """(C',) int: position on the project camera axis of each camera of ``capture``'s rig."""
        return np.array([self._camera_index[n] for n in self.rig(capture).names], np.int64)

    def camera_index(self, camera: str | int) -> int:
        """Project camera axis position of a camera name (or a checked integer index)."""
        if isinstance(camera, (int, np.integer)) and not isinstance(camera, bool):
            if not 0 <= int(camera) < len(self._camera_names):
                raise ProjectFormatError(
                    f"camera index {camera} out of range 0..{len(self._camera_names) - 1}"
                )
            return int(camera)
        try:
            return self._camera_index[str(camera)]
        except KeyError:
            raise ProjectFormatError(
                f"{self.path / CAMERAS_NAME}: unknown camera {camera!r}"
            ) from None

    @property
    def machine_dir(self) -> Path:
        return self._subdir(layout.machine_dir(self.path))

    @property
    def models_dir(self) -> Path:
        return self._subdir(layout.models_dir(self.path))

    @property
    def exports_dir(self) -> Path:
        return self._subdir(layout.exports_dir(self.path))

    @staticmethod
    def _subdir(d: Path) -> Path:
        with contextlib.suppress(OSError):
            d.mkdir(exist_ok=True)
        return d
