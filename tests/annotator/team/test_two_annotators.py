"""Two annotators at once: two app processes, each on its own package, then one collect."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from annotator.store import ProjectStore
from annotator.team.assign import assign
from annotator.team.collect import collect

REPO = Path(__file__).resolve().parents[3]

# The real window offscreen on one package: places every joint the ground truth shows in two
# cameras, on the first instants of the queue, through the window's intents; saves like the
# app does on close.
_APP = r"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PyQt5.QtWidgets import QApplication
from annotator.session import AnnotationSession
from annotator.store import ProjectStore
from gui.app import MainWindow
app = QApplication([])
store = ProjectStore.open(sys.argv[1], mode="w")
s = AnnotationSession(store, annotator=sys.argv[2], autosave_s=1.0)
win = MainWindow(s, autosave_ms=200)
win.resize(1000, 700); win.show(); app.processEvents()
names = store.camera_names
placed = 0
for i in range(int(sys.argv[3])):
    win.intent(s.goto, i)
    gt = store.ground_truth(i)
    for j in range(42):
        seen = [k for k in range(len(names)) if gt.visible[k, j]][:2]
        if len(seen) < 2:
            continue
        for k in seen:
            win.intent(s.click, names[k], gt.uv_px[k, j], joint=j)
        placed += 1
        app.processEvents()
print("PLACED", placed, flush=True)
win.close(); app.processEvents()
store.close()
print("CLOSED", flush=True)
"""


def test_two_app_processes_label_their_packages_at_once_and_collect_loses_nothing(
        team_project, tmp_path):
    with ProjectStore.open(team_project, mode="w") as store:
        records = assign(store, ["ann", "bob"], tmp_path / "pk", instants="all", gold=0.0,
                         repeat=0.0, seed=2)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", _APP, r.path, r.annotator, "3"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env)
             for r in records]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
        assert "CLOSED" in out
    placed = {r.annotator: int(out.split("PLACED")[1].split()[0])
              for r, (out, _) in zip(records, outs, strict=True)}
    assert min(placed.values()) > 0
    with ProjectStore.open(team_project, mode="w") as store:
        result = collect(store, [r.path for r in records])
        assert result.kept.size == 0
        for r in records:
            got = 0
            for i in r.instants[:3].tolist():
                lab = store.labels(i)
                human = lab.joint_source == "human"
                assert set(lab.annotator[human].tolist()) == {r.annotator}
                got += int(human.sum())
                with ProjectStore.open(r.path) as pkg:
                    k = int(np.flatnonzero(r.instants == i)[0])
                    mine = pkg.labels(k)
                    assert np.allclose(mine.joints_world_mm, lab.joints_world_mm,
                                       equal_nan=True)
            assert got == placed[r.annotator]
