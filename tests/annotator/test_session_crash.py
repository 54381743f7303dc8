"""A kill -9 during annotation loses at most the edits since the last autosave."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from annotator.store import ProjectStore

CHILD = Path(__file__).with_name("_session_crash_child.py")
REPO = Path(__file__).resolve().parents[2]


def test_kill_9_loses_only_edits_since_last_autosave(synth_copy):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, str(CHILD), str(synth_copy)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        saved = proc.stdout.readline().split()
        assert saved[:1] == ["saved"], proc.stderr.read() if proc.poll() is not None else saved
        a, b = int(saved[1]), int(saved[2])
        assert proc.stdout.readline().strip() == "edited"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with ProjectStore.open(synth_copy, mode="w") as store:  # opens; takes over the lock
        lab = store.labels(0)
        gt = store.ground_truth(0)
        assert lab.joint_source[a] == "human"
        assert np.linalg.norm(lab.joints_world_mm[a] - gt.joints_world_mm[a]) < 1.0
        assert (np.isfinite(lab.clicks_uv_px[:, a, 0])).sum() == 2
        assert lab.joint_source[b] == "" and np.isnan(lab.clicks_uv_px[:, b]).all()
