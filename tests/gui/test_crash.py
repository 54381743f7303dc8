"""The app under kill -9 and SIGTERM: autosaved work survives, the project opens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np

from annotator.store import ProjectStore

# Runs the real window offscreen: places joints through the panels' click signal path,
# waits for the QTimer autosave, places more, then idles until killed.
_DRIVER = r"""
import os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PyQt5.QtWidgets import QApplication
from annotator.session import AnnotationSession
from annotator.store import ProjectStore
from gui.app import MainWindow
app = QApplication([])
store = ProjectStore.open(sys.argv[1], mode="w")
s = AnnotationSession(store, annotator="crash", autosave_s=0.2)
win = MainWindow(s, autosave_ms=50)
win.resize(1200, 800); win.show(); app.processEvents()
gt = store.ground_truth(0); names = store.camera_names
def place(j):
    seen = [k for k in range(len(names)) if gt.visible[k, j]][:2]
    for k in seen:
        win.intent(s.click, names[k], gt.uv_px[k, j], joint=j)
    return len(seen) == 2
saved = [next(j for j in range(42) if place(j))]
deadline = time.time() + 10
while s.dirty and time.time() < deadline:
    app.processEvents(); time.sleep(0.02)
print("SAVED", saved[0], flush=True)
s.autosave_s = 3600.0  # the next edits stay pending
later = [next(j for j in range(saved[0] + 1, 42) if place(j))]
assert s.dirty
print("PENDING", later[0], flush=True)
if len(sys.argv) > 2:
    from gui.cli import _close_on_signals
    _close_on_signals(app, win)
    print("READY", flush=True)
    app.exec_()
else:
    print("READY", flush=True)
    while True:
        app.processEvents(); time.sleep(0.05)
"""


def _run(project, *extra):
    proc = subprocess.Popen([sys.executable, "-c", _DRIVER, str(project), *extra],
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    got = {}
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        key, *val = line.split()
        got[key] = int(val[0]) if val else None
        if key == "READY":
            return proc, got
    proc.kill()
    raise AssertionError(f"driver did not get ready: {got}")


def test_kill9_loses_only_edits_since_the_last_autosave(project):
    proc, got = _run(project)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    with ProjectStore.open(project, mode="w") as store:  # opens (stale lock taken over)
        lab = store.labels(0)
        assert np.isfinite(lab.joints_world_mm[got["SAVED"]]).all()
        assert not np.isfinite(lab.joints_world_mm[got["PENDING"]]).any()


def test_sigterm_closes_the_app_and_saves(project):
    proc, got = _run(project, "--signals")
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    with ProjectStore.open(project, mode="r") as store:
        lab = store.labels(0)
        assert np.isfinite(lab.joints_world_mm[[got["SAVED"], got["PENDING"]]]).all()
