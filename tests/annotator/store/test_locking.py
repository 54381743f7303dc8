"""One writer at a time; readers never block; stale locks are taken over."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from annotator.store import ProjectLockedError, ProjectStore
from tests.annotator.store.conftest import make_project

REPO = Path(__file__).resolve().parents[3]
_TRY_WRITE = """
import sys
from annotator.store import ProjectStore, ProjectLockedError
try:
    ProjectStore.open(sys.argv[1], mode="w")
except ProjectLockedError as exc:
    print(exc)
    sys.exit(3)
print("opened")
"""


def _run_child(code: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_second_writer_in_same_process_gets_clear_error(project):
    with pytest.raises(ProjectLockedError,
                       match=rf"open for writing by .+@.+ pid {os.getpid()} since \d{{4}}-"):
        ProjectStore.open(project.path, mode="w")
    with ProjectStore.open(project.path, mode="r") as r:  # readers are fine
        assert r.num_instants == project.num_instants


def test_second_writer_process_is_refused_then_allowed_after_close(project):
    result = _run_child(_TRY_WRITE, str(project.path))
    assert result.returncode == 3, result.stderr
    assert f"pid {os.getpid()}" in result.stdout and "open for writing by" in result.stdout
    project.close()
    result = _run_child(_TRY_WRITE, str(project.path))
    assert result.returncode == 0 and "opened" in result.stdout, result.stderr


def test_stale_lock_of_dead_process_is_taken_over(tmp_path, caplog):
    make_project(tmp_path / "p").close()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owner = {"user": "someone", "host": socket.gethostname(), "pid": dead.pid, "since": 1.0}
    (tmp_path / "p" / ".lock").write_text(json.dumps(owner))
    with caplog.at_level(logging.WARNING, logger="annotator.store.locking"):
        with ProjectStore.open(tmp_path / "p", "w") as w:
            assert w.writable
    assert "stale lock" in caplog.text and f"pid {dead.pid}" in caplog.text
