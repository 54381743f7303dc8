"""The :class:`ProjectStore` facade: the only code that reads or writes a project folder.

See ``docs/store_api.md`` for the contract and its section "The project on disk" for the
layout (named in :mod:`.layout`). Files: ``project.toml`` (:mod:`.project_file`), ``cameras.toml``
(``triangulation.io``), ``frames.h5`` (:mod:`.frames`), ``labels.h5`` (:mod:`.labels`),
``ground_truth.h5`` (:mod:`.ground_truth`), ``propagated.h5`` (:mod:`.propagate`).

Crash safety: :meth:`ProjectStore.save` stages every changed file (``frames.h5``,
``labels.h5``, ``project.toml``) as a complete fsynced temporary, then commits them together
through the roll-forward journal ``.commit.json`` (:func:`.atomic.commit_files`). Opening a
project finishes a commit that a killed writer left pending before reading anything: a
writer under its lock; a reader by taking the lock for that moment when it is free, or by
waiting (at most ``locking.READER_WAIT_S``) for the live writer that holds it to finish
its commit. So after a kill -9 at any moment every opener sees the state before or after
the save.

The class is assembled from mixins, one module per concern: :mod:`.store_cameras` (camera
axis, rigs, folders), :mod:`.store_instants` (instants, image paths, attributes),
:mod:`.store_labels` (human work and the imported layer), :mod:`.store_derived`
(propagation, ground truth), :mod:`.store_saving` (the commit); this module creates,
opens and closes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from annotator import skeleton
from annotator.store.atomic import (
    COMMIT_NAME,
    atomic_file,
    remove_stale_temps,
)
from annotator.store.errors import ProjectFormatError, ProjectReadOnlyError
from annotator.store.frames import FramesIndex
from annotator.store.ground_truth import GroundTruthStore
from annotator.store.labels import LabelStore
from annotator.store.layout import (
    CALIBRATIONS_NAME,
    CAMERAS_NAME,
    FRAMES_NAME,
    GROUND_TRUTH_NAME,
    LABELS_NAME,
    PROPAGATED_NAME,
)
from annotator.store.locking import ProjectLock, finish_pending_commit
from annotator.store.project_file import (
    PROJECT_NAME,
    SCHEMA_VERSION,
    ProjectFile,
    read_project_file,
    write_project_file,
)
from annotator.store.records import (
    ProjectStatus,
)
from annotator.store.store_calibration import CalibrationMixin
from annotator.store.store_cameras import CamerasMixin
from annotator.store.store_derived import DerivedDataMixin
from annotator.store.store_instants import InstantsMixin
from annotator.store.store_labels import LabelsMixin
from annotator.store.store_saving import SavingMixin
from triangulation.camera import CameraRig

__all__ = ["ProjectStore", "CAMERAS_NAME"]

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


def _as_rigs(rigs: Mapping[str, CameraRig] | CameraRig) -> dict[str, CameraRig]:
    if isinstance(rigs, CameraRig):
        return {"0": rigs}
    if not isinstance(rigs, Mapping) or not rigs:
        raise ProjectFormatError("rigs must be a CameraRig or a non-empty {capture: CameraRig}")
    out = {}
    for cap, rig in rigs.items():
        if not isinstance(rig, CameraRig):
            raise ProjectFormatError(f"rigs[{cap!r}] must be a CameraRig, got {type(rig).__name__}")
        out[str(cap)] = rig
    return out


class ProjectStore(
    CamerasMixin, InstantsMixin, SavingMixin, LabelsMixin, DerivedDataMixin, CalibrationMixin
):
    """A project folder opened for reading (``mode="r"``) or writing (``"w"``, locked)."""

    def __init__(
        self,
        path: Path,
        pf: ProjectFile,
        rigs: dict[str, CameraRig],
        mode: str,
        lock: ProjectLock | None,
    ):
        self.path = Path(path)
        self._pf = pf
        self._rigs = rigs
        self._mode = mode
        self._lock = lock
        names: list[str] = []
        seen: set[str] = set()
        for rig in rigs.values():
            for n in rig.names:
                if n not in seen:
                    seen.add(n)
                    names.append(n)
        self._camera_names = names
        self._camera_index = {n: k for k, n in enumerate(names)}
        self._captures = list(rigs)
        C, J = len(names), skeleton.NUM_JOINTS
        self._frames = FramesIndex(self.path / FRAMES_NAME, C, writable=mode == "w")
        self._labels = LabelStore(self.path / LABELS_NAME, C, J)
        self._gt = GroundTruthStore(self.path / GROUND_TRUTH_NAME, C, J)
        self.metadata: dict[str, Any] = dict(pf.metadata)
        self.settings: dict[str, Any] = dict(pf.settings)
        self._lookup: dict[tuple[str, str, int], int] | None = None
        self._closed = False

    # -- creating and opening --------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path,
        name: str | None = None,
        rigs=None,
        image_root: str = "images",
        *,
        overwrite: bool = False,
        settings: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ProjectStore:
        """Create a project folder and return it open for writing (holding the lock).

        Args:
            path: the project folder (created if missing).
            name: project name (default: the folder name).
            rigs: a CameraRig (capture "0") or {capture id: CameraRig}; the project camera
                axis is the union of the rigs' camera names in first-seen order.
            image_root: where images live, relative to the folder or absolute.
            overwrite: replace a project already at ``path`` (its files are removed).
        """
        from triangulation.io import save_rigs

        path = Path(path)
        if rigs is None:
            raise ProjectFormatError("create() needs rigs (a CameraRig or {capture: CameraRig})")
        rig_map = _as_rigs(rigs)
        if (path / PROJECT_NAME).exists() and not overwrite:
            raise ProjectFormatError(
                f"{path}: already holds a project (overwrite=True; --overwrite in the CLI)"
            )
        path.mkdir(parents=True, exist_ok=True)
        lock = ProjectLock(path)
        lock.acquire()
        try:
            pf = ProjectFile(
                name=name or path.resolve().name,
                image_root=str(image_root),
                settings=dict(settings or {}),
                metadata=dict(metadata or {}),
            )
            for stale in (
                PROJECT_NAME,
                COMMIT_NAME,
                LABELS_NAME,
                GROUND_TRUTH_NAME,
                PROPAGATED_NAME,
                CALIBRATIONS_NAME,
            ):
                with contextlib.suppress(FileNotFoundError):
                    (path / stale).unlink()
            save_rigs(rig_map, path / CAMERAS_NAME)
            C = len(cls._union(rig_map))
            with atomic_file(path / FRAMES_NAME) as tmp:
                FramesIndex.create_empty(tmp, C)
            write_project_file(path, pf)  # last: its presence marks a complete project
        except BaseException:
            lock.release()
            raise
        return cls(path, pf, rig_map, "w", lock)

    @staticmethod
    def _union(rigs: Mapping[str, CameraRig]) -> list[str]:
        return list(dict.fromkeys(n for rig in rigs.values() for n in rig.names))

    @classmethod
    def open(cls, path, mode: str = "r") -> ProjectStore:
        """Open a project. ``"r"`` never blocks; ``"w"`` takes the write lock and migrates.

        Either mode first completes a save that a killed writer left half-committed; a
        reader that finds one being committed by a live writer waits for it (at most
        :data:`.locking.READER_WAIT_S`).

        Raises:
            ProjectLockedError: ``"w"`` while another process writes the project.
            ProjectFormatError: a malformed or too old / too new project.
        """
        from annotator.store.migrations import migrate
        from triangulation.io import load_rigs

        if mode not in ("r", "w"):
            raise ValueError(f"mode must be 'r' or 'w', got {mode!r}")
        path = Path(path)
        if not (path / PROJECT_NAME).is_file():
            raise ProjectFormatError(f"{path}: not a project (no {PROJECT_NAME})")
        lock = None
        if mode == "w":
            lock = ProjectLock(path)
            lock.acquire()
        try:
            finish_pending_commit(path, lock)
            pf = read_project_file(path)
            if mode == "w":
                for name in (
                    FRAMES_NAME,
                    LABELS_NAME,
                    GROUND_TRUTH_NAME,
                    PROPAGATED_NAME,
                    PROJECT_NAME,
                    CAMERAS_NAME,
                    CALIBRATIONS_NAME,
                    COMMIT_NAME,
                ):
                    remove_stale_temps(path, name)
                if pf.schema_version != SCHEMA_VERSION:
                    migrate(path)
                    pf = read_project_file(path)
            elif pf.schema_version < SCHEMA_VERSION:
                raise ProjectFormatError(
                    f"{path / PROJECT_NAME}: project schema {pf.schema_version} is older than "
                    f"{SCHEMA_VERSION}; open it for writing once to upgrade it "
                    f"(ProjectStore.open(path, mode='w'))"
                )
            elif pf.schema_version > SCHEMA_VERSION:
                raise ProjectFormatError(
                    f"{path / PROJECT_NAME}: project schema {pf.schema_version} is newer than "
                    f"this toolkit understands ({SCHEMA_VERSION}); upgrade the toolkit"
                )
            try:
                rigs = load_rigs(path / CAMERAS_NAME)
            except FileNotFoundError:
                raise ProjectFormatError(f"{path}: missing {CAMERAS_NAME}") from None
            except ValueError as exc:
                raise ProjectFormatError(str(exc)) from None
            store = cls(path, pf, rigs, mode, lock)
            store._frames.h5  # noqa: B018 - fail now on a broken index, not later
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return store

    def close(self, save: bool = True) -> None:
        """Save pending edits (unless ``save=False``), close files, release the lock."""
        if self._closed:
            return
        try:
            if self.writable and save:
                self.save()
        finally:
            self._frames.close()
            self._gt.close()
            if self._lock is not None:
                self._lock.release()
            self._closed = True

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # Save on a clean exit; on an exception drop pending edits (the files keep the
        # last saved state).
        self.close(save=exc_type is None)

    def __del__(self) -> None:  # pragma: no cover - safety net for a forgotten close
        with contextlib.suppress(Exception):
            if not self._closed:
                self._frames.close()
                self._gt.close()
                if self._lock is not None:
                    self._lock.release()

    def __repr__(self) -> str:
        return (
            f"ProjectStore({str(self.path)!r}, mode={self._mode!r}, "
            f"{len(self._camera_names)} cameras)"
        )

    # -- basic properties ------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._pf.name

    @property
    def schema_version(self) -> int:
        return self._pf.schema_version

    @property
    def writable(self) -> bool:
        return self._mode == "w" and not self._closed

    def _need_write(self) -> None:
        if self._closed:
            raise ProjectReadOnlyError(f"{self.path}: this project store is closed")
        if not self.writable:
            raise ProjectReadOnlyError(f"{self.path}: project is open read-only (mode='r')")

    # -- status ----------------------------------------------------------------------------
    def status(self) -> ProjectStatus:
        return ProjectStatus(
            instants=self.num_instants,
            cameras=len(self._camera_names),
            images=self._frames.num_images,
            human_labelled=int(self._labels.instants_with_joints("human").size),
            machine_labelled=int(self._labels.instants_with_joints("machine").size),
            flagged=int(self._labels.flagged_instants().size),
            imported_labelled=int(self.labelled_instants("imported").size),
        )
