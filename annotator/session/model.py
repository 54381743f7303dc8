"""The annotation session: the pure-Python model behind the six-view app (no Qt).

``AnnotationSession(store, annotator="ana")`` keeps the current instant, the six cameras
shown, the current joint and an undo history, and turns intents (click, drag, delete,
occluded here, lock view, hand absent, accept proposal, change a panel's camera) into
labels. Every edit writes through to the store at once (pending until ``save()``):

- two usable clicks of a joint triangulate it (weighted DLT over all its clicked views; a
  locked view weighs :data:`~annotator.session.instant.LOCK_WEIGHT`) into the instant's
  human 3D joint, with the clicks and provenance (annotator, time);
- the 3D joints are reprojected into every camera of the instant's rig;
- fewer than two usable clicks clear a 3D joint that came from clicks (a machine proposal
  it had replaced comes back);
- occluded / locked marks are stored per (camera, joint) (``store.set_view_state``).

Change events (:class:`SessionEvent`) go to ``subscribe``\\ d callbacks after each change;
the GUI redraws from them. ``maybe_autosave`` saves a few seconds after the last edit.
Edits and undo/redo live in :mod:`annotator.session.edits`, the per-instant working copy
in :mod:`annotator.session.instant`, the automatic view choice in
:mod:`annotator.session.views`. ``docs/annotation.md`` describes the model.
"""

from __future__ import annotations

import contextlib
import logging
import time as _time
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from annotator import skeleton
from annotator.session.edits import DISAGREE_PREFIX, SessionEdits
from annotator.session.history import History
from annotator.session.instant import HUMAN_SOURCES, InstantWork
from annotator.session.progress import Completion, joints_done, project_completion
from annotator.session.types import JointState, PlaceResult, SessionEvent
from annotator.session.views import choose_views, score_cameras
from annotator.store.store_labels import VIEW_LOCKED, VIEW_OCCLUDED
from triangulation import epipolar_line, project

__all__ = ["AnnotationSession", "JointState", "PlaceResult", "SessionEvent", "PANELS",
           "ERROR_FLAG_PX"]

logger = logging.getLogger(__name__)

#: Panels of the app (2 x 3).
PANELS = 6
#: A click whose reprojection error exceeds this (px) is flagged in the joint list.
ERROR_FLAG_PX = 5.0
#: Points on an epipolar curve (dense enough that its chords stay within ~0.2 px of the curve).
EPIPOLAR_SAMPLES = 256
#: Visited instants kept in memory (their machine proposals and panel overrides).
_CACHE_INSTANTS = 64
#: A camera of the previous instant's panels is kept when it sees at least this share of
#: the estimated joints (relative to the camera that sees most) ...
KEEP_COVERAGE = 0.9
#: ... and scores at least this share of the best camera's view score.
KEEP_SCORE = 0.3
#: Earlier instants with saved panel cameras looked at for one of the same capture.
_VIEW_LOOKBACK = 8
J = skeleton.NUM_JOINTS


