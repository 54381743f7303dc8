"""kill -9 during saves: the project always holds the state before or after a save."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from annotator import skeleton
from annotator.store import ProjectStore
from tests.annotator.store.conftest import make_project

J = skeleton.NUM_JOINTS
TOTAL = 100
KILLS = 25
CHILD = Path(__file__).with_name("_crash_child.py")
REPO = Path(__file__).resolve().parents[3]


def _saved_count(path: Path) -> int:
    """Number of completed saves; asserts they form an intact prefix 0..n-1."""
    with ProjectStore.open(path) as r:
        clicks = np.stack([r.labels(i).clicks_uv_px[0, :, :] for i in range(r.num_instants)])
        joints = np.stack([r.labels(i).joints_world_mm for i in range(r.num_instants)])
    u = clicks.reshape(-1, 2)
    xyz = joints.reshape(-1, 3)
    n = int(np.count_nonzero(~np.isnan(u[:, 0])))
    k = np.arange(n)
    np.testing.assert_array_equal(u[:n], np.stack([k, k + 0.5], 1))  # prefix, exact values
    assert np.isnan(u[n:]).all()
    np.testing.assert_array_equal(xyz[:n], np.stack([k, 2 * k, 3 * k], 1))
    assert np.isnan(xyz[n:]).all()
    return n


def _spawn(path: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, str(CHILD), str(path), str(TOTAL)], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_during_saves_keeps_old_or_new_state(tmp_path):
    path = tmp_path / "p"
    make_project(path, n_instants=TOTAL // J + 1, n_cameras=3).close()
    rng = random.Random(1234)
    kills = 0
    previous = 0
    while True:
        child = _spawn(path)
        line = child.stdout.readline()
        assert line.startswith("ready"), child.stderr.read()
        if kills < KILLS:
            # Let 0-3 saves complete, then kill at a random moment within the next one(s).
            for _ in range(rng.randint(0, 3)):
                child.stdout.readline()
            time.sleep(rng.uniform(0.0, 0.015))
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                kills += 1
        child.wait(timeout=120)
        child.stdout.close()
        child.stderr.close()
        n = _saved_count(path)
        assert n >= previous  # earlier saves are never lost
        previous = n
        if child.returncode == 0:  # the child got to the end
            break
    assert kills == KILLS and previous == TOTAL
    # No temporaries left behind once a writer has opened the project again.
    with ProjectStore.open(path, "w"):
        pass
    assert not [p.name for p in path.iterdir() if ".tmp-" in p.name]
