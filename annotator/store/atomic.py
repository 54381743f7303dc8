"""Crash-safe file replacement: write a sibling temporary file, fsync it, ``os.replace``.

POSIX ``rename`` within one directory is atomic, so after a kill -9 at any moment the
target path holds either the complete old file or the complete new one. The directory is
fsynced after the rename so the new entry itself survives a power loss.

Several files replaced together (one ``ProjectStore.save()``) use a roll-forward journal,
:func:`commit_files`:

1. every new file is already complete and fsynced in its temporary sibling;
2. the journal ``.commit.json`` listing the ``temp -> target`` renames is written
   atomically (temp, fsync, ``os.replace``, fsync of the directory): from this moment the
   commit has happened;
3. the renames run, the directory is fsynced, the journal is deleted (and the directory
   fsynced again).

A kill before step 2 completes leaves only temporaries (the old state); a kill after it
leaves a journal that :func:`recover_commit` rolls forward: it performs the renames whose
temporary still exists (the others were done), so the folder holds exactly the new state.
Only the holder of the project's write lock may call :func:`recover_commit`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

# The single-file pieces are shared with triangulation.io (cameras.toml): one implementation.
# The commit's own folder fsyncs go through the module (``_aw.fsync_dir``) so that they and
# atomic_write_bytes' are one function, which the crash tests replace to "kill" a save.
import atomic_files as _aw
from annotator.store.errors import ProjectFormatError
from atomic_files import (
    TMP_TAG,
    atomic_file,
    atomic_write_bytes,
    commit_replace,
    fsync_dir,
    fsync_path,
    stage_bytes,
    temp_sibling,
)

__all__ = [
    "temp_sibling",
    "fsync_path",
    "fsync_dir",
    "commit_replace",
    "atomic_write_bytes",
    "atomic_file",
    "remove_stale_temps",
    "stage_bytes",
    "commit_files",
    "recover_commit",
    "pending_commit",
    "COMMIT_NAME",
]

logger = logging.getLogger(__name__)

_TMP_TAG = TMP_TAG
#: The roll-forward journal of a multi-file commit (see the module docstring).
COMMIT_NAME = ".commit.json"
_JOURNAL_VERSION = 1


def _check_name(journal: Path, name: object, what: str) -> str:
    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..", COMMIT_NAME)
        or "/" in name
        or "\\" in name
        or "\0" in name
    ):
        raise ProjectFormatError(f"{journal}: {what} {name!r} is not a file name in the project")
    return name


def _read_journal(directory: Path) -> list[tuple[str, str]] | None:
    """The (temp name, target name) renames of a pending commit; None when there is none."""
    journal = Path(directory) / COMMIT_NAME
    try:
        raw = journal.read_bytes()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProjectFormatError(f"{journal}: malformed commit journal ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != _JOURNAL_VERSION:
        raise ProjectFormatError(
            f"{journal}: not a version-{_JOURNAL_VERSION} commit journal of this toolkit"
        )
    renames = data.get("renames")
    if not isinstance(renames, list) or not renames:
        raise ProjectFormatError(f"{journal}: 'renames' must be a non-empty list")
    out: list[tuple[str, str]] = []
    for entry in renames:
        if not isinstance(entry, dict) or set(entry) != {"temp", "target"}:
            raise ProjectFormatError(f"{journal}: each rename must be {{temp, target}}")
        target = _check_name(journal, entry["target"], "target")
        temp = _check_name(journal, entry["temp"], "temporary")
        if not temp.startswith(f".{target}{_TMP_TAG}"):
            raise ProjectFormatError(
                f"{journal}: {temp!r} is not a temporary of {target!r}"
            )
        out.append((temp, target))
    targets = [t for _, t in out]
    if len(set(targets)) != len(targets):
        raise ProjectFormatError(f"{journal}: a target is renamed onto twice")
    return out


def _roll_forward(directory: Path, renames: Sequence[tuple[str, str]]) -> None:
    """Perform the journaled renames still to do, then delete the journal."""
    directory = Path(directory)
    journal = directory / COMMIT_NAME
    for temp, target in renames:
        try:
            os.replace(directory / temp, directory / target)
        except FileNotFoundError:
            # Renamed before the interruption; the target must then hold the new file.
            if not (directory / target).exists():
                raise ProjectFormatError(
                    f"{journal}: neither {temp!r} nor its target {target!r} exists"
                ) from None
    _aw.fsync_dir(directory)
    journal.unlink()
    _aw.fsync_dir(directory)


def commit_files(directory: Path, renames: Sequence[tuple[Path, Path]]) -> None:
    """Move several fsynced temporaries onto their targets as one atomic commit.

    Args:
        directory: the folder holding every temporary and target.
        renames: (temporary, target) pairs; each temporary is complete and fsynced
            (from :func:`stage_bytes` or :func:`temp_sibling` + :func:`fsync_path`).

    A single pair is one ``os.replace``; several go through the journal (module
    docstring). If this raises after the journal was written, the commit is pending:
    :func:`recover_commit` (run by the next writer) completes it.
    """
    directory = Path(directory)
    names: list[tuple[str, str]] = []
    for tmp, target in renames:
        tmp, target = Path(tmp), Path(target)
        if tmp.parent != directory or target.parent != directory:
            raise ValueError(f"commit_files: {tmp} and {target} must both lie in {directory}")
        names.append((tmp.name, target.name))
    if not names:
        return
    if len(names) == 1:
        os.replace(directory / names[0][0], directory / names[0][1])
        _aw.fsync_dir(directory)
        return
    if (directory / COMMIT_NAME).exists():
        raise ProjectFormatError(
            f"{directory / COMMIT_NAME}: an earlier commit is still pending; reopen the project"
        )
    body = {
        "version": _JOURNAL_VERSION,
        "pid": os.getpid(),
        "renames": [{"temp": t, "target": g} for t, g in names],
    }
    atomic_write_bytes(directory / COMMIT_NAME, json.dumps(body, indent=1).encode("utf-8"))
    _roll_forward(directory, names)


def pending_commit(directory: Path) -> bool:
    """Whether ``directory`` holds the journal of an interrupted multi-file commit."""
    return (Path(directory) / COMMIT_NAME).exists()


def recover_commit(directory: Path) -> bool:
    """Roll an interrupted commit forward; returns whether there was one.

    Only call this while holding the project's write lock.

    Raises:
        ProjectFormatError: the journal is not one this module wrote, or names a rename
            whose temporary and target are both missing.
    """
    renames = _read_journal(directory)
    if renames is None:
        return False
    logger.warning(
        "%s: completing a save interrupted by a crash (%s)",
        directory,
        ", ".join(target for _, target in renames),
    )
    _roll_forward(directory, renames)
    return True


def remove_stale_temps(directory: Path, name: str) -> int:
    """Delete temporaries of ``name`` left in ``directory`` by killed writers; returns count.

    Temporaries named by a pending commit journal are kept (they are the new state); with
    an unreadable journal nothing is deleted. Only call this while holding the project's
    write lock.
    """
    try:
        keep = {t for t, _ in _read_journal(directory) or ()}
    except ProjectFormatError as exc:
        logger.warning("%s: keeping temporary files (%s)", directory, exc)
        return 0
    count = 0
    for p in Path(directory).glob(f".{name}{_TMP_TAG}*"):
        if p.name in keep:
            continue
        with contextlib.suppress(OSError):
            p.unlink()
            count += 1
    return count
