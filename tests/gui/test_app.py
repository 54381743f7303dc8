"""The real window, offscreen: clicks on panels, shortcuts, save and reopen, lock, bad images."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt5.QtCore import QEvent, QPoint, QPointF, Qt
from PyQt5.QtGui import QMouseEvent
from PyQt5.QtTest import QTest
from PyQt5.QtWidgets import QApplication

from annotator import skeleton
from annotator.store import ProjectLockedError, ProjectStore


def _gt(win):
    store = win.store
    return store.ground_truth(win.session.instant), store.camera_names


def _visible_panels(win, j):
    """Panels whose camera sees joint j in the ground truth, with its GT 2D there."""
    gt, names = _gt(win)
    out = []
    for p in win.panels:
        k = names.index(p.camera)
        if gt.visible[k, j]:
            out.append((p, gt.uv_px[k, j]))
    return out


def _click_at(qtbot, panel, uv_px, zoom=8.0):
    """Zoom the panel onto uv_px (as an annotator would) and click the widget pixel there."""
    panel.centre_on(uv_px, zoom)
    xy = panel.viewport.to_widget(uv_px)
    qtbot.mouseClick(panel.canvas, Qt.LeftButton, pos=QPoint(int(round(xy[0])),
                                                              int(round(xy[1]))))


def _drag_move(widget, xy):
    """A real mouse-move event with the left button held (QTest.mouseMove only moves the
    cursor, which the offscreen platform does not turn into events)."""
    pos = QPoint(*np.round(xy).astype(int))
    ev = QMouseEvent(QEvent.MouseMove, QPointF(pos), Qt.NoButton, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(widget, ev)


def _distance_to_polyline(uv, pts) -> float:
    a, b = pts[:-1], pts[1:]
    ok = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    a, b = a[ok], b[ok]
    t = np.clip(np.einsum("ij,ij->i", uv - a, b - a) / np.einsum("ij,ij->i", b - a, b - a),
                0, 1)
    return float(np.min(np.linalg.norm(a + t[:, None] * (b - a) - uv, axis=1)))


def _first_visible_joint(win, n=2):
    for j in range(skeleton.NUM_JOINTS):
        if len(_visible_panels(win, j)) >= n:
            return j
    pytest.skip("no joint visible in two panels")


def test_two_clicks_triangulate_within_1mm_and_redraw_all_panels(open_window, project, qtbot):
    win = open_window(project)
    j = _first_visible_joint(win)
    win.intent(win.session.select_joint, j)
    (p1, uv1), (p2, uv2) = _visible_panels(win, j)[:2]
    _click_at(qtbot, p1, uv1)
    st = win.session.joint_state(j)
    assert st.status == "one_view"
    assert "1 view" in win.joint_list.row_text(j)[0]
    # the epipolar curve of that click is drawn in the other panels
    assert win.session.epipolar_curve(p2.camera, j) is not None
    curves = [it for it in p2.drawlist.items if type(it).__name__ == "Polyline"]
    assert len(curves) == 1
    # the drawn curve passes through the joint's true position in every other panel seeing it
    for p, uv in _visible_panels(win, j)[1:]:
        curve = [it for it in p.drawlist.items if type(it).__name__ == "Polyline"][0]
        assert _distance_to_polyline(uv, curve.points_px) < 1.0
    _click_at(qtbot, p2, uv2)
    gt, _ = _gt(win)
    point = win.session.joint_point(j)
    assert np.linalg.norm(point - gt.joints_world_mm[j]) < 1.0
    state, err = win.joint_list.row_text(j)
    assert state.startswith("3D") and err.endswith("px")
    # auto-advance went to the next joint; the new 3D point is drawn in every panel
    assert win.session.joint != j
    for p in win.panels:
        uv = win.session.reprojection(p.camera)[j]
        if np.isfinite(uv).all():
            discs = np.concatenate([m.points_px for m in p.drawlist.items
                                    if type(m).__name__ == "Markers" and m.shape == "disc"])
            assert np.isclose(discs, uv).all(axis=1).any()
    assert win.windowTitle().startswith("●")


def test_drag_corrects_a_click(open_window, project, qtbot):
    win = open_window(project)
    win.auto_advance = False
    j = _first_visible_joint(win)
    win.intent(win.session.select_joint, j)
    (p1, uv1), (p2, uv2) = _visible_panels(win, j)[:2]
    _click_at(qtbot, p1, uv1)
    _click_at(qtbot, p2, uv2 + 6.0, zoom=4.0)  # a sloppy click
    sloppy = win.session.joint_state(j).mean_error_px
    xy = p2.viewport.to_widget(uv2 + 6.0)
    dst = p2.viewport.to_widget(uv2)
    qtbot.mousePress(p2.canvas, Qt.LeftButton, pos=QPoint(*np.round(xy).astype(int)))
    _drag_move(p2.canvas, (xy + dst) / 2)
    cross = [m for m in p2.drawlist.items if type(m).__name__ == "Markers" and m.shape == "cross"]
    assert np.isclose(cross[0].points_px, p2.viewport.to_image((xy + dst) / 2), atol=0.5).all()
    _drag_move(p2.canvas, dst)
    qtbot.mouseRelease(p2.canvas, Qt.LeftButton, pos=QPoint(*np.round(dst).astype(int)))
    assert np.linalg.norm(win.session.clicks(p2.camera)[j] - uv2) < 0.3
    assert win.session.joint_state(j).mean_error_px < sloppy


def test_undo_redo_and_delete_by_shortcut(open_window, project, qtbot):
    win = open_window(project)
    win.activateWindow()
    j = _first_visible_joint(win)
    win.intent(win.session.select_joint, j)
    (p1, uv1), (p2, uv2) = _visible_panels(win, j)[:2]
    _click_at(qtbot, p1, uv1)
    _click_at(qtbot, p2, uv2)
    assert win.session.joint_state(j).status == "triangulated"
    qtbot.keyClick(win, Qt.Key_Z, Qt.ControlModifier)
    assert win.session.joint_state(j).status == "one_view"
    assert win.joint_list.row_text(j)[0].startswith("1 view")
    qtbot.keyClick(win, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert win.session.joint_state(j).status == "triangulated"
    win.intent(win.session.select_joint, j)
    win._panel_hovered(p2.index)
    qtbot.keyClick(win, Qt.Key_Delete)
    assert win.session.joint_state(j).status == "one_view"
    qtbot.keyClick(win, Qt.Key_A)  # hand absent
    assert win.session.joint_state(j).status == "hand_absent"
    qtbot.keyClick(win, Qt.Key_D)  # next instant (saves first)
    assert win.session.instant == 1 and not win.session.dirty


def test_quit_and_reopen_restores_the_work(open_window, project, qtbot):
    win = open_window(project)
    j = _first_visible_joint(win)
    win.intent(win.session.select_joint, j)
    (p1, uv1), (p2, uv2) = _visible_panels(win, j)[:2]
    _click_at(qtbot, p1, uv1)
    _click_at(qtbot, p2, uv2)
    point = win.session.joint_point(j)
    shown = [p.camera for p in win.panels]
    win.close()  # saves
    win.store.close()
    win2 = open_window(project)
    # the panels show the cameras the joint was clicked in, so the clicks are in sight
    assert [p.camera for p in win2.panels] == shown
    assert win2.session.joint_state(j).status == "triangulated"
    np.testing.assert_allclose(win2.session.joint_point(j), point, atol=1e-6)
    np.testing.assert_allclose(win2.session.clicks(p1.camera)[j], uv1, atol=0.2)
    assert "3D" in win2.joint_list.row_text(j)[0]
    # one joint of 42 placed: no instant is complete yet
    assert win2.status_progress.text().startswith("complete 0/3 instants · joints 1/126")


def test_locked_project_opens_read_only_after_the_dialog(open_window, project, qtbot):
    holder = ProjectStore.open(project, mode="w")
    try:
        messages = []
        with pytest.raises(ProjectLockedError):
            open_window(project, ask_read_only=lambda m: messages.append(m) or False)
        win = open_window(project, ask_read_only=lambda m: messages.append(m) or True)
        assert len(messages) == 2 and "open for writing by" in messages[0]
        assert win.read_only and "[read-only]" in win.windowTitle()
        p, uv = _visible_panels(win, _first_visible_joint(win))[0]
        _click_at(qtbot, p, uv)
        assert not np.isfinite(win.session.clicks(p.camera)).any()
        assert "read-only" in win.status_message.text()
        # browsing still works: panel camera choices stay in the window
        other = next(c for c in win.session.cameras if c not in win.session.views)
        win.panels[0].picker.activated.emit(win.panels[0].picker.findText(other))
        assert win.panels[0].camera == other and win.session.views[0] != other
        qtbot.keyClick(win, Qt.Key_D)
        assert win.session.instant == 1
    finally:
        holder.close(save=False)


def test_corrupt_and_missing_images_show_a_placeholder(open_window, project, qtbot):
    store = ProjectStore.open(project, mode="r")
    paths = store.image_paths(0)
    store.close()
    for k, p in enumerate(paths):
        if k % 2:
            p.write_bytes(b"\xff\xd8garbage" * 50)
        else:
            p.unlink()
    win = open_window(project)
    reasons = [p._image.error for p in win.panels]
    assert all(("corrupt" in r) or ("not found" in r) for r in reasons)
    img = win.grab()  # paints every panel with its placeholder
    assert not img.isNull()
    # the next instant's images are fine
    qtbot.keyClick(win, Qt.Key_D)
    assert all(p._image.bgr is not None for p in win.panels)


def test_screenshot_command_leaves_the_project_unchanged(project, tmp_path):
    from annotator.cli.main import main

    out = tmp_path / "shot.png"
    assert main(["gui", str(project), "--screenshot", str(out), "--size", "1000x640",
                 "--instant", "2"]) == 0
    from PyQt5.QtGui import QImage

    img = QImage(str(out))
    assert (img.width(), img.height()) == (1000, 640)
    with ProjectStore.open(project, mode="r") as store:
        assert store.labelled_instants("human").size == 0


def test_camera_picker_overrides_a_panel_and_undo_restores(open_window, project, qtbot):
    win = open_window(project)
    p = win.panels[0]
    before = list(win.session.views)
    other = next(c for c in win.session.cameras if c not in before)
    p.picker.activated.emit(p.picker.findText(other))  # what a user's pick emits
    assert win.session.views[0] == other and p.camera == other
    assert p._image.path.parent.name == f"cam{other}"
    qtbot.keyClick(win, Qt.Key_Z, Qt.ControlModifier)
    assert win.session.views == before and p.picker.currentText() == before[0]


def test_jump_zoom_to_joint_and_fit_hands(open_window, project, qtbot):
    win = open_window(project)
    win.act_goto_instant(3)
    assert win.session.instant == 2 and win.status_instant.text().startswith("instant 3/3")
    j = _first_visible_joint(win)
    win.intent(win.session.select_joint, j)
    (p1, uv1), (p2, uv2) = _visible_panels(win, j)[:2]
    _click_at(qtbot, p1, uv1)
    _click_at(qtbot, p2, uv2)
    win.intent(win.session.select_joint, j)
    qtbot.keyClick(win, Qt.Key_Z)
    for p in (p1, p2):
        centre = np.array([p.canvas.width() / 2, p.canvas.height() / 2])
        assert np.allclose(p.viewport.to_widget(win.session.clicks(p.camera)[j]), centre)
        assert p.viewport.scale > 2
    qtbot.keyClick(win, Qt.Key_X)
    for p in win.panels:  # the placed joint is in view, not zoomed absurdly
        uv = win.session.reprojection(p.camera)[j]
        if np.isfinite(uv).all():
            xy = p.viewport.to_widget(uv)
            assert 0 <= xy[0] <= p.canvas.width() and 0 <= xy[1] <= p.canvas.height()


def test_gui_without_display_is_a_clear_error(project, monkeypatch, capsys):
    from annotator.cli.main import main

    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    assert main(["gui", str(project)]) == 2
    assert "no display" in capsys.readouterr().err


def test_tab_and_letters_step_joints(open_window, project, qtbot):
    win = open_window(project)
    win.panels[0].canvas.setFocus()  # focus on a panel, as after a click
    j0 = win.session.joint
    qtbot.keyClick(win.panels[0].canvas, Qt.Key_Tab)
    assert win.session.joint == j0 + 1
    qtbot.keyClick(win, Qt.Key_K)
    assert win.session.joint == j0
    qtbot.keyClick(win, Qt.Key_H)
    assert win.session.joint == int(skeleton.FLIP_INDEX[j0])
    assert skeleton.JOINT_NAMES[win.session.joint] in win.current_label.text()


def test_status_message_sits_beside_the_instant_text(open_window, project):
    win = open_window(project)
    win.notify("nothing to undo", 5000)
    QApplication.processEvents()
    instant, message = win.status_instant, win.status_message
    assert instant.isVisible() and message.isVisible()
    assert instant.text().startswith("instant ") and message.text() == "nothing to undo"
    assert not instant.geometry().intersects(message.geometry())
    win.notify("short", 1)
    QTest.qWait(30)
    assert message.text() == ""


def test_a_rig_of_fewer_cameras_than_panels_shows_the_ones_it_has(open_window, tmp_path,
                                                                   qtbot):
    """Three cameras: three panels shown, the others hidden; fit, zoom and the next instant
    work (the app used to stop at start-up on the empty panels' camera '')."""
    from annotator.synth.studio import StudioConfig
    from annotator.synth.writer import write_capture

    path = tmp_path / "three"
    write_capture(path, StudioConfig(cameras=3, instants=2, subjects=1, seed=1), workers=1)
    win = open_window(path)
    shown = [p for p in win.panels if p.isVisible()]
    assert len(shown) == 3 and [p.camera for p in shown] == [p.camera for p in win.shown_panels]
    assert all(p._image.bgr is not None for p in shown)
    win.act_fit_hands()
    win.act_zoom_joint()
    qtbot.keyClick(win, Qt.Key_D)
    assert win.session.instant == 1 and len(win.shown_panels) == 3
    assert not win.grab().isNull()
