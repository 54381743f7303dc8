"""What every command module uses, in one public place: the user-facing error, argument
types, checks of the paths a command will write, and the progress bar (stdlib only at import:
``--help`` stays light; tqdm is imported when a bar starts).

A command is a module with ``register(subparsers) -> ArgumentParser`` (adds its parser,
importing nothing heavy) and ``run(args) -> int``, declared as an entry point of the group
``annotator.commands`` in its package's ``pyproject.toml`` (``annotator.cli.main`` finds
them; see ``docs/cli_errors.md``).

Errors: raise :class:`CliError` (or ValueError / OSError) for anything the user can fix;
``annotator`` prints it as one line naming the command and exits 2.

Output paths: a command that computes for minutes and then cannot write its result has
wasted the minutes, and the OS error it would raise names a temporary file
(``.out.json.tmp-…``) or says ``[Errno 21]``. :func:`check_output_file`,
:func:`check_output_folder` and :func:`check_writable_folder` run first and raise CliError
with one line naming the argument: ``--json DIR: is a folder, not a file``. They judge the
path as it is now (a folder made read-only later still fails at the end, with the OS error).
Writability is ``os.access``, which for root ignores permission bits: root is refused only by
a read-only file system, as it would be by the write itself.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

__all__ = [
    "CliError",
    "int_at_least",
    "positive_int",
    "check_output_file",
    "check_output_folder",
    "check_writable_folder",
    "tqdm_progress",
]


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


# --- argument types: a bad value raises argparse.ArgumentTypeError, which argparse prints as
# one line naming the option, and exits 2.
def int_at_least(minimum: int, what: str = "an integer") -> Callable[[str], int]:
    """A converter accepting integers ``>= minimum``; ``what`` names the value in errors."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what} >= {minimum}, got {value}")
        return value

    convert.__name__ = f"int_at_least_{minimum}"  # argparse names the type in some errors
    return convert


#: Integers >= 1 (counts: cameras, instants, steps).
positive_int = int_at_least(1)


# --- output paths (module docstring)
def _error(label: str, path: str | Path, problem: str) -> CliError:
    return CliError(f"{label} {path}: {problem}")


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists (``.`` at worst, for a relative path)."""
    path = Path(os.path.abspath(path))
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def _check_creatable(folder: Path, label: str, shown: str | Path) -> None:
    """``folder`` exists as a writable folder, or can be made (its nearest existing
    ancestor is a writable folder)."""
    anc = _nearest_existing(folder)
    if not anc.is_dir():
        raise _error(label, shown, f"{anc} is a file, not a folder")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise _error(
            label,
            shown,
            f"cannot write in the folder {anc} (permission denied or a read-only file system)",
        )


def check_writable_folder(path: str | Path, label: str) -> Path:
    """An existing folder the command will write into (e.g. a project)."""
    p = Path(path)
    if not p.is_dir():
        return p  # the command's own "not a project" error says more
    if not os.access(p, os.W_OK | os.X_OK):
        raise _error(
            label,
            path,
            "cannot write in this folder (permission denied or a read-only file system)",
        )
    return p


def check_output_file(
    path: str | Path, label: str, *, suffixes: Collection[str] | None = None
) -> Path:
    """A file the command will write (made with its missing parent folders).

    ``label`` names the argument (``--json``, ``OUT``). ``suffixes`` (lower case, no dot), when
    given, are the formats the writer understands: a name without one is refused rather than
    silently given one. Raises CliError: an existing folder, a parent that is a file or not
    writable, an existing file that is read-only, an unsupported suffix.
    """
    p = Path(path)
    if p.is_dir():
        raise _error(label, path, "is a folder, not a file")
    if suffixes is not None:
        ext = p.suffix.lower().lstrip(".")
        shown = ", ".join(f".{s}" for s in sorted(suffixes))
        if not ext:
            raise _error(label, path, f"no file extension to say the format (one of {shown})")
        if ext not in suffixes:
            raise _error(label, path, f"cannot write .{ext} files (one of {shown})")
    _check_creatable(p.parent, label, path)
    if p.exists() and not os.access(p, os.W_OK):
        raise _error(label, path, "the file exists and is read-only")
    return p


def check_output_folder(path: str | Path, label: str) -> Path:
    """A folder the command will write into (made with its parents when missing)."""
    p = Path(path)
    if os.path.lexists(p) and not p.is_dir():
        raise _error(label, path, "is a file, not a folder")
    _check_creatable(p, label, path)
    return p


# --- progress: the one adapter from the library's ``progress(done, total)`` callbacks to tqdm
@contextlib.contextmanager
def tqdm_progress(desc: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    """Yield a ``progress(done, total)`` callback that drives a tqdm bar (hidden off a TTY)."""
    from tqdm import tqdm

    with tqdm(desc=desc, unit=unit, disable=None) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        yield progress
