"""The app as a new annotator meets it (issue 24), through real clicks and keys offscreen:
the third-view click, disagreeing clicks, stable and marked cameras, explained keys."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt5.QtCore import QPoint, Qt

from annotator import skeleton
from tests.gui.test_app import _click_at, _drag_move, _gt, _visible_panels


def _joint_in(win, n: int) -> int:
    for j in range(skeleton.NUM_JOINTS - 1):
        if len(_visible_panels(win, j)) >= n and j % skeleton.JOINTS_PER_HAND != 20:
            return j
    pytest.skip(f"no joint visible in {n} panels")


def test_a_third_view_click_refines_the_placed_joint_and_says_so(open_window, project, qtbot):
    win = open_window(project)
    assert win.auto_advance
    j = _joint_in(win, 3)
    win.intent(win.session.select_joint, j)
    (p1, uv1), (p2, uv2), (p3, uv3) = _visible_panels(win, j)[:3]
    _click_at(qtbot, p1, uv1)
    _click_at(qtbot, p2, uv2)
    assert win.session.joint == j + 1  # auto-advance after two views
    _click_at(qtbot, p3, uv3)  # the same joint in a third view, on its drawn marker
    assert win.session.joint_state(j).n_views == 3
    assert win.session.joint_state(j + 1).n_views == 0
    assert win.session.joint == j  # the edited joint is the one shown as selected
    assert win.joint_list.currentItem().data(0, Qt.UserRole) == j
    assert skeleton.JOINT_NAMES[j] in win.status_message.text()
    # Shift+click places the selected joint even on a marker
    win.intent(win.session.select_joint, j + 1)
    panel = p3
    xy = panel.viewport.to_widget(uv3)
    qtbot.mouseClick(panel.canvas, Qt.LeftButton, Qt.ShiftModifier,
                     QPoint(int(round(xy[0])), int(round(xy[1]))))
    assert win.session.joint_state(j + 1).n_views == 1
    assert win.session.joint_state(j).n_views == 3


def test_a_wrong_second_click_is_asked_about_and_queued(open_window, project, qtbot):
    win = open_window(project)
    j = _joint_in(win, 2)
    win.intent(win.session.select_joint, j)
    (p1, uv1), (p2, uv2) = _visible_panels(win, j)[:2]
    assert not win.question.isVisible()
    _click_at(qtbot, p1, uv1)
    _click_at(qtbot, p2, uv2 + np.array([45.0, 30.0]), zoom=2.0)  # far off the epipolar line
    assert win.question.isVisible()
    assert skeleton.JOINT_NAMES[j] in win.question.text.text()
    assert win.session.joint == j  # no auto-advance while asked
    assert win.session.review_queue() == [win.session.instant]
    items = [win.review_list.item(k).text() for k in range(win.review_list.count())]
    assert any("clicks disagree" in t for t in items), items
    row_tip = win.joint_list._rows[j].toolTip(1)
    assert "clicks disagree" in row_tip and p2.camera in row_tip
    # keep it (Ctrl+K): the selection moves on, the instant stays queued
    qtbot.keyClick(win, Qt.Key_K, Qt.ControlModifier)
    assert not win.question.isVisible() and win.session.joint == j + 1
    assert win.session.review_queue() == [win.session.instant]


def test_undo_from_the_question_bar_takes_the_click_back(open_window, project, qtbot):
    win = open_window(project)
    j = _joint_in(win, 2)
    win.intent(win.session.select_joint, j)
    (p1, uv1), (p2, uv2) = _visible_panels(win, j)[:2]
    _click_at(qtbot, p1, uv1)
    _click_at(qtbot, p2, uv2 + np.array([45.0, 30.0]), zoom=2.0)
    qtbot.mouseClick(win.question.undo_button, Qt.LeftButton)
    assert not win.question.isVisible()
    assert win.session.joint_state(j).n_views == 1
    assert win.session.review_queue() == []
    items = [win.review_list.item(k).text() for k in range(win.review_list.count())]
    assert items == ["nothing flagged for review"]


def test_camera_picker_marks_clicks_and_a_chosen_camera_survives_reopening(
        open_window, project, qtbot):
    win = open_window(project)
    j = _joint_in(win, 2)
    win.intent(win.session.select_joint, j)
    (p1, uv1), (p2, uv2) = _visible_panels(win, j)[:2]
    _click_at(qtbot, p1, uv1)
    picker = win.panels[0].picker
    texts = {picker.itemData(k): picker.itemText(k) for k in range(picker.count())}
    assert texts[p1.camera].endswith("● 1")
    assert all("●" not in t for c, t in texts.items() if c != p1.camera)
    # choose a camera by hand in the last panel (through the picker, as a user does)
    shown = [p.camera for p in win.panels]
    hidden = next(c for c in win.session.cameras if c not in shown)
    last = win.panels[-1]
    last.picker.setCurrentIndex(last.picker.findData(hidden))
    last.picker.activated.emit(last.picker.currentIndex())
    assert last.camera == hidden
    expected = [p.camera for p in win.panels]
    qtbot.keyClick(win, Qt.Key_D)  # next instant and back
    qtbot.keyClick(win, Qt.Key_S)
    assert [p.camera for p in win.panels] == expected
    win.close()
    win.store.close()
    win2 = open_window(project)
    assert [p.camera for p in win2.panels] == expected


def test_keys_that_cannot_act_say_why_and_messages_clear(open_window, project, qtbot):
    win = open_window(project)
    j = _joint_in(win, 2)
    win.intent(win.session.select_joint, j)
    win._panel_hovered(0)
    qtbot.keyClick(win, Qt.Key_Z)  # zoom to an unplaced joint
    assert "not placed" in win.status_message.text()
    qtbot.keyClick(win, Qt.Key_Tab)  # a new selection clears the old message
    assert win.status_message.text() == ""
    qtbot.keyClick(win, Qt.Key_Delete)  # no click under the mouse
    assert "no click" in win.status_message.text()
    qtbot.keyClick(win, Qt.Key_L)
    assert "no click" in win.status_message.text()
    qtbot.keyClick(win, Qt.Key_S)  # previous instant at the first one
    assert "first instant" in win.status_message.text()
    qtbot.keyClick(win, Qt.Key_Return, Qt.ShiftModifier)
    assert "no machine proposals" in win.status_message.text()
    qtbot.keyClick(win, Qt.Key_K, Qt.ControlModifier)
    assert "no disagreeing click" in win.status_message.text()


def test_shift_delete_removes_the_joint_everywhere(open_window, project, qtbot):
    win = open_window(project)
    win.auto_advance = False
    j = _joint_in(win, 2)
    win.intent(win.session.select_joint, j)
    (p1, uv1), (p2, uv2) = _visible_panels(win, j)[:2]
    _click_at(qtbot, p1, uv1)
    _click_at(qtbot, p2, uv2)
    assert win.session.joint_state(j).status == "triangulated"
    qtbot.keyClick(win, Qt.Key_Delete, Qt.ShiftModifier)
    assert win.session.joint_state(j).n_views == 0
    assert win.joint_list.row_text(j)[0] == "not placed"
    win.intent(win.session.select_joint, 0 if j else 1)
    qtbot.keyClick(win, Qt.Key_Z, Qt.ControlModifier)  # undo selects the joint again
    assert win.session.joint == j and win.session.joint_state(j).n_views == 2


def test_dragging_a_click_moves_the_joint_in_the_other_views_live(open_window, project, qtbot):
    win = open_window(project)
    win.auto_advance = False
    j = _joint_in(win, 3)
    win.intent(win.session.select_joint, j)
    (p1, uv1), (p2, uv2), (p3, _uv3) = _visible_panels(win, j)[:3]
    _click_at(qtbot, p1, uv1)
    _click_at(qtbot, p2, uv2)
    before = win.session.reprojection(p3.camera)[j].copy()

    def disc_near(panel, uv):
        discs = np.concatenate([m.points_px for m in panel.drawlist.items
                                if type(m).__name__ == "Markers" and m.shape == "disc"])
        return bool(np.isclose(discs, uv, atol=0.05).all(axis=1).any())

    assert disc_near(p3, before)
    p2.centre_on(uv2, 1.0)
    start = p2.viewport.to_widget(uv2)
    dst = start + np.array([14.0, -10.0])  # 17 image px
    qtbot.mousePress(p2.canvas, Qt.LeftButton, pos=QPoint(*np.round(start).astype(int)))
    _drag_move(p2.canvas, dst)
    live = win.session.preview_click(p2.camera, p2.viewport.to_image(np.round(dst)), j)
    live_p3 = live[win.session.cameras.index(p3.camera)]
    assert np.linalg.norm(live_p3 - before) > 0.5  # the other view follows the drag ...
    assert disc_near(p3, live_p3)
    assert win.session.joint_state(j).n_views == 2  # ... before anything is committed
    np.testing.assert_allclose(win.session.clicks(p2.camera)[j], uv2, atol=0.2)
    qtbot.mouseRelease(p2.canvas, Qt.LeftButton, pos=QPoint(*np.round(dst).astype(int)))
    assert disc_near(p3, win.session.reprojection(p3.camera)[j])


def test_joint_list_explains_itself_and_opens_at_the_top(open_window, project, qtbot):
    win = open_window(project)
    jl = win.joint_list
    qtbot.wait(20)  # the first layout
    assert jl.verticalScrollBar().value() == 0  # the "right hand" header is in sight
    assert "⚑" in jl.headerItem().toolTip(1) and "px" in jl.headerItem().toolTip(2)
    j = _joint_in(win, 2)
    win.intent(win.session.select_joint, j)
    (p1, uv1), (p2, uv2) = _visible_panels(win, j)[:2]
    _click_at(qtbot, p1, uv1)
    assert p1.title.text() == "1 click"
    _click_at(qtbot, p2, uv2)
    tip = jl._rows[j].toolTip(2)
    assert p1.camera in tip and p2.camera in tip and "px" in tip
    gt, _ = _gt(win)
    assert gt is not None


def test_status_bar_progress_matches_the_session_across_switches(open_window, project, qtbot):
    win = open_window(project)
    s = win.session
    j = _joint_in(win, 2)
    win.intent(s.select_joint, j)
    (p1, uv1), (p2, uv2) = _visible_panels(win, j)[:2]
    _click_at(qtbot, p1, uv1)
    _click_at(qtbot, p2, uv2)
    qtbot.keyClick(win, Qt.Key_D)
    qtbot.keyClick(win, Qt.Key_A)  # this instant's selected hand absent: 21 joints done
    qtbot.keyClick(win, Qt.Key_D)
    expect = (*s.progress(), *s.joint_progress())
    assert win.progress() == (expect[0], expect[1], expect[2], expect[3])
    assert expect[2] == 22
    assert win.status_progress.text().startswith(f"complete 0/3 instants · joints 22/{42 * 3}")
