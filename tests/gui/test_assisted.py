"""Assisted mode (machine proposals written straight into the store), review queue, view keys,
and the embedded default project."""

from __future__ import annotations

import shutil

import numpy as np
from PyQt5.QtCore import Qt

from annotator import skeleton
from annotator.store import ProjectStore
from gui.overlay import Lines


def _with_proposals(project, noise_mm=0.0):
    """Machine 3D for every joint of instant 0 (ground truth), instant 2 flagged."""
    with ProjectStore.open(project, mode="w") as store:
        gt = store.ground_truth(0)
        pts = gt.joints_world_mm + noise_mm
        for h, hand in enumerate(skeleton.HANDS):
            if not gt.hand_present[h]:
                pts[skeleton.hand_slice(hand)] = np.nan
        store.set_joints_3d(0, pts, source="machine", annotator="labeler")
        store.set_flag(2, 5, "reprojection error 9.1 px")
    return gt


def test_proposals_are_drawn_dashed_and_one_key_accepts(open_window, project, qtbot):
    gt = _with_proposals(project)
    win = open_window(project)
    s = win.session
    j = int(np.flatnonzero(np.isfinite(gt.joints_world_mm[:, 0]) &
                           np.repeat(gt.hand_present, skeleton.JOINTS_PER_HAND))[0])
    assert s.joint_state(j).status == "proposal"
    assert win.joint_list.row_text(j)[0] == "machine proposal"
    dashed = [it for p in win.panels for it in p.drawlist.items
              if isinstance(it, Lines) and it.dashed]
    assert dashed, "proposals are drawn as dashed skeletons"
    win.intent(s.select_joint, j)
    qtbot.keyClick(win, Qt.Key_Return)
    assert s.joint_state(j).status == "triangulated" and s.joint_state(j).source == "human"
    assert win.joint_list.row_text(j)[0].startswith("3D")
    qtbot.keyClick(win, Qt.Key_Z, Qt.ControlModifier)
    assert s.joint_state(j).status == "proposal"
    qtbot.keyClick(win, Qt.Key_Return, Qt.ShiftModifier)  # accept all
    present = np.isfinite(gt.joints_world_mm[:, 0]) & np.repeat(gt.hand_present,
                                                                 skeleton.JOINTS_PER_HAND)
    assert [s.joint_state(k).status for k in np.flatnonzero(present)] == (
        ["triangulated"] * int(present.sum()))
    assert not any(s.joint_state(k).status == "proposal" for k in range(skeleton.NUM_JOINTS))


def test_review_queue_lists_flagged_instants_and_r_goes_there(open_window, project, qtbot):
    _with_proposals(project)
    win = open_window(project)
    items = [win.review_list.item(k) for k in range(win.review_list.count())]
    assert [it.data(Qt.UserRole) for it in items] == [2]
    qtbot.keyClick(win, Qt.Key_R)
    assert win.session.instant == 2


def test_help_overlay_levels_and_toggles(open_window, project, qtbot):
    win = open_window(project)
    qtbot.keyClick(win, Qt.Key_F1)
    assert win.help.isVisible()
    qtbot.keyClick(win, Qt.Key_Escape)
    assert not win.help.isVisible()
    p = win.panels[0]
    before = p._shown_bgr.astype(int).mean()
    qtbot.keyClick(win, Qt.Key_BracketRight)
    assert p._shown_bgr.astype(int).mean() > before + 8
    qtbot.keyClick(win, Qt.Key_Backslash)
    assert abs(p._shown_bgr.astype(int).mean() - before) < 1e-9
    qtbot.keyClick(win, Qt.Key_E)
    assert not win.show_skeleton
    qtbot.keyClick(win, Qt.Key_P)
    assert not win.show_epipolar


def test_default_project_is_generated_once(tmp_path, synth_project_master, monkeypatch):
    from gui.project_open import default_project, default_project_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = default_project_dir()
    assert folder == tmp_path / "cache" / "interhand-annotator" / "default"
    calls = []
    out = default_project(progress=lambda d, t: calls.append((d, t)), cameras=3, instants=1,
                          subjects=1)
    assert out == folder and (folder / "project.toml").is_file() and calls[-1] == (1, 1)
    stamp = (folder / "project.toml").stat().st_mtime_ns
    assert default_project(cameras=3, instants=1, subjects=1) == folder
    assert (folder / "project.toml").stat().st_mtime_ns == stamp
    # `annotator gui` without PROJECT opens it
    shutil.rmtree(folder)
    shutil.copytree(synth_project_master, folder)
    from annotator.cli.main import main

    assert main(["gui", "--screenshot", str(tmp_path / "d.png"), "--size", "800x600"]) == 0
    assert (tmp_path / "d.png").stat().st_size > 10_000
