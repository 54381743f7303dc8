"""Saving and discarding the pending edits of :class:`~annotator.store.ProjectStore`:
one journaled commit of ``frames.h5``, ``labels.h5``, ``project.toml`` and, after
``set_calibration``, ``cameras.toml`` and ``calibrations.json`` (:func:`.atomic.commit_files`).

A mixin, kept apart from ``store.py`` to keep each module readable; it relies on the
store's ``path``, ``_pf``, ``_frames``, ``_labels``, ``_gt``, ``_lock``, ``metadata``,
``settings``, ``_lookup`` and ``_need_write``.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from annotator.store.atomic import commit_files, pending_commit, stage_bytes
from annotator.store.layout import PROJECT_NAME
from annotator.store.project_file import encode_project_file

__all__ = ["SavingMixin"]

logger = logging.getLogger("annotator.store.store")


class SavingMixin:
    """save(), discard_changes(), dirty."""

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
            calibration, _ = self._stage_calibration()
            staged.extend(calibration)
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
        self._calibration_committed()

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
        self._discard_calibration()
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
            or self._calibration_dirty
        )
