"""The main window: six synchronised panels, the joint list, the review queue.

A view over :class:`annotator.session.AnnotationSession`: user intents go to the session
(:mod:`gui.actions`), the session's change events mark what is stale, and :meth:`flush`
redraws exactly that once per intent. All decoding goes through :class:`ImageCache` with
prefetch of the neighbouring instants.
"""

from __future__ import annotations

import logging

import numpy as np
from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtWidgets import (
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from annotator import skeleton
from annotator.session.edits import DISAGREE_PREFIX
from annotator.team import bone_check
from gui import mouse, overlay, theme
from gui.actions import ActionsMixin
from gui.bone_chart import BoneChart
from gui.epipolar import display_curve
from gui.help_overlay import HelpOverlay
from gui.image_cache import ImageCache
from gui.joint_list import JointList
from gui.panel import ImagePanel
from gui.question_bar import QuestionBar
from gui.toolbar import build_toolbar

__all__ = ["MainWindow", "NUM_PANELS"]

log = logging.getLogger(__name__)
NUM_PANELS = 6
_J = skeleton.NUM_JOINTS
#: 3D provenance -> how the overlay draws the joint (labels solid, proposals dashed).
_SOURCE_KIND = {"human": overlay.SOURCE_HUMAN, "imported": overlay.SOURCE_HUMAN,
                "machine": overlay.SOURCE_PROPOSAL}


class MainWindow(ActionsMixin, QMainWindow):
    """The annotation window over one session.

    Args:
        session: an ``AnnotationSession`` (its store open for writing, or read-only).
        read_only: refuse edits (the project is open elsewhere for writing).
        cache: image cache (a fresh one by default).
        autosave_ms: period of the autosave check (``session.maybe_autosave``).
        prefetch: decode the neighbouring instants' images in the background.
    """

    def __init__(self, session, *, read_only: bool = False, cache: ImageCache | None = None,
                 autosave_ms: int = 1000, prefetch: bool = True):
        super().__init__()
        self.session = session
        self.store = session.store
        self.read_only = read_only or not getattr(self.store, "writable", True)
        self.cache = cache if cache is not None else ImageCache()
        self.prefetch_enabled = prefetch
        self.show_skeleton = True
        self.show_epipolar = True
        self.auto_advance = True
        self.brightness = 0
        self.contrast = 1.0
        self.space_down = False
        self.hover_panel = 0
        self._stale: set[str] = set()
        self._stale_joints: set[int] = set()
        self._message_serial = 0
        self._intent_serial = 0
        self._in_intent = 0
        self._status = np.zeros(_J, dtype=object)
        self._states: list = [None] * _J
        self._cam_index = {c: i for i, c in enumerate(self.store.camera_names)}
        # Per-instant lookups cached here: the store reads HDF5 for each of them.
        self.num_instants = int(self.store.num_instants)
        self._paths: list = []
        self._paths_cache: dict[int, list] = {}
        self._local_views: dict[int, str] = {}
        self._rig = None
        self._completion = None
        self._shown_instant: int | None = None
        self._done_here = 0
        self._reasons_here: tuple = ()
        self._prefetch_timer = QTimer(self)
        self._prefetch_timer.setSingleShot(True)
        self._prefetch_timer.setInterval(0)
        self._prefetch_timer.timeout.connect(self.prefetch_neighbours)

        self.setWindowTitle("annotator")
        self.panels: list[ImagePanel] = []
        grid_host = QWidget(self)
        grid = QGridLayout(grid_host)
        grid.setContentsMargins(2, 2, 2, 2)
        grid.setSpacing(3)
        for k in range(NUM_PANELS):
            panel = ImagePanel(k, list(self.store.camera_names), grid_host,
                               space_held=lambda: self.space_down)
            panel.clicked.connect(self._panel_clicked)
            panel.dragged.connect(self._panel_dragged)
            panel.cameraChosen.connect(self._panel_camera)
            panel.hovered.connect(self._panel_hovered)
            # A new display size makes the prefetched shrunk copies stale: prefetch again.
            panel.resized.connect(lambda _k: self.prefetch_enabled and
                                  self._prefetch_timer.start())
            panel.cache = self.cache
            grid.addWidget(panel, k // 3, k % 3)
            self.panels.append(panel)

        side = QWidget(self)
        side_lay = QVBoxLayout(side)
        side_lay.setContentsMargins(4, 2, 2, 2)
        self.current_label = QLabel(side)
        self.current_label.setTextFormat(Qt.RichText)
        side_lay.addWidget(self.current_label)
        self.joint_list = JointList(side)
        self.joint_list.jointSelected.connect(lambda j: self.intent(self.session.select_joint, j))
        side_lay.addWidget(self.joint_list, 5)
        self.bone_chart = BoneChart(side)
        side_lay.addWidget(self.bone_chart)
        self._bone_stats = None
        # Saved labels change the subjects' statistics a little: measured again once the
        # app is idle a moment after a save, never on the way to a new instant.
        self._bone_timer = QTimer(self)
        self._bone_timer.setSingleShot(True)
        self._bone_timer.setInterval(2000)
        self._bone_timer.timeout.connect(self._refresh_bone_stats)
        self._subjects = bone_check.subject_of_instants(self.store)
        review_title = QLabel("<b>Review queue</b> (flagged instants)", side)
        review_title.setToolTip(
            "instants flagged for review: by the machine stage's quality checks, or by you "
            "when a click disagreed with a joint's other clicks and you kept it")
        side_lay.addWidget(review_title)
        self.review_list = QListWidget(side)
        self.review_list.setFocusPolicy(Qt.NoFocus)
        self.review_list.itemClicked.connect(self._review_clicked)
        side_lay.addWidget(self.review_list, 1)

        left = QWidget(self)
        left_lay = QVBoxLayout(left)
        left_lay.setContentsMargins(0, 0, 0, 0)
        left_lay.setSpacing(0)
        self.question = QuestionBar(left)
        self.question.kept.connect(self._keep_disagreeing)
        self.question.undone.connect(self.act_undo)
        self._asked_joint: int | None = None
        left_lay.addWidget(self.question)
        left_lay.addWidget(grid_host, 1)
        split = QSplitter(Qt.Horizontal, self)
        split.addWidget(left)
        split.addWidget(side)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 0)
        split.setSizes([1160, 400])
        self.setCentralWidget(split)
        self.help = HelpOverlay(grid_host)
        self.help.hide()

        self.toolbar = build_toolbar(self)
        self.status_progress = QLabel(self)
        self.status_instant = QLabel(self)
        self.status_saved = QLabel(self)
        # Messages get their own label beside the instant's: QStatusBar.showMessage paints
        # over the normal widgets (Qt 5), which garbled both texts.
        self.status_message = QLabel(self)
        self.status_message.setStyleSheet("color: #e5c07b")
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(self.status_message.clear)
        self.statusBar().addWidget(self.status_instant)
        self.statusBar().addWidget(self.status_message, 1)
        self.statusBar().addPermanentWidget(self.status_progress)
        self.statusBar().addPermanentWidget(self.status_saved)
        self.install_shortcuts()
        self._unsubscribe = session.subscribe(self._on_event)

        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(max(50, int(autosave_ms)))
        self.autosave_timer.timeout.connect(self._autosave_tick)
        if not self.read_only:
            self.autosave_timer.start()
        self._stale = {"instant"}
        self.flush(repaint=False)

    def notify(self, text: str, ms: int = 4000) -> None:
        """Show ``text`` in the status bar for ``ms`` milliseconds (beside the instant);
        cleared earlier when the selected joint or the instant changes."""
        self.status_message.setText(text)
        self._message_timer.start(max(1, int(ms)))
        self._message_serial += 1

    # --- events from the session -------------------------------------------------------------
    def _on_event(self, ev) -> None:
        self._stale.add(ev.kind)
        if ev.kind == "saved" and not self._bone_timer.isActive():
            self._bone_timer.start()
        if ev.kind == "labels":
            if ev.joint is None:
                self._stale_joints.update(range(_J))
            else:
                self._stale_joints.add(int(ev.joint))
        if not self._in_intent:
            QTimer.singleShot(0, self.flush)

    def intent(self, fn, *args, **kwargs):
        """Run one user intent on the session, then redraw what it changed (synchronously).

        Errors the user can fix (a click outside the image, a read-only project) go to the
        status bar instead of a crash.
        """
        if not self._in_intent:
            self._intent_serial = self._message_serial
        self._in_intent += 1
        try:
            return fn(*args, **kwargs)
        except (ValueError, RuntimeError, IndexError, OSError) as exc:
            log.info("refused: %s", exc)
            self.notify(str(exc), 6000)
            self._stale.update(("labels", "views"))
            return None
        finally:
            self._in_intent -= 1
            if not self._in_intent:
                self.flush()

    def flush(self, repaint: bool = True) -> None:
        """Bring widgets up to date with the session for everything marked stale."""
        stale, self._stale = self._stale, set()
        if not stale:
            return
        s = self.session
        if ("joint" in stale or "instant" in stale) and (
                self._message_serial == self._intent_serial):
            # A new selection: messages about the previous one no longer apply.
            self.status_message.clear()
        if "instant" in stale:
            self.question.hide()
            if self._completion is not None and self._shown_instant is not None:
                # the instant left keeps the count it had on screen (no store read per switch)
                self._set_done(self._shown_instant, self._done_here)
            self._shown_instant = s.instant
            self._local_views.clear()
            self._paths = self.image_paths(s.instant)
            rig = self.store.rig(self.store.instant(s.instant).capture)
            if rig is not self._rig:
                for panel in self.panels:
                    panel.set_cameras(rig.names)
            self._rig = rig
            self._instant_text = self._describe_instant()
            self._stale_joints = set(range(_J))
            stale |= {"views", "labels", "joint", "saved"}
            self._reasons_here = tuple(s.review_reasons())
            self._refresh_review()
        if self._completion is None:
            self._count_progress()
        if "views" in stale:
            self._load_views()
            stale.add("labels")
        if "labels" in stale or "joint" in stale:
            todo = sorted(self._stale_joints)
            for j, st in zip(todo, s.joint_states(todo) if todo else [], strict=True):
                self._states[j] = st
                self._status[j] = st.status
                self.joint_list.set_state(j, st)
            self._stale_joints.clear()
            self._done_here = int(s.joints_done().sum())
            reasons = tuple(s.review_reasons())
            if reasons != self._reasons_here:  # a click flagged (or cleared) this instant
                self._reasons_here = reasons
                self._refresh_review()
            self._update_hand_rows()
            self._update_overlays()
            self._update_bone_chart()
        if "joint" in stale:
            if self.question.isVisible() and s.joint != self._asked_joint:
                self.question.hide()  # moved on: the click stays kept (and flagged)
            self.joint_list.set_current(s.joint)
            self._update_current_label()
        self._update_title()
        if "instant" in stale and self.prefetch_enabled:
            # After this redraw, from the event loop: the switch itself stays fast.
            self._prefetch_timer.start()
        if repaint:
            for p in self.panels:
                p.canvas.repaint()
        else:
            for p in self.panels:
                p.canvas.update()

    # --- refreshers ---------------------------------------------------------------------------
    def shown_views(self) -> list[str]:
        """The session's views with this window's read-only panel choices applied."""
        views = list(self.session.views)
        for k, cam in self._local_views.items():
            if k < len(views):
                views[k] = cam
        return views

    def _load_views(self) -> None:
        views = self.shown_views()
        if self._paths:
            # Images not prefetched are decoded in parallel by the cache's threads.
            self.cache.prefetch(self._paths[self._cam_index[c]] for c in views)
        for k, panel in enumerate(self.panels):
            # a rig of fewer cameras than panels: the panels left over are hidden
            panel.setVisible(k < len(views))
        for panel, cam in zip(self.panels, views, strict=False):
            rig_cam = self._camera(cam)
            panel.set_camera(cam, (rig_cam.width, rig_cam.height) if rig_cam else (512, 334))
            path = self._paths[self._cam_index[cam]] if self._paths else None
            panel.set_image(self.cache.get(path))

    @property
    def shown_panels(self) -> list:
        """The panels showing a camera (all six, unless the rig has fewer cameras)."""
        return [p for p in self.panels if p.camera]

    def _camera(self, name: str):
        rig = self._rig
        return rig[name] if rig is not None and name in rig else None

    def image_paths(self, i: int) -> list:
        """Image paths of instant ``i`` (project camera order), cached for a few instants."""
        paths = self._paths_cache.get(i)
        if paths is None:
            paths = list(self.store.image_paths(i))
            if len(self._paths_cache) >= 16:
                self._paths_cache.pop(next(iter(self._paths_cache)))
            self._paths_cache[i] = paths
        return paths

    def _count_progress(self) -> None:
        """Done joints of every instant from the store, read once (then the current
        instant is counted live and kept when the annotator moves on)."""
        self._completion = self.session.completion()
        self._totals = [self._completion.instants_complete, self._completion.joints_done]

    def _set_done(self, i: int, done: int) -> None:
        old = int(self._completion.joints[i])
        self._totals[0] += int(done == _J) - int(old == _J)
        self._totals[1] += int(done) - old
        self._completion.joints[i] = int(done)

    def progress(self) -> tuple[int, int, int, int]:
        """(complete instants, instants, done joints, joints) as ``session.progress()`` and
        ``session.joint_progress()`` count them, without a store read per click."""
        c = self._completion
        here = int(c.joints[self.session.instant])
        complete = self._totals[0] - int(here == _J) + int(self._done_here == _J)
        joints = self._totals[1] - here + self._done_here
        return complete, c.instants, joints, c.joints_total

    def _describe_instant(self) -> str:
        inst = self.store.instant(self.session.instant)
        return (f"instant {self.session.instant + 1}/{self.num_instants}  ·  capture "
                f"{inst.capture}  ·  {inst.sequence}  ·  frame {inst.frame}")

    def _update_overlays(self) -> None:
        s = self.session
        source = np.array([_SOURCE_KIND.get(st.source, overlay.SOURCE_NONE)
                           if st.status != "hand_absent" else overlay.SOURCE_NONE
                           for st in self._states], dtype=np.int64)
        flagged = np.array([bool(st.flagged) for st in self._states])
        epi_from = self._epipolar_source() if self.show_epipolar else None
        counts = s.click_counts()
        for panel in self.shown_panels:
            cam = panel.camera
            occluded = np.array([cam in st.occluded_in for st in self._states])
            locked = np.array([cam in st.locked_in for st in self._states])
            epi = None
            if epi_from is not None and cam != epi_from[0] and cam in self._rig:
                epi = display_curve(self._rig, epi_from[0], epi_from[1], cam)
            clicks = s.clicks(cam)
            panel.set_overlay(overlay.PanelOverlayInput(
                clicks_px=clicks, reproj_px=s.reprojection(cam), source=source,
                current_joint=s.joint, epipolar_px=epi, flagged=flagged, occluded=occluded,
                locked=locked, show_skeleton=self.show_skeleton,
                show_epipolar=self.show_epipolar))
            n = counts.get(cam, 0)
            panel.set_title(f"{n} click{'s' if n != 1 else ''}" if n else "")
            panel.set_cameras(self._rig.names, counts)

    def _epipolar_source(self) -> tuple[str, np.ndarray] | None:
        """(camera, uv px) of the current joint's single click, when it has exactly one."""
        st = self._states[self.session.joint]
        if st is None or st.n_views != 1 or len(st.reproj_error_px) != 1:
            return None
        cam = next(iter(st.reproj_error_px))
        uv = self.session.clicks(cam)[self.session.joint]
        return (cam, uv) if np.isfinite(uv).all() else None

    def _update_hand_rows(self) -> None:
        for h, hand in enumerate(skeleton.HANDS):
            st = self._states[skeleton.ROOT_INDEX[hand]]
            absent = st is not None and st.status == "hand_absent"
            js = skeleton.hand_joints(hand)
            done = sum(1 for j in js if self._status[j] in ("triangulated",))
            self.joint_list.set_hand_text(h, "absent" if absent else f"{done}/{len(js)} in 3D")

    def bone_stats(self):
        """The subjects' bone statistics (``bone_check.subject_bone_stats`` of the human and
        imported labels), measured on first use and again a moment after each save."""
        if self._bone_stats is None:
            self._bone_stats = bone_check.subject_bone_stats(
                self.store, sources=("human", "imported"))
        return self._bone_stats

    def _refresh_bone_stats(self) -> None:
        self._bone_stats = None
        self._update_bone_chart()

    def _update_bone_chart(self) -> None:
        s = self.session
        subject = int(self._subjects[s.instant])
        joints = np.stack([s.joint_point(j) for j in range(_J)])
        self.bone_chart.set_bones(
            bone_check.instant_bones(self.bone_stats(), subject, joints), subject)

    def _update_current_label(self) -> None:
        j = self.session.joint
        r, g, b = theme.joint_rgb(j)
        name = skeleton.JOINT_NAMES[j]
        self.current_label.setText(
            f"<span style='font-size:15pt; color:rgb({r},{g},{b})'>●</span> "
            f"<span style='font-size:13pt'><b>{name}</b></span> "
            f"<span style='color:#8c9198'>joint {j} · {skeleton.HAND_OF_JOINT[j]} hand</span>")

    def _update_title(self) -> None:
        s = self.session
        done, total, jdone, jtotal = self.progress()
        ro = " [read-only]" if self.read_only else ""
        mark = "● " if s.dirty else ""
        self.setWindowTitle(f"{mark}{self.store.name} — instant {s.instant + 1}/{total}{ro}"
                            " — annotator")
        self.status_instant.setText(self._instant_text)
        self.status_progress.setText(
            f"complete {done}/{total} instants · joints {jdone}/{jtotal} "
            f"({100.0 * jdone / max(jtotal, 1):.0f} %)")
        self.status_progress.setToolTip(
            "an instant is complete when every joint of it is in 3D, marked occluded in all "
            "views but one, or its hand is marked absent; joints: the same over all instants")
        self.status_saved.setText("read-only" if self.read_only else
                                  ("● unsaved" if s.dirty else "saved"))

    def _refresh_review(self) -> None:
        self.review_list.clear()
        for i in self.session.review_queue():
            inst = self.store.instant(int(i))
            reasons = self.session.review_reasons(int(i))
            first = reasons[0][1] if reasons else ""
            more = f" (+{len(reasons) - 1})" if len(reasons) > 1 else ""
            item = QListWidgetItem(f"{int(i) + 1:5d}  {inst.sequence}  frame {inst.frame}"
                                   f"  ·  {first}{more}")
            item.setToolTip("\n".join(
                (skeleton.JOINT_NAMES[j] + ": " if j is not None else "instant: ") + r
                for j, r in reasons))
            item.setData(Qt.UserRole, int(i))
            if int(i) == self.session.instant:
                item.setSelected(True)
            self.review_list.addItem(item)
        if not self.review_list.count():
            empty = QListWidgetItem("nothing flagged for review")
            empty.setFlags(Qt.NoItemFlags)
            self.review_list.addItem(empty)

    def _lut(self) -> np.ndarray | None:
        if self.brightness == 0 and self.contrast == 1.0:
            return None
        x = np.arange(256, dtype=np.float64)
        return np.clip((x - 128.0) * self.contrast + 128.0 + self.brightness, 0, 255
                       ).astype(np.uint8)

    def prefetch_neighbours(self) -> None:
        """Queue the decoding of the images the previous and next instants will show (the
        session's panel cameras there, shrunk to each panel's display size)."""
        s = self.session
        sizes = [p.display_size() for p in self.panels]
        for i in (s.instant + 1, s.instant - 1):
            if 0 <= i < self.num_instants:
                paths = self.image_paths(i)
                try:
                    views = s.views_at(i)
                except (ValueError, OSError):
                    views = [p.camera for p in self.panels]
                pairs = [(paths[self._cam_index[c]], size)
                         for c, size in zip(views, sizes, strict=False) if c in self._cam_index]
                self.cache.prefetch_display((p, size) for p, size in pairs if size)
                self.cache.prefetch(p for p, size in pairs if not size)

    # --- panel signals ------------------------------------------------------------------------
    def _panel_clicked(self, k: int, u: float, v: float, joint: int) -> None:
        if self.refuse_if_read_only():
            self.flush()
            return
        panel = self.panels[k]
        cam = panel.camera
        self.hover_panel = k
        s = self.session
        if joint < 0:
            radius = 0.0 if joint == ImagePanel.PLACE_CURRENT else (
                mouse.PICK_RADIUS / max(panel.viewport.scale, 1e-9))
            self.intent(self._place, cam, (u, v), radius)
        else:
            self.intent(s.click, cam, (u, v), joint=joint)
            self._after_click(joint, cam)

    def _place(self, cam: str, uv, radius: float) -> None:
        res = self.session.place(cam, uv, pick_radius_px=radius, advance=self.auto_advance)
        if res.message:
            self.notify(res.message + " (Shift+click places the selected joint)", 8000)
        self._after_click(res.joint, cam, res.disagreement)

    def _after_click(self, j: int, cam: str, disagreement: str | None = None) -> None:
        """Ask about joint ``j``'s clicks when they disagree; hide the question once they
        agree again. ``disagreement``: the reason, when the caller has it already."""
        if disagreement is None:
            reason = self.session.joint_state(j).flag_reason
            disagreement = reason if reason.startswith(DISAGREE_PREFIX) else None
        if disagreement:
            self._ask_disagreement(j, disagreement, cam)
        elif self.question.isVisible() and self._asked_joint == j:
            self.question.hide()  # the joint's clicks agree again

    def _ask_disagreement(self, j: int, reason: str, cam: str) -> None:
        self._asked_joint = j
        self.question.ask(
            f"<b>⚑ {skeleton.JOINT_NAMES[j]}: the click in camera {cam} does not agree with "
            f"the joint's other clicks.</b> {reason[len(DISAGREE_PREFIX):].strip()}. A kept "
            "click puts the instant in the review queue; drag a click to fix it.")

    def _keep_disagreeing(self) -> None:
        j = self._asked_joint
        self._asked_joint = None
        if self.auto_advance and j is not None and j == self.session.joint:
            self.intent(self.session.next_joint, +1)
        self.notify("kept; the instant is in the review queue", 4000)

    def _panel_dragged(self, k: int, joint: int, u: float, v: float) -> None:
        """Live view of a dragged click: the joint's reprojection in the other panels."""
        cam = self.panels[k].camera
        try:
            uv = self.session.preview_click(cam, (u, v), joint)
        except ValueError:
            return
        index = {c: n for n, c in enumerate(self.session.cameras)}
        for p in self.panels:
            if p.index != k and p.camera in index:
                p.preview_joint(joint, uv[index[p.camera]])

    def _panel_camera(self, k: int, cam: str) -> None:
        if self.read_only:
            # Browsing: the choice stays in this window (the session's choice is an edit).
            self._local_views[k] = cam
            self._stale.add("views")
            self.flush()
            return
        self.intent(self.session.set_view, k, cam)

    def _panel_hovered(self, k: int) -> None:
        self.hover_panel = k
        for p in self.panels:
            active = p.index == k
            if p.active != active:
                p.active = active
                p.canvas.update()

    def _review_clicked(self, item: QListWidgetItem) -> None:
        i = item.data(Qt.UserRole)
        if i is not None:
            self.intent(self.session.goto, int(i))

    def _autosave_tick(self) -> None:
        if self.read_only:
            return
        try:
            if self.session.maybe_autosave():
                self._update_title()
        except OSError as exc:
            self.notify(f"autosave failed: {exc}", 10000)
