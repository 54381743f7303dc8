"""Build a new project in a hidden sibling folder, then move it into place in one rename.

``annotator init`` writes thousands of index rows and probes every video before a project
is complete. Built in place, a ``kill -9`` half-way left a folder that looked like a
project. Here the project is built in ``.<name>.init-<pid>`` next to it and renamed to its
name only when complete, so the name holds either nothing, the old project (``--overwrite``)
or the complete new one. A later ``init`` removes what a killed one left, and says so.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from annotator.store.errors import ProjectFormatError
from annotator.store.layout import PROJECT_NAME

__all__ = ["staged_project", "stale_staging_dirs"]

_MARK = ".init-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_staging_dirs(project: Path) -> list[Path]:
    """Folders an interrupted ``init`` of ``project`` left (their process is gone)."""
    project = Path(project)
    prefix = f".{project.name}{_MARK}"
    parent = project.parent if str(project.parent) else Path(".")
    if not parent.is_dir():
        return []
    out = []
    for entry in parent.iterdir():
        if not entry.name.startswith(prefix) or not entry.is_dir():
            continue
        tail = entry.name[len(prefix):]
        pid = tail.split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            out.append(entry)
    return out


@contextlib.contextmanager
def staged_project(project: Path, overwrite: bool) -> Iterator[Path]:
    """Yield the folder to build ``project`` in; on success it becomes ``project``.

    A ``project`` that already holds a project needs ``overwrite`` (checked before any
    work); a non-empty folder that is not a project is refused (nothing of it is touched).
    On an exception the half-built folder is removed and ``project`` is as it was.
    """
    project = Path(project)
    for stale in stale_staging_dirs(project):
        print(f"note: removed {stale}, a half-made project left by an interrupted init")
        shutil.rmtree(stale, ignore_errors=True)
    exists = project.exists()
    if exists and not project.is_dir():
        raise ProjectFormatError(f"{project}: exists and is not a folder")
    is_project = exists and (project / PROJECT_NAME).exists()
    if is_project and not overwrite:
        raise ProjectFormatError(
            f"{project}: already holds a project (overwrite=True; --overwrite in the CLI)"
        )
    if exists and not is_project and any(project.iterdir()):
        raise ProjectFormatError(
            f"{project}: is a folder with files that is not a project; choose an empty or "
            "new folder"
        )
    project.parent.mkdir(parents=True, exist_ok=True)
    work = project.parent / f".{project.name}{_MARK}{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        yield work
        if exists:
            old = project.parent / f".{project.name}{_MARK}{os.getpid()}.old"
            os.replace(project, old)
            os.replace(work, project)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, project)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
