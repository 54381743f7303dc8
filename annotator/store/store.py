"""The :class:`ProjectStore` facade: the only code that reads or writes a project folder.

See ``docs/store_api.md`` for the contract and DESIGN.md ("The project on disk") for the
layout. Files: ``project.toml`` (:mod:`.project_file`), ``cameras.toml``
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
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from annotator import skeleton
from annotator.store.atomic import (
    COMMIT_NAME,
    atomic_file,
    commit_files,
    pending_commit,
    remove_stale_temps,
    stage_bytes,
)
from annotator.store.errors import ProjectFormatError, ProjectReadOnlyError
from annotator.store.frames import FRAMES_NAME, EncodedPaths, FramesIndex
from annotator.store.ground_truth import GROUND_TRUTH_NAME, GroundTruthStore
from annotator.store.labels import LABELS_NAME, LabelStore
from annotator.store.locking import ProjectLock, finish_pending_commit
from annotator.store.project_file import (
    PROJECT_NAME,
    SCHEMA_VERSION,
    ProjectFile,
    encode_project_file,
    read_project_file,
    write_project_file,
)
from annotator.store.propagate import PROPAGATED_NAME
from annotator.store.records import (
    Instant,
    InstantTable,
    ProjectStatus,
)
from annotator.store.store_derived import DerivedDataMixin
from annotator.store.store_labels import LabelsMixin
from triangulation.camera import CameraRig

__all__ = ["ProjectStore", "CAMERAS_NAME"]

logger = logging.getLogger(__name__)

CAMERAS_NAME = "cameras.toml"
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


class ProjectStore(LabelsMixin, DerivedDataMixin):
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
        return self._subdir("machine")

    @property
    def models_dir(self) -> Path:
        return self._subdir("models")

    @property
    def exports_dir(self) -> Path:
        return self._subdir("exports")

    def _subdir(self, name: str) -> Path:
        d = self.path / name
        with contextlib.suppress(OSError):
            d.mkdir(exist_ok=True)
        return d

    # -- instants --------------------------------------------------------------------------
    @property
    def num_instants(self) -> int:
        return self._frames.num_instants

    def _check_instant(self, i) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise ProjectFormatError(f"instant index must be an integer, got {i!r}")
        n = self.num_instants
        if not 0 <= int(i) < n:
            raise IndexError(f"{self.path}: instant index {i} out of range (project has {n})")
        return int(i)

    def instants(self) -> InstantTable:
        cols = self._frames.columns()
        seqs = np.asarray(self._frames.sequence_names(), dtype=object)
        caps = np.asarray(self._captures, dtype=object)
        return InstantTable(
            instant_id=cols["instant_id"],
            capture=caps[cols["capture"]].astype(str) if len(cols["capture"]) else np.empty(0, str),
            sequence=seqs[cols["sequence"]].astype(str)
            if len(cols["sequence"])
            else np.empty(0, str),
            frame=cols["frame"],
        )

    def instant(self, i: int) -> Instant:
        i = self._check_instant(i)
        iid, cap, seq, frame = self._frames.row(i)
        return Instant(i, iid, self._captures[cap], self._frames.sequence_names()[seq], frame)

    def find_instant(self, capture: str, sequence: str, frame: int) -> int:
        if self._lookup is None:
            t = self.instants()
            self._lookup = {
                (c, s, int(f)): k
                for k, (c, s, f) in enumerate(
                    zip(t.capture.tolist(), t.sequence.tolist(), t.frame.tolist(), strict=True)
                )
            }
        try:
            return self._lookup[(str(capture), str(sequence), int(frame))]
        except KeyError:
            raise KeyError(f"no instant ({capture!r}, {sequence!r}, frame {frame})") from None

    def image_paths(self, i: int) -> list[Path | None]:
        """The C image paths of instant ``i`` (None where that camera has no image)."""
        i = self._check_instant(i)
        root = self.image_root
        return [None if p is None else root / p for p in self._frames.paths(i)]

    def image_paths_encoded(self) -> EncodedPaths:
        """All image paths (relative to ``image_root``) as (F, C) template/number arrays:
        12 bytes per image instead of a string (see :class:`.frames.EncodedPaths`)."""
        return self._frames.encoded_paths()

    def image_path(self, i: int, camera: str | int) -> Path | None:
        return self.image_paths(i)[self.camera_index(camera)]

    def add_instants(
        self,
        capture: Sequence[str],
        sequence: Sequence[str],
        frame: Sequence[int],
        image_paths,
        instant_id: Sequence[int] | None = None,
    ) -> np.ndarray:
        """Append instants; returns their indices (F',).

        Args:
            capture, sequence, frame: (F',) per new instant; capture must be a project capture.
            image_paths: (F', C) str, relative to ``image_root``; "" where no image; or
                :class:`~annotator.store.frames.EncodedPaths` of shape (F', C).
            instant_id: (F',) int64 ids (default: continue after the largest id).
        """
        self._need_write()
        caps = [str(c) for c in capture]
        seqs = [str(s) for s in sequence]
        frames = np.asarray(frame)
        n = len(caps)
        C = len(self._camera_names)
        if len(seqs) != n or frames.shape != (n,):
            raise ProjectFormatError(
                f"add_instants: capture, sequence and frame lengths differ ({n}, {len(seqs)}, "
                f"{frames.shape})"
            )
        if frames.size and (frames.dtype.kind not in "iu"):
            raise ProjectFormatError("add_instants: frame numbers must be integers")
        encoded = isinstance(image_paths, EncodedPaths)
        paths = image_paths.template if encoded else np.asarray(image_paths, dtype=object)
        if paths.shape != (n, C) or (encoded and image_paths.number.shape != (n, C)):
            raise ProjectFormatError(
                f"add_instants: image_paths must be ({n}, {C}), got {paths.shape}"
            )
        cap_pos = {c: k for k, c in enumerate(self._captures)}
        unknown = sorted(set(caps) - set(cap_pos))
        if unknown:
            raise ProjectFormatError(
                f"add_instants: captures {unknown} have no calibration in "
                f"{self.path / CAMERAS_NAME}"
            )
        cap_idx = np.array([cap_pos[c] for c in caps], np.int16)
        if encoded:
            flat = image_paths
            has = image_paths.template >= 0
        else:
            flat = ["" if p is None else str(p) for p in paths.ravel().tolist()]
            has = np.array([bool(p) for p in flat], bool).reshape(n, C)
        masks = np.stack([self.camera_mask(c) for c in self._captures])
        bad = has & ~masks[cap_idx] if n else np.zeros((0, C), bool)
        if bad.any():
            f_bad, c_bad = np.argwhere(bad)[0]
            raise ProjectFormatError(
                f"add_instants: instant {f_bad} has an image for camera "
                f"{self._camera_names[c_bad]!r}, which capture {caps[f_bad]!r} lacks"
            )
        existing = self.instants()
        keys = set(
            zip(
                existing.capture.tolist(),
                existing.sequence.tolist(),
                existing.frame.tolist(),
                strict=True,
            )
        )
        new_keys = list(zip(caps, seqs, frames.tolist(), strict=True))
        dup = [k for k in new_keys if k in keys]
        if dup or len(set(new_keys)) != n:
            raise ProjectFormatError(f"add_instants: duplicate instant {(dup or new_keys)[0]}")
        if instant_id is None:
            start = int(existing.instant_id.max()) + 1 if len(existing) else 0
            ids = np.arange(start, start + n, dtype=np.int64)
        else:
            ids = np.asarray(instant_id, dtype=np.int64)
            if ids.shape != (n,):
                raise ProjectFormatError(f"add_instants: instant_id must be ({n},)")
        lo, hi = self._frames.append(ids, cap_idx, seqs, frames.astype(np.int64), flat)
        self._lookup = None
        return np.arange(lo, hi)

    def _check_attr(self, values, extra: tuple[int, ...], what: str) -> np.ndarray:
        arr = np.asarray(values)
        want = (self.num_instants, *extra)
        if arr.shape[: len(want)] != want:
            raise ProjectFormatError(
                f"{what}: values must have shape {want} + (...), got {arr.shape}"
            )
        return arr

    def set_image_attr(self, name: str, values) -> None:
        """Store a per-(instant, camera) array (F, C, ...) in frames.h5 (e.g. bbox, image_id)."""
        self._need_write()
        arr = self._check_attr(values, (len(self._camera_names),), f"set_image_attr({name!r})")
        self._frames.write_attr("image_attrs", name, arr)

    def image_attr(self, name: str, i: int | None = None) -> np.ndarray:
        return self._frames.read_attr(
            "image_attrs", name, None if i is None else self._check_instant(i)
        )

    def set_instant_attr(self, name: str, values) -> None:
        """Store a per-instant array (F, ...) in frames.h5 (e.g. subject)."""
        self._need_write()
        arr = self._check_attr(values, (), f"set_instant_attr({name!r})")
        self._frames.write_attr("instant_attrs", name, arr)

    def instant_attr(self, name: str, i: int | None = None) -> np.ndarray:
        return self._frames.read_attr(
            "instant_attrs", name, None if i is None else self._check_instant(i)
        )

    def image_attr_names(self) -> list[str]:
        return self._frames.attr_names("image_attrs")

    def instant_attr_names(self) -> list[str]:
        return self._frames.attr_names("instant_attrs")

    # -- saving ----------------------------------------------------------------------------
    def save(self) -> None:
        """Write pending edits to ``frames.h5``, ``labels.h5`` and ``project.toml`` at once.

        Each changed file is first written complete and fsynced beside its target, then all
        are moved into place as one journaled commit (:func:`.atomic.commit_files`): a kill
        at any moment leaves the state before or after this save. project.toml is encoded
        first, so settings or metadata TOML cannot hold fail the call before any file
        changes; a failure while staging changes nothing and keeps the edits pending.
        """
        self._need_write()
        pf = data = None
        if self.metadata != self._pf.metadata or self.settings != self._pf.settings:
            pf = self._pf.replace(metadata=dict(self.metadata), settings=dict(self.settings))
            data = encode_project_file(self.path, pf)
        staged: list[tuple[Path, Path]] = []
        merged = None
        try:
            frames_tmp = self._frames.stage()
            if frames_tmp is not None:
                staged.append((frames_tmp, self._frames.path))
            labels = self._labels.stage()
            if labels is not None:
                staged.append((labels[0], self._labels.path))
                merged = labels[1]
            if pf is not None:
                target = self.path / PROJECT_NAME
                staged.append((stage_bytes(target, data), target))
            commit_files(self.path, staged)
        except BaseException:
            if pending_commit(self.path):
                self._abandon_after_failed_commit()
            else:
                self._unstage(staged)
            raise
        if frames_tmp is not None:
            self._frames.committed()
        if merged is not None:
            self._labels.committed(merged)
        if pf is not None:
            self._pf = pf

    def _unstage(self, staged: list[tuple[Path, Path]]) -> None:
        """Undo a save that failed before its commit: drop temporaries, keep edits."""
        for tmp, target in staged:
            if target != self._frames.path:
                with contextlib.suppress(OSError):
                    tmp.unlink()
        self._frames.unstage()

    def _abandon_after_failed_commit(self) -> None:
        """A save failed between its journal and its end: close, leave the journal.

        The in-memory state no longer matches a known file state, so the store closes
        (releasing the lock) without touching the journaled temporaries; the next
        ``open()`` rolls the commit forward.
        """
        logger.error(
            "%s: save interrupted during its commit; the store is closed, reopen the "
            "project to complete the save",
            self.path,
        )
        self._frames.forget_working()
        self._labels.discard()
        self._gt.close()
        if self._lock is not None:
            self._lock.release()
        self._closed = True

    def discard_changes(self) -> None:
        """Forget every unsaved edit: new instants and attrs, labels, metadata, settings."""
        self._need_write()
        self._frames.discard()
        self._labels.discard()
        self._lookup = None
        self.metadata = dict(self._pf.metadata)
        self.settings = dict(self._pf.settings)

    @property
    def dirty(self) -> bool:
        """Whether there are unsaved edits."""
        return (
            self._frames.dirty
            or self._labels.dirty
            or self.metadata != self._pf.metadata
            or self.settings != self._pf.settings
        )

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
