"""The project's single-writer lock: ``fcntl.flock`` on ``.lock`` plus owner information.

The kernel releases a flock when its holder dies, so a crashed writer never blocks the
project. The owner line (user, host, pid, time) in the file is for the error message and for
spotting a stale lock from a dead process on this host, which is taken over with a warning.
Readers touch the lock only to complete a save that a killed writer left pending
(:func:`finish_pending_commit`): they take it for that moment when it is free.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import getpass
import json
import logging
import os
import socket
import time
from pathlib import Path

from annotator.store.atomic import COMMIT_NAME, pending_commit, recover_commit
from annotator.store.errors import ProjectFormatError, ProjectLockedError
from annotator.store.layout import LOCK_NAME

__all__ = ["ProjectLock", "LOCK_NAME", "finish_pending_commit", "READER_WAIT_S"]

logger = logging.getLogger(__name__)



def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no user database entry
        return str(os.getuid())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, belongs to someone else
        return True
    return True


def _describe(owner: dict) -> str:
    since = owner.get("since")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if since else "unknown time"
    who = f"{owner.get('user', '?')}@{owner.get('host', '?')}"
    return f"{who} pid {owner.get('pid', '?')} since {when}"


class ProjectLock:
    """Exclusive write lock of one project folder (released on :meth:`release` or death)."""

    def __init__(self, project_dir: Path):
        self.path = Path(project_dir) / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _read_owner(self, fd: int) -> dict:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 4096)
        try:
            owner = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            owner = {}
        return owner if isinstance(owner, dict) else {}

    def acquire(self) -> None:
        """Take the lock or raise :class:`ProjectLockedError` naming the current owner."""
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o664)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                owner = self._read_owner(fd)
                raise ProjectLockedError(
                    f"{self.path.parent}: project is open for writing by {_describe(owner)}"
                ) from None
            owner = self._read_owner(fd)
            host = socket.gethostname()
            if owner.get("pid") is not None:
                pid = int(owner["pid"])
                if owner.get("host") == host and pid != os.getpid() and _pid_alive(pid):
                    # flock is free yet the recorded owner lives: a filesystem without
                    # working flock. Refuse rather than clobber.
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    raise ProjectLockedError(
                        f"{self.path.parent}: project is open for writing by {_describe(owner)}"
                    )
                logger.warning(
                    "%s: taking over a stale lock left by %s (process gone)",
                    self.path.parent,
                    _describe(owner),
                )
            info = {"user": _user(), "host": host, "pid": os.getpid(), "since": time.time()}
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, json.dumps(info).encode("utf-8"))
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        """Clear the owner line and drop the lock (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __del__(self) -> None:  # pragma: no cover - safety net
        with contextlib.suppress(Exception):
            self.release()


#: Longest time (s) a reader waits for a live writer to finish a pending commit.
READER_WAIT_S = 10.0


def finish_pending_commit(path: Path, lock: ProjectLock | None) -> None:
    """Roll forward a commit a killed writer left pending (:mod:`annotator.store.atomic`).

    ``lock``: the caller's held write lock, or None for a reader, which takes the lock for
    the moment of the roll-forward when it is free and otherwise waits for its holder.
    """
    if lock is not None:
        recover_commit(path)
        return
    deadline = time.monotonic() + READER_WAIT_S
    while pending_commit(path):
        probe = ProjectLock(path)
        try:
            probe.acquire()
        except ProjectLockedError as exc:
            if time.monotonic() > deadline:
                raise ProjectLockedError(
                    f"{exc}; a save is still being committed ({COMMIT_NAME}), try again"
                ) from None
            time.sleep(0.01)
            continue
        except OSError as exc:
            raise ProjectFormatError(
                f"{path / COMMIT_NAME}: a save was interrupted; open the project for writing "
                f"to complete it (cannot take the lock here: {exc})"
            ) from None
        try:
            recover_commit(path)
        finally:
            probe.release()
