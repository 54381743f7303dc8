"""Keyboard actions of the main window (``act_<name>`` for each :mod:`gui.shortcuts` entry).

Each action turns a key into one session intent (through ``MainWindow.intent``) or one
view change; the panel "under the mouse" is the last panel the pointer entered.
"""

from __future__ import annotations

import numpy as np
from PyQt5.QtCore import QEvent, Qt
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import QAction, QApplication, QInputDialog

from annotator import skeleton
from gui.shortcuts import SHORTCUTS

__all__ = ["ActionsMixin"]

#: Zoom-to-joint shows this many image pixels across the smaller panel side.
ZOOM_JOINT_SPAN_PX = 90.0


class ActionsMixin:
    """Mixed into ``MainWindow``; uses its ``session``, ``panels``, ``intent``, ``flush``."""

    def install_shortcuts(self) -> None:
        self.actions_by_name: dict[str, QAction] = {}
        for sc in SHORTCUTS:
            act = QAction(sc.text, self)
            act.setShortcuts([QKeySequence(k) for k in sc.keys])
            act.setShortcutContext(Qt.WindowShortcut)
            act.triggered.connect(getattr(self, f"act_{sc.action}"))
            self.addAction(act)
            self.actions_by_name[sc.action] = act
        QApplication.instance().installEventFilter(self)

    def eventFilter(self, obj, ev) -> bool:  # noqa: N802 (Qt name)
        # Space held down turns a left drag into a pan (tracked app-wide, whatever has focus).
        t = ev.type()
        if t in (QEvent.KeyPress, QEvent.KeyRelease) and ev.key() == Qt.Key_Space:
            if not ev.isAutoRepeat():
                self.space_down = t == QEvent.KeyPress
            return False
        if t == QEvent.KeyPress and ev.key() == Qt.Key_Escape and self.help.isVisible():
            self.help.hide()
            return True
        return False

    def refuse_if_read_only(self) -> bool:
        if self.read_only:
            self.notify(
                "read-only: the project is open for writing elsewhere; nothing is changed", 5000)
            return True
        return False

    def _edit(self, fn, *args, **kwargs):
        if self.refuse_if_read_only():
            return None
        return self.intent(fn, *args, **kwargs)

    @property
    def hover_camera(self) -> str:
        return self.panels[self.hover_panel].camera

    # --- joints ---------------------------------------------------------------------------
    def _name(self, j: int | None = None) -> str:
        return skeleton.JOINT_NAMES[self.session.joint if j is None else j]

    def act_next_joint(self) -> None:
        self._step_joint(+1)

    def act_prev_joint(self) -> None:
        self._step_joint(-1)

    def _step_joint(self, delta: int) -> None:
        before = self.session.joint
        self.intent(self.session.next_joint, delta)
        if self.session.joint == before:
            self.notify("both hands are marked absent here: no joint to move to "
                        "(A marks the selected joint's hand present again)", 5000)

    def act_next_finger(self) -> None:
        j = self.session.joint
        hand = skeleton.HAND_OF_JOINT[j]
        base = skeleton.hand_slice(hand).start
        k = (j - base) // 4
        nxt = base + ((k + 1) % (len(skeleton.FINGERS) + 1)) * 4
        self.intent(self.session.select_joint, min(nxt, skeleton.ROOT_INDEX[hand]))

    def act_other_hand(self) -> None:
        self.intent(self.session.select_joint, int(skeleton.FLIP_INDEX[self.session.joint]))

    def act_toggle_advance(self) -> None:
        self.auto_advance = not self.auto_advance
        self.sync_toggles()
        self.notify(
            f"auto-advance {'on' if self.auto_advance else 'off'}", 3000)

    # --- placing ----------------------------------------------------------------------------
    def act_delete_click(self) -> None:
        s = self.session
        cam = self.hover_camera
        if not np.isfinite(s.clicks(cam)[s.joint]).all():
            self.notify(f"{self._name()} has no click in camera {cam} (the view under the "
                        "mouse) to delete; Shift+Delete removes it from every view", 5000)
            return
        self._edit(s.remove_click, cam)

    def act_clear_joint(self) -> None:
        s = self.session
        st = s.joint_state(s.joint)
        if not (st.n_views or st.occluded_in or st.locked_in or st.status == "triangulated"):
            self.notify(f"{self._name()} has no clicks, marks or 3D label here to remove",
                        5000)
            return
        self._edit(s.clear_joint, s.joint)
        if s.joint_state(s.joint).n_views == 0 and not self.read_only:
            self.notify(f"{self._name()} removed from every view (Ctrl+Z brings it back)",
                        4000)

    def act_keep_click(self) -> None:
        if not self.question.isVisible():
            self.notify("no disagreeing click is waiting for an answer", 3000)
            return
        self.question.keep_button.click()

    def act_occluded_here(self) -> None:
        s = self.session
        st = s.joint_state(s.joint)
        cam = self.hover_camera
        self._edit(s.set_occluded, cam, s.joint, cam not in st.occluded_in)

    def act_lock_view(self) -> None:
        s = self.session
        cam = self.hover_camera
        locked = cam in s.joint_state(s.joint).locked_in
        if not locked and not np.isfinite(s.clicks(cam)[s.joint]).all():
            self.notify(f"{self._name()} has no click in camera {cam} (the view under the "
                        "mouse) to lock the 3D point to", 5000)
            return
        self._edit(s.lock_view, cam, not locked)

    def act_hand_absent(self) -> None:
        s = self.session
        hand = skeleton.HAND_OF_JOINT[s.joint]
        absent = s.joint_state(s.joint).status == "hand_absent"
        self._edit(s.set_hand_absent, hand, not absent)

    def act_accept_proposal(self) -> None:
        self._edit(self.session.accept_proposal, self.session.joint)

    def act_accept_all(self) -> None:
        s = self.session
        if not any(s.joint_state(j).status == "proposal" for j in range(skeleton.NUM_JOINTS)):
            self.notify("no machine proposals to accept at this instant", 4000)
            return
        self._edit(s.accept_proposal, None)

    def act_undo(self) -> None:
        self.question.hide()
        if not self._edit(self.session.undo):
            self.notify("nothing to undo", 2000)

    def act_redo(self) -> None:
        if not self._edit(self.session.redo):
            self.notify("nothing to redo", 2000)

    # --- instants ---------------------------------------------------------------------------
    def act_next_instant(self) -> None:
        if self.session.instant >= self.store.num_instants - 1:
            self.notify("this is the last instant", 3000)
            return
        self.intent(self.session.step_instant, +1)

    def act_prev_instant(self) -> None:
        if self.session.instant <= 0:
            self.notify("this is the first instant", 3000)
            return
        self.intent(self.session.step_instant, -1)

    def act_next_unlabelled(self) -> None:
        if self.intent(self.session.next_unlabelled) is None:
            self.notify("every other instant is complete", 4000)

    def act_goto_instant(self, value: int | None = None) -> None:
        n = self.store.num_instants
        if value is None or isinstance(value, bool):
            value, ok = QInputDialog.getInt(self, "Jump to instant", f"instant (1–{n}):",
                                            self.session.instant + 1, 1, n)
            if not ok:
                return
        self.intent(self.session.goto, int(value) - 1)

    def act_next_review(self) -> None:
        queue = [int(i) for i in self.session.review_queue()]
        if not queue:
            self.notify("the review queue is empty", 3000)
            return
        later = [i for i in queue if i > self.session.instant]
        self.intent(self.session.goto, later[0] if later else queue[0])

    # --- view -------------------------------------------------------------------------------
    def act_zoom_joint(self) -> None:
        s = self.session
        j = s.joint
        zoomed = 0
        for p in self.shown_panels:
            clicks = s.clicks(p.camera)[j]
            at = clicks if np.isfinite(clicks).all() else s.reprojection(p.camera)[j]
            if np.isfinite(at).all():
                side = min(p.canvas.width(), p.canvas.height())
                p.centre_on(at, side / ZOOM_JOINT_SPAN_PX)
                zoomed += 1
        if not zoomed:
            self.notify(f"{self._name()} is not placed in any shown view yet: nothing to zoom "
                        "to (X fits the hands)", 5000)
        self.repaint_panels()

    def act_fit_hands(self) -> None:
        s = self.session
        fitted = 0
        for p in self.shown_panels:
            pts = np.concatenate([s.reprojection(p.camera), s.clicks(p.camera)])
            if p.fit_points(pts):
                fitted += 1
            else:
                p.fit_image()
        if not fitted:
            self.notify("no joint is placed or proposed here yet: whole images shown", 4000)
        self.repaint_panels()

    def act_fit_images(self) -> None:
        for p in self.panels:
            p.fit_image()
        self.repaint_panels()

    def act_toggle_skeleton(self) -> None:
        self.show_skeleton = not self.show_skeleton
        self._stale.add("labels")
        self.sync_toggles()
        self.flush()

    def act_toggle_epipolar(self) -> None:
        self.show_epipolar = not self.show_epipolar
        self._stale.add("labels")
        self.sync_toggles()
        self.flush()

    def act_auto_views(self) -> None:
        if self.read_only:
            self._local_views.clear()
            self._stale.add("views")
            self.flush()
            return
        self.intent(self.session.choose_views)

    def set_levels(self, brightness: int | None = None, contrast: float | None = None) -> None:
        if brightness is not None:
            self.brightness = int(np.clip(brightness, -128, 128))
        if contrast is not None:
            self.contrast = float(np.clip(contrast, 0.25, 4.0))
        lut = self._lut()
        for p in self.panels:
            p.set_levels(lut)
        self.sync_toggles()
        self.repaint_panels()

    def act_brighter(self) -> None:
        self.set_levels(brightness=self.brightness + 16)

    def act_darker(self) -> None:
        self.set_levels(brightness=self.brightness - 16)

    def act_more_contrast(self) -> None:
        self.set_levels(contrast=self.contrast * 1.15)

    def act_less_contrast(self) -> None:
        self.set_levels(contrast=self.contrast / 1.15)

    def act_reset_image(self) -> None:
        self.set_levels(0, 1.0)

    def act_help(self) -> None:
        self.help.setVisible(not self.help.isVisible())
        if self.help.isVisible():
            self.help.raise_()
            self.help.setGeometry(self.help.parentWidget().rect())

    # --- file -------------------------------------------------------------------------------
    def act_save(self) -> None:
        if self.refuse_if_read_only():
            return
        self.intent(self.session.save)
        self.notify("saved", 2000)

    def act_quit(self) -> None:
        self.close()

    def repaint_panels(self) -> None:
        for p in self.panels:
            p.canvas.repaint()

    def closeEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        """Save (when writable) and release the project on close."""
        self.autosave_timer.stop()
        if not self.read_only and self.session.dirty:
            try:
                self.session.save()
            except OSError as exc:
                self.notify(f"save failed: {exc}", 10000)
                ev.ignore()
                return
        QApplication.instance().removeEventFilter(self)
        self._unsubscribe()
        ev.accept()
