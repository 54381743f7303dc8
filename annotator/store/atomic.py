"""Crash-safe file replacement: write a sibling temporary file, fsync it, ``os.replace``.

POSIX ``rename`` within one directory is atomic, so after a kill -9 at any moment the
target path holds either the complete old file or the complete new one. The directory is
fsynced after the rename so the new entry itself survives a power loss.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "temp_sibling",
    "fsync_path",
    "fsync_dir",
    "commit_replace",
    "atomic_write_bytes",
    "atomic_file",
    "remove_stale_temps",
]

_TMP_TAG = ".tmp-"


def temp_sibling(path: Path) -> Path:
    """A fresh temporary path in the same directory as ``path`` (same filesystem)."""
    path = Path(path)
    return path.with_name(f".{path.name}{_TMP_TAG}{os.getpid()}-{os.urandom(4).hex()}")


def fsync_path(path: Path) -> None:
    """fsync an existing file's contents to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    """fsync a directory so renames inside it are durable (no-op where unsupported)."""
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
    """fsync ``tmp``, atomically move it onto ``target``, fsync the directory."""
    fsync_path(tmp)
    os.replace(tmp, target)
    fsync_dir(Path(target).parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically."""
    path = Path(path)
    tmp = temp_sibling(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
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


def remove_stale_temps(directory: Path, name: str) -> int:
    """Delete temporaries of ``name`` left in ``directory`` by killed writers; returns count.

    Only call this while holding the project's write lock.
    """
    count = 0
    for p in Path(directory).glob(f".{name}{_TMP_TAG}*"):
        with contextlib.suppress(OSError):
            p.unlink()
            count += 1
    return count
