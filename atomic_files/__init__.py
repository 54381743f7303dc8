"""Crash-safe file replacement, the one implementation the toolkit uses: write a sibling
temporary file, fsync it, ``os.replace`` it onto the target, fsync the folder.

POSIX ``rename`` within one folder is atomic, so after a kill -9 at any moment the target
holds the complete old file or the complete new one; the folder fsync makes the rename
itself survive a power loss. A package of its own below every other (standard library
only), because both ``triangulation.io`` (``cameras.toml``) and ``annotator.store`` (every
project file, plus the multi-file commit journal built on these pieces in
``annotator.store.atomic``) write files, and neither the geometry package nor the store is
the other's home for it.

Temporaries are named ``.NAME.tmp-PID-RANDOM`` beside ``NAME``, which is how a project
opener recognises (and removes) the ones a killed writer left behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "TMP_TAG",
    "temp_sibling",
    "fsync_path",
    "fsync_dir",
    "commit_replace",
    "stage_bytes",
    "atomic_write_bytes",
    "atomic_file",
]

#: Marks a temporary sibling: ``.NAME`` + TMP_TAG + ``PID-RANDOM``.
TMP_TAG = ".tmp-"


def temp_sibling(path: Path) -> Path:
    """A fresh temporary path in the same folder as ``path`` (same file system)."""
    path = Path(path)
    return path.with_name(f".{path.name}{TMP_TAG}{os.getpid()}-{os.urandom(4).hex()}")


def fsync_path(path: Path) -> None:
    """fsync an existing file's contents to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    """fsync a folder so renames inside it are durable (no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def commit_replace(tmp: Path, target: Path) -> None:
    """fsync ``tmp``, atomically move it onto ``target``, fsync the folder."""
    fsync_path(tmp)
    os.replace(tmp, target)
    fsync_dir(Path(target).parent)


def stage_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to a fresh fsynced temporary sibling of ``path``; returns its path.

    ``path`` itself is untouched (move the temporary in place with ``os.replace``).
    """
    path = Path(path)
    tmp = temp_sibling(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically."""
    path = Path(path)
    tmp = stage_bytes(path, data)
    try:
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    tmp = temp_sibling(path)
    try:
        yield tmp
        commit_replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
