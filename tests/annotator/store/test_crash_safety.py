"""kill -9 during saves: the project always holds the state before or after a save.

Every save changes frames.h5, labels.h5 and project.toml together (see _crash_child.py), so
a kill between two of its file replacements would show as files that disagree.
"""

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
from annotator.store.atomic import COMMIT_NAME
from tests.annotator.store.conftest import make_project

J = skeleton.NUM_JOINTS
TOTAL = 100
KILLS = 25
BASE = 2  # instants of the project before the crash saves
CHILD = Path(__file__).with_name("_crash_child.py")
REPO = Path(__file__).resolve().parents[3]


def _saved_count(path: Path) -> int:
    """Number of completed saves; asserts all three files agree on it and hold saves 0..n-1."""
    with ProjectStore.open(path) as r:
        n = int(r.metadata.get("saves", 0))  # project.toml
        t = r.instants()  # frames.h5
        crash = np.flatnonzero(t.sequence == "crash")
        np.testing.assert_array_equal(t.frame[crash], np.arange(n))
        assert r.num_instants == BASE + n
        for k, i in enumerate(crash.tolist()):  # labels.h5
            lab = r.labels(i)
            j = k % J
            np.testing.assert_array_equal(lab.clicks_uv_px[0, j], [k, k + 0.5])
            np.testing.assert_array_equal(lab.joints_world_mm[j], [k, 2 * k, 3 * k])
            assert np.count_nonzero(~np.isnan(lab.clicks_uv_px[..., 0])) == 1
            assert np.count_nonzero(~np.isnan(lab.joints_world_mm[:, 0])) == 1
        assert r.status().human_labelled == n  # no labels on instants that are not saved
    return n


def _spawn(path: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, str(CHILD), str(path), str(TOTAL)], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_during_saves_keeps_old_or_new_state(tmp_path):
    path = tmp_path / "p"
    make_project(path, n_instants=BASE, n_cameras=3).close()
    rng = random.Random(1234)
    kills = 0
    previous = 0
    pending = 0  # kills that left a journaled commit (timing-dependent, not asserted)
    while True:
        child = _spawn(path)
        line = child.stdout.readline()
        assert line.startswith("ready"), child.stderr.read()
        if kills < KILLS:
            # Let 0-3 saves complete, then kill at a random moment within the next one(s).
            for _ in range(rng.randint(0, 3)):
                child.stdout.readline()
            time.sleep(rng.uniform(0.0, 0.08))  # a save takes ~50-100 ms
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                kills += 1
        child.wait(timeout=120)
        child.stdout.close()
        child.stderr.close()
        pending += (path / COMMIT_NAME).exists()
        n = _saved_count(path)  # a reader: it completes a pending commit itself
        assert not (path / COMMIT_NAME).exists()
        assert n >= previous  # earlier saves are never lost
        previous = n
        if child.returncode == 0:  # the child got to the end
            break
    assert kills == KILLS and previous == TOTAL
    print(f"{pending} of {kills} kills left a commit for the next opener to complete")
    # No temporaries left behind once a writer has opened the project again.
    with ProjectStore.open(path, "w"):
        pass
    assert not [p.name for p in path.iterdir() if ".tmp-" in p.name]