class AnnotationSession(SessionEdits):
    """Session model over an open :class:`~annotator.store.ProjectStore` (see module doc).

    Args:
        store: the project, opened with ``mode="w"`` to edit (read-only stores can be
            browsed; edits raise ``ValueError``).
        annotator: name stored as provenance of clicks and 3D joints.
        autosave_s: seconds after the last edit that :meth:`maybe_autosave` saves; None or
            0 turns autosave off (then :meth:`goto` does not save either).
        clock: monotonic seconds, injectable for tests.
        wall_clock: unix seconds stamped on clicks and 3D joints as their time (a
            simulated annotator passes its own clock).
        error_flag_px: click reprojection error flagged in :meth:`joint_state`.
        instant: the instant to open first.
    """

    def __init__(
        self,
        store,
        annotator: str = "",
        autosave_s: float | None = 3.0,
        clock: Callable[[], float] = _time.monotonic,
        error_flag_px: float = ERROR_FLAG_PX,
        instant: int = 0,
        wall_clock: Callable[[], float] = _time.time,
    ):
        if store.num_instants == 0:
            raise ValueError(f"{store.path}: the project has no instants to annotate")
        self.store = store
        store.instants()  # loads the instant columns once: per-instant lookups stay in memory
        self.annotator = str(annotator)
        self.autosave_s = None if not autosave_s else float(autosave_s)
        self.clock = clock
        self.wall_clock = wall_clock
        self.error_flag_px = float(error_flag_px)
        self.history = History()
        self._subscribers: list[Callable[[SessionEvent], None]] = []
        self._cache: OrderedDict[int, InstantWork] = OrderedDict()
        self._auto: dict[int, list[str]] = {}
        # panel choices of evicted instants in a read-only session (a writable one saves them)
        self._overrides: dict[int, tuple[str, ...]] = {}
        self._last_edit: float | None = None
        self._was_dirty = bool(store.dirty)
        self._joint = 0
        self._work = self._load(self._check_instant(instant))

    # -- events --------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[SessionEvent], None]) -> Callable[[], None]:
        """Call ``callback(SessionEvent)`` after every change; returns the unsubscriber."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, kind: str, joint: int | None = None, camera: str | None = None) -> None:
        event = SessionEvent(kind, self._work.index, joint, camera)
        for cb in list(self._subscribers):
            cb(event)

    def _emit_dirty(self) -> None:
        d = self.dirty
        if d != self._was_dirty:
            self._was_dirty = d
            self._emit("dirty")

    # -- instants ------------------------------------------------------------------------
    @property
    def instant(self) -> int:
        return self._work.index

    def _check_instant(self, i) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise ValueError(f"instant must be an integer index, got {i!r}")
        if not 0 <= int(i) < self.store.num_instants:
            raise ValueError(
                f"instant {i} out of range 0..{self.store.num_instants - 1} of {self.store.path}"
            )
        return int(i)

    def _load(self, i: int) -> InstantWork:
        work = self._cache.pop(i, None)
        if work is None:
            work = InstantWork(self.store, i)
            if i in self._overrides:  # a read-only session's panel choice (not in the store)
                work.views = self._overrides.pop(i)
        self._cache[i] = work
        while len(self._cache) > _CACHE_INSTANTS:
            k, old = self._cache.popitem(last=False)
            if old.views is not None and not self.store.writable:
                self._overrides[k] = old.views
        return work

    def reload(self) -> None:
        """Re-read the current instant from the store (after another writer changed it,
        e.g. merged machine labels); panel overrides and the undo history are kept."""
        views = self._work.views
        self._cache.pop(self._work.index, None)
        self._auto.pop(self._work.index, None)
        self._work = self._load(self._work.index)
        self._work.views = views
        self._emit("instant")
        self._emit("views")

    def goto(self, i: int) -> None:
        """Make ``i`` the current instant (saving pending edits first when autosave is on)."""
        i = self._check_instant(i)
        if self.autosave_s and self.dirty:
            self.save()
        if i == self._work.index:
            return
        self._work = self._load(i)
        self._emit("instant")
        self._emit("views")

    def step_instant(self, delta: int = 1) -> None:
        """Go ``delta`` instants forward (negative: back), clamped to the project."""
        self.goto(int(np.clip(self.instant + int(delta), 0, self.store.num_instants - 1)))

    def next_unlabelled(self) -> int | None:
        """Go to the next instant after the current one (wrapping) that is not complete
        (see :meth:`progress`); None when every instant is."""
        F = self.store.num_instants
        incomplete = self.completion().joints < J
        incomplete[self.instant] = not bool(self.joints_done().all())
        order = (self.instant + 1 + np.arange(F)) % F
        free = order[incomplete[order]]
        if free.size == 0:
            return None
        self.goto(int(free[0]))
        return int(free[0])

    def completion(self) -> Completion:
        """Done joints of every instant (see :mod:`annotator.session.progress`)."""
        return project_completion(self.store)

    def progress(self) -> tuple[int, int]:
        """(complete instants, all instants): an instant counts once every joint of it is
        in 3D, marked occluded, or its hand marked absent (one placed joint is not enough)."""
        c = self.completion()
        return c.instants_complete, c.instants

    def joint_progress(self) -> tuple[int, int]:
        """(done joints, joints of all instants), done as in :meth:`progress`."""
        c = self.completion()
        return c.joints_done, c.joints_total

    def joints_done(self) -> np.ndarray:
        """(J,) bool done joints of the current instant (as :meth:`progress` counts them)."""
        w = self._work
        return joints_done(self.labelled_joints(), w.hands, w.states)

    def review_queue(self) -> list[int]:
        """Instants flagged for review in the store, ascending (a click that disagrees with
        the joint's other clicks puts its instant here at once)."""
        return [int(i) for i in self.store.flagged_instants()]

    def review_reasons(self, i: int | None = None) -> list[tuple[int | None, str]]:
        """(joint or None for the whole instant, reason) of instant ``i``'s review flags."""
        if i is None or int(i) == self.instant:
            r = self._work.reasons
            return [(None if k == 0 else k - 1, str(r[k])) for k in np.flatnonzero(r != "")]
        return [(None if j < 0 else j, reason)
                for j, reason in self.store.labels(self._check_instant(i)).flags]

    # -- views ---------------------------------------------------------------------------
    @property
    def cameras(self) -> list[str]:
        """All cameras of the current instant's rig (what a panel may show), rig order."""
        return list(self._work.cameras)

    @property
    def rig(self):
        """The current instant's :class:`~triangulation.CameraRig` (its capture's cameras)."""
        return self._work.rig

    @property
    def views(self) -> list[str]:
        """Cameras shown in the panels, in panel order (fewer than six for small rigs).

        The cameras saved for this instant (chosen by hand with :meth:`set_view`, or the
        ones shown when it was first edited); else :meth:`continued_views`. The same list
        after saving and reopening the project.
        """
        w = self._work
        if w.views is not None:
            return list(w.views)
        if w.index not in self._auto:
            self._auto[w.index] = self.continued_views(PANELS)
        return list(self._auto[w.index])

    def views_at(self, i: int) -> list[str]:
        """What :attr:`views` will be at instant ``i`` (to prefetch its images); loads the
        instant into the session's cache, so going there later is cheaper. No events."""
        i = self._check_instant(i)
        cur = self._work
        if i == cur.index:
            return self.views
        work = self._load(i)
        try:
            self._work = work
            return self.views
        finally:
            self._work = cur
            if cur.index in self._cache:
                self._cache.move_to_end(cur.index)

    def continued_views(self, n: int = PANELS) -> list[str]:
        """The automatic panel cameras of an instant without saved ones.

        Starts from the nearest earlier instant of the same capture that has saved panel
        cameras (so moving between instants keeps the views) and keeps each of its cameras,
        in its panel, that still sees the hands (see :data:`KEEP_COVERAGE`); the other
        panels get :meth:`auto_views`' choice, spread away from the kept ones. Depends only
        on what the project holds, so it is the same after reopening.
        """
        w = self._work
        prev = self._previous_views()
        if not prev:
            return self.auto_views(n)
        est = w.estimate()
        if not np.isfinite(est[:, 0]).any():
            est = self._neighbour_estimate()
        scores = score_cameras(w.rig, est)
        ok = scores.coverage >= KEEP_COVERAGE * max(float(scores.coverage.max()), 1e-9)
        ok &= scores.score >= KEEP_SCORE * float(scores.score.max())
        kept = [c if c in w.cam_index and ok[w.cam_index[c]] else None for c in prev[:n]]
        kept += [None] * (min(n, len(w.cameras)) - len(kept))
        mask = np.ones(len(w.cameras), bool)
        mask[[w.cam_index[c] for c in kept if c is not None]] = False
        fill = iter([w.cameras[k] for k in choose_views(
            w.rig, est, max(1, kept.count(None)), mask,
            chosen=[w.cam_index[c] for c in kept if c is not None])] if kept.count(None) else [])
        return [c if c is not None else next(fill) for c in kept]

    def _previous_views(self) -> tuple[str, ...] | None:
        """Saved panel cameras of the nearest earlier instant of the same capture."""
        saved = self.store.instants_with_panel_views()
        earlier = saved[saved < self.instant][::-1][:_VIEW_LOOKBACK]
        for k in earlier.tolist():
            if self.store.instant(k).capture == self._work.capture:
                cached = self._cache.get(k)
                if cached is not None and cached.views is not None:
                    return cached.views
                return self.store.panel_views(k)
        return None

    def auto_views(self, n: int = PANELS, candidates=None) -> list[str]:
        """The ``n`` cameras of the current instant that see the hands best, spread apart.

        Uses this instant's 3D labels and proposals, else the nearest earlier labelled
        instant's (any later one if none), else cameras facing the rig centre.
        ``candidates``: optional camera names (or a (Cr,) bool mask) to choose among.
        Does not change :attr:`views`.
        """
        w = self._work
        mask = None
        if candidates is not None:
            c = np.asarray(candidates)
            if c.dtype == bool:
                if c.shape != (len(w.cameras),):
                    raise ValueError(f"candidates mask must have shape ({len(w.cameras)},)")
                mask = c
            else:
                mask = np.zeros(len(w.cameras), bool)
                mask[[self._camera(str(n_)) for n_ in c.ravel()]] = True
        est = w.estimate()
        if not np.isfinite(est[:, 0]).any():
            est = self._neighbour_estimate()
        return [w.cameras[k] for k in choose_views(w.rig, est, n, mask)]

    def _neighbour_estimate(self) -> np.ndarray | None:
        done = self.store.labelled_instants(None)
        done = done[done != self.instant]
        if done.size == 0:
            return None
        before = done[done < self.instant]
        k = int(before[-1]) if before.size else int(done[0])
        cached = self._cache.get(k)
        return cached.estimate() if cached is not None else self.store.labels(k).joints_world_mm

    def set_view(self, panel: int, camera: str) -> None:
        """Show ``camera`` in ``panel`` (a camera shown elsewhere swaps places); undoable."""
        views = self.views
        if isinstance(panel, bool) or not isinstance(panel, (int, np.integer)) or not (
            0 <= panel < len(views)
        ):
            raise ValueError(f"panel must be 0..{len(views) - 1}, got {panel!r}")
        self._camera(camera)
        if camera in views:
            views[views.index(camera)] = views[panel]
        views[panel] = camera
        with self._edit("set view", camera=camera, views_only=True):
            self._work.views = tuple(views)

    def choose_views(self) -> None:
        """Show the automatic choice again (drops this instant's panel overrides); undoable."""
        self._auto.pop(self.instant, None)
        had_override = self._work.views is not None
        with self._edit("auto views", views_only=True):
            self._work.views = None
        if not had_override:  # no undoable change, but the automatic choice was redone
            self._emit("views")

    # -- joints --------------------------------------------------------------------------
    @property
    def joint(self) -> int:
        return self._joint

    def select_joint(self, j: int) -> None:
        self._joint = self._joint_arg(j)
        self._emit("joint", joint=self._joint)

    def next_joint(self, delta: int = 1) -> None:
        """Select the joint ``delta`` steps on (wrapping), skipping joints of absent hands."""
        step = 1 if delta >= 0 else -1
        j = self._joint
        for _ in range(abs(int(delta))):
            for _ in range(J):
                j = (j + step) % J
                if self._work.hands[self._work.hand_of(j)] != 0:
                    break
            else:
                return  # both hands absent: stay
        self.select_joint(j)

    def _joint_arg(self, j) -> int:
        if j is None:
            return self._joint
        if isinstance(j, str):
            return skeleton.joint_index(j)
        if isinstance(j, bool) or not isinstance(j, (int, np.integer)) or not 0 <= j < J:
            raise ValueError(f"joint must be 0..{J - 1} or a joint name, got {j!r}")
        return int(j)

    def _camera(self, camera: str) -> int:
        k = self._work.cam_index.get(camera) if isinstance(camera, str) else None
        if k is None:
            raise ValueError(
                f"unknown camera {camera!r} for instant {self.instant} "
                f"(capture {self._work.capture!r} has {len(self._work.cameras)} cameras)"
            )
        return k

    def _hand(self, hand) -> int:
        if isinstance(hand, str) and hand in skeleton.HANDS:
            return skeleton.HANDS.index(hand)
        if isinstance(hand, (int, np.integer)) and not isinstance(hand, bool) and 0 <= hand < 2:
            return int(hand)
        raise ValueError(f"hand must be one of {skeleton.HANDS} or 0/1, got {hand!r}")

    # -- reads ---------------------------------------------------------------------------
    def joint_point(self, j: int | None = None) -> np.ndarray:
        """(3,) world mm of joint ``j``'s 3D label (human/imported); NaN when it has none."""
        j = self._joint_arg(j)
        w = self._work
        return w.points[j].copy() if w.is_label(j) else np.full(3, np.nan)

    def joint_state(self, j: int | None = None) -> JointState:
        """The joint list entry of joint ``j`` (see :class:`JointState`)."""
        return self.joint_states([self._joint_arg(j)])[0]

    def joint_states(self, joints=None) -> list[JointState]:
        """:meth:`joint_state` of each of ``joints`` (None: all), computed in one pass."""
        w = self._work
        idx = np.arange(J) if joints is None else np.asarray([self._joint_arg(j) for j in joints])
        uv = w.clicks[:, idx].copy()  # (Cr, K, 2)
        states = w.states[:, idx]
        uv[(states & VIEW_OCCLUDED) != 0] = np.nan
        clicked = np.isfinite(uv[..., 0])  # (Cr, K)
        err = np.hypot(*(w.uv[idx].transpose(1, 0, 2) - uv).transpose(2, 0, 1))  # (Cr, K)
        n = clicked.sum(axis=0)
        present = w.hands[[w.hand_of(int(j)) for j in idx]] != 0
        has_point = np.isfinite(w.points[idx, 0])
        any_occ = ((states & VIEW_OCCLUDED) != 0).any(axis=0)
        any_lock = ((states & VIEW_LOCKED) != 0).any(axis=0)
        none = np.zeros(0, np.int64)
        out = []
        for k, j in enumerate(idx.tolist()):
            cs = np.flatnonzero(clicked[:, k]) if n[k] else none
            e = err[cs, k]
            label = bool(has_point[k] and w.source[j] in HUMAN_SOURCES)
            if not present[k]:
                status = "hand_absent"
            elif label:
                status = "triangulated"
            elif n[k] == 1:
                status = "one_view"
            elif w.source[j] == "machine" and has_point[k]:
                status = "proposal"
            else:
                status = "none"
            reason = str(w.reasons[j + 1])
            big = bool(np.any(e > self.error_flag_px)) if n[k] >= 2 else False
            occ = np.flatnonzero(states[:, k] & VIEW_OCCLUDED) if any_occ[k] else none
            lock = np.flatnonzero(states[:, k] & VIEW_LOCKED) if any_lock[k] else none
            out.append(JointState(
                status=status,
                n_views=int(n[k]),
                reproj_error_px={w.cameras[c]: float(x) for c, x in zip(cs, e, strict=True)},
                mean_error_px=float(np.mean(e)) if n[k] >= 2 else float("nan"),
                source=str(w.source[j]),
                occluded_in=tuple(w.cameras[c] for c in occ),
                locked_in=tuple(w.cameras[c] for c in lock),
                flagged=big or bool(reason),
                flag_reason=reason,
            ))
        return out

    def click_counts(self) -> dict[str, int]:
        """Camera -> number of clicks it holds at this instant (cameras with clicks only)."""
        w = self._work
        n = np.isfinite(w.clicks[..., 0]).sum(axis=1)
        return {w.cameras[c]: int(n[c]) for c in np.flatnonzero(n)}

    def clicks(self, camera: str) -> np.ndarray:
        """(J, 2) px: this instant's clicks in ``camera``, NaN where none."""
        return self._work.clicks[self._camera(camera)].copy()

    def reprojection(self, camera: str) -> np.ndarray:
        """(J, 2) px: the current 3D joints (labels, else proposals) seen from ``camera``.

        NaN where a joint has no 3D point, is behind the camera, is marked occluded there
        or belongs to an absent hand.
        """
        w = self._work
        c = self._camera(camera)
        uv = w.uv[:, c].copy()
        uv[(w.states[c] & VIEW_OCCLUDED) != 0] = np.nan
        uv[np.repeat(w.hands == 0, skeleton.JOINTS_PER_HAND)] = np.nan
        return uv

    def epipolar_curve(self, camera: str, joint: int | None = None) -> np.ndarray | None:
        """(N, 2) px: in ``camera``, the epipolar curve of joint's single click in another
        camera (lens distortion included); None unless the joint has exactly one usable
        click and it is in another camera."""
        j = self._joint_arg(joint)
        w = self._work
        b = self._camera(camera)
        uv = w.usable_clicks(j)
        clicked = np.nonzero(np.isfinite(uv[:, 0]))[0]
        if clicked.size != 1 or clicked[0] == b:
            return None
        return epipolar_line(uv[clicked[0]], w.rig, int(clicked[0]), b, n_samples=EPIPOLAR_SAMPLES)

    def click_target(self, camera: str, uv_px, pick_radius_px: float = 0.0) -> int:
        """The joint a click at ``uv_px`` in ``camera`` acts on (see :meth:`place`).

        The selected joint, unless the click lands within ``pick_radius_px`` (image px) of
        the drawn marker of another joint that already has a 3D label (its reprojection or
        its click in this view) while the selected joint's marker is not that near: then
        the nearest such joint. ``pick_radius_px=0`` always returns the selected joint.
        """
        j0 = self._joint
        r = float(pick_radius_px)
        if not r > 0:
            return j0
        c = self._camera(camera)
        uv = np.asarray(uv_px, dtype=np.float64)
        w = self._work
        drawn = np.stack([w.clicks[c], self.reprojection(camera)])  # (2, J, 2)
        d = np.nanmin(np.where(np.isfinite(drawn).all(-1),
                               np.hypot(*(drawn - uv).transpose(2, 0, 1)), np.inf), axis=0)
        if d[j0] <= r:
            return j0
        d[~self.labelled_joints()] = np.inf
        k = int(np.argmin(d))
        return k if d[k] <= r else j0

    def place(self, camera: str, uv_px, pick_radius_px: float = 0.0,
              advance: bool = False) -> PlaceResult:
        """One annotator click: :meth:`click` on :meth:`click_target`'s joint.

        A click that goes to a joint other than the selected one selects that joint and
        says so in ``PlaceResult.message``. With ``advance``, the selection moves to the
        next joint once the clicked joint reaches two views, unless its clicks disagree
        (then ``PlaceResult.disagreement`` holds the review reason and the selection stays).
        Raises ValueError (nothing changed) as :meth:`click` does.
        """
        j0 = self._joint
        j = self.click_target(camera, uv_px, pick_radius_px)
        w = self._work
        before = w.n_views(j)
        self.click(camera, uv_px, joint=j)
        after = w.n_views(j)
        reason = str(w.reasons[j + 1])
        disagreement = reason if reason.startswith(DISAGREE_PREFIX) else None
        message = ""
        if j != j0:
            self.select_joint(j)
            message = (f"click added to {skeleton.JOINT_NAMES[j]}, whose marker it was on "
                       f"(now selected)")
        advanced = None
        if advance and j == j0 and before < 2 <= after and disagreement is None:
            self.next_joint(+1)
            advanced = self._joint if self._joint != j else None
        return PlaceResult(joint=j, selected_before=j0, advanced_to=advanced,
                           disagreement=disagreement, message=message)

    def preview_click(self, camera: str, uv_px, joint: int | None = None) -> np.ndarray:
        """(Cr, 2) px: where joint's 3D point would project in every rig camera (rig
        order, :attr:`cameras`) if its click in ``camera`` were at ``uv_px``; NaN when it
        would have fewer than two views. Changes nothing (the live view of a drag)."""
        j = self._joint_arg(joint)
        c = self._camera(camera)
        w = self._work
        saved = w.clicks[c, j].copy()
        saved_state = w.states[c, j]
        try:
            w.clicks[c, j] = np.asarray(uv_px, dtype=np.float64)
            w.states[c, j] &= ~VIEW_OCCLUDED
            point = w.triangulate_joint(j) if w.n_views(j) >= 2 else np.full(3, np.nan)
        finally:
            w.clicks[c, j] = saved
            w.states[c, j] = saved_state
        return project(point[None], w.rig)[0]

    def proposals(self) -> np.ndarray:
        """(J, 3) world mm: machine proposals of this instant (as opened), NaN where none."""
        return self._work.proposals.copy()

    @property
    def read_only(self) -> bool:
        return not self.store.writable

    # -- saving --------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        """Edits not yet saved to disk."""
        return bool(self.store.dirty)

    def save(self) -> None:
        """Save every pending edit through ``store.save()`` (one atomic commit)."""
        self.store.save()
        self._last_edit = None
        self._emit("saved")
        self._emit_dirty()

    def maybe_autosave(self, now: float | None = None) -> bool:
        """Save when dirty and ``autosave_s`` have passed since the last edit; True if saved."""
        if not self.autosave_s or not self.dirty or self.read_only:
            return False
        now = self.clock() if now is None else float(now)
        if self._last_edit is not None and now - self._last_edit < self.autosave_s:
            return False
        self.save()
        return True

    # -- helpers for callers -------------------------------------------------------------
    def labelled_joints(self) -> np.ndarray:
        """(J,) bool: joints of the current instant with a 3D label (human/imported)."""
        return np.isin(self._work.source.astype(str), HUMAN_SOURCES) & np.isfinite(
            self._work.points[:, 0]
        )

    def hand_present(self) -> np.ndarray:
        """(2,) int8 in skeleton.HANDS order: -1 unknown, 0 absent, 1 present."""
        return self._work.hands.copy()
