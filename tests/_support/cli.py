"""The ``annotator`` command as a real subprocess (what a user's terminal shows: stderr
written by C libraries, not only Python's)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["run_cli", "stderr_lines"]

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, timeout: float = 180, **popen) -> subprocess.CompletedProcess:
    """``annotator ARGS...`` in a child process of this checkout (text output captured)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen")
    cmd = [sys.executable, "-m", "annotator.cli.main", *map(str, args)]
    return subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, **popen)


def stderr_lines(result: subprocess.CompletedProcess) -> list[str]:
    """The non-empty lines the command wrote to stderr."""
    return [line for line in result.stderr.splitlines() if line.strip()]
