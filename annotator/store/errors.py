"""Errors raised by the project store."""

from __future__ import annotations

__all__ = ["ProjectFormatError", "ProjectLockedError", "ProjectReadOnlyError"]


class ProjectFormatError(ValueError):
    """A project file is malformed, truncated, of an unknown schema, or given bad values.

    The message is one line that names the file (or the argument) and the problem.
    """


class ProjectLockedError(RuntimeError):
    """Another process holds the project open for writing."""


class ProjectReadOnlyError(ValueError):
    """A write was attempted on a project opened with ``mode="r"``."""
