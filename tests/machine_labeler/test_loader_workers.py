"""Loader workers end with the process that started them, also after a kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")
def test_forkserver_workers_exit_after_their_owner_is_killed() -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.machine_labeler._loader_child"], cwd=ROOT,
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        workers = [int(p) for p in child.stdout.readline().split()]
        assert workers and child.pid not in workers
        assert all(_alive(p) for p in workers)
        # the workers are not the killed process's children (forkserver): nothing else
        # would end them
        assert all(int(open(f"/proc/{p}/stat").read().split()[3]) != child.pid
                   for p in workers)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.2)
    assert not any(_alive(p) for p in workers)
