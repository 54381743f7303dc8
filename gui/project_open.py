"""Opening a project for the app: the lock dialog and the embedded default project.

:func:`open_for_app` opens a project for writing; when another process holds the write
lock it passes the store's "open for writing by ..." message to ``ask_read_only`` (a dialog
in the app, a plain function in tests) and opens read-only if that returns True.
:func:`default_project` generates the embedded synthetic studio project once into the
user's cache folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["open_for_app", "default_project_dir", "default_project", "ask_read_only_dialog"]

log = logging.getLogger(__name__)

#: The embedded default: small enough to generate in well under a minute on 2 cores.
DEFAULT_CAMERAS = 24
DEFAULT_INSTANTS = 20
DEFAULT_SUBJECTS = 2


def open_for_app(path, read_only: bool = False,
                 ask_read_only: Callable[[str], bool] | None = None):
    """Open ``path``: ``(store, read_only)``.

    Args:
        read_only: open read-only without trying for the write lock.
        ask_read_only: called with the lock message when the project is open for writing
            elsewhere; True opens it read-only, False (or None as the callable) re-raises
            the ``ProjectLockedError``.
    """
    from annotator.store import ProjectLockedError, ProjectStore

    if read_only:
        return ProjectStore.open(path, mode="r"), True
    try:
        return ProjectStore.open(path, mode="w"), False
    except ProjectLockedError as exc:
        if ask_read_only is None or not ask_read_only(str(exc)):
            raise
        log.info("opening %s read-only: %s", path, exc)
        return ProjectStore.open(path, mode="r"), True


def ask_read_only_dialog(message: str) -> bool:
    """The app's dialog: shows the lock message, offers to open the project read-only."""
    from PyQt5.QtWidgets import QMessageBox

    box = QMessageBox()
    box.setIcon(QMessageBox.Warning)
    box.setWindowTitle("Project in use")
    box.setText(message)
    box.setInformativeText("You can browse it read-only; nothing you do will be saved.")
    ro = box.addButton("Open read-only", QMessageBox.AcceptRole)
    box.addButton(QMessageBox.Cancel)
    box.setDefaultButton(ro)
    box.exec_()
    return box.clickedButton() is ro


def default_project_dir() -> Path:
    """``$XDG_CACHE_HOME/interhand-annotator/default`` (``~/.cache/...`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "interhand-annotator" / "default"


def default_project(progress: Callable[[int, int], None] | None = None,
                    folder: Path | None = None, cameras: int = DEFAULT_CAMERAS,
                    instants: int = DEFAULT_INSTANTS, subjects: int = DEFAULT_SUBJECTS) -> Path:
    """The embedded default project: a synthetic studio capture, generated if absent.

    Generation is atomic (the writer builds it in a hidden sibling folder), so an
    interrupted first start leaves nothing half-made and the next start generates again.
    """
    from annotator.synth.studio import StudioConfig
    from annotator.synth.writer import write_capture

    folder = Path(folder) if folder is not None else default_project_dir()
    from annotator.store.layout import is_project

    if is_project(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    config = StudioConfig(cameras=cameras, instants=instants, subjects=subjects, seed=0)
    write_capture(folder, config, workers=min(2, os.cpu_count() or 1), progress=progress)
    return folder
