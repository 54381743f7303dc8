"""The annotation session: the pure-Python model behind the six-view app (no Qt).

``AnnotationSession(store, annotator="ana")`` keeps the current instant, the six cameras
shown, the current joint and an undo history, and turns intents (click, drag, delete,
occluded here, lock view, hand absent, accept proposal, change a panel's camera) into
labels. Every edit writes through to the store at once (pending until ``save()``):

- two usable clicks of a joint triangulate it (weighted DLT over all its clicked views; a
  locked view weighs :data:`~annotator.session_instant.LOCK_WEIGHT`) into the instant's
  human 3D joint, with the clicks and provenance (annotator, time);
- the 3D joints are reprojected into every camera of the instant's rig;
- fewer than two usable clicks clear a 3D joint that came from clicks (a machine proposal
  it had replaced comes back);
- occluded / locked marks are stored per (camera, joint) (``store.set_view_state``).

Change events (:class:`SessionEvent`) go to ``subscribe``\\ d callbacks after each change;
the GUI redraws from them. ``maybe_autosave`` saves a few seconds after the last edit.
The contract the GUI codes against is ``/tmp/helpers/SESSION_API.md`` (see
``docs/annotation.md``).
"""

from __future__ import annotations

import contextlib
import logging
import time as _time
from collections import OrderedDict
from collections.abc import Callable, Iterator

import numpy as np

from annotator import skeleton
from annotator.session_history import Change, History, diff
from annotator.session_instant import HUMAN_SOURCES, InstantWork
from annotator.session_types import JointState, SessionEvent
from annotator.session_views import choose_views
from annotator.store.store_labels import VIEW_LOCKED, VIEW_OCCLUDED
from triangulation import epipolar_line

__all__ = ["AnnotationSession", "JointState", "SessionEvent", "PANELS", "ERROR_FLAG_PX"]

logger = logging.getLogger(__name__)

#: Panels of the app (2 x 3).
PANELS = 6
#: A click whose reprojection error exceeds this (px) is flagged in the joint list.
ERROR_FLAG_PX = 5.0
#: Points on an epipolar curve (dense enough that its chords stay within ~0.2 px of the curve).
EPIPOLAR_SAMPLES = 256
#: Visited instants kept in memory (their machine proposals and panel overrides).
_CACHE_INSTANTS = 64
J = skeleton.NUM_JOINTS


class AnnotationSession:
    """Session model over an open :class:`~annotator.store.ProjectStore` (see module doc).

    Args:
        store: the project, opened with ``mode="w"`` to edit (read-only stores can be
            browsed; edits raise ``ValueError``).
        annotator: name stored as provenance of clicks and 3D joints.
        autosave_s: seconds after the last edit that :meth:`maybe_autosave` saves; None or
            0 turns autosave off (then :meth:`goto` does not save either).
        clock: monotonic seconds, injectable for tests.
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
    ):
        if store.num_instants == 0:
            raise ValueError(f"{store.path}: the project has no instants to annotate")
        self.store = store
        store.instants()  # loads the instant columns once: per-instant lookups stay in memory
        self.annotator = str(annotator)
        self.autosave_s = None if not autosave_s else float(autosave_s)
        self.clock = clock
        self.error_flag_px = float(error_flag_px)
        self.history = History()
        self._subscribers: list[Callable[[SessionEvent], None]] = []
        self._cache: OrderedDict[int, InstantWork] = OrderedDict()
        self._auto: dict[int, list[str]] = {}
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
        self._cache[i] = work
        while len(self._cache) > _CACHE_INSTANTS:
            self._cache.popitem(last=False)
        return work

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
        """Go to the next instant after the current one (wrapping) without human 3D joints."""
        F = self.store.num_instants
        labelled = np.zeros(F, bool)
        labelled[self.store.labelled_instants("human")] = True
        order = (self.instant + 1 + np.arange(F)) % F
        free = order[~labelled[order]]
        if free.size == 0:
            return None
        self.goto(int(free[0]))
        return int(free[0])

    def progress(self) -> tuple[int, int]:
        """(instants with human 3D labels, all instants)."""
        return int(self.store.labelled_instants("human").size), int(self.store.num_instants)

    def review_queue(self) -> list[int]:
        """Instants flagged for review in the store, ascending."""
        return [int(i) for i in self.store.flagged_instants()]

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
        """Cameras shown in the panels, in panel order (fewer than six for small rigs)."""
        w = self._work
        if w.views is not None:
            return list(w.views)
        if w.index not in self._auto:
            self._auto[w.index] = self.auto_views(PANELS)
        return list(self._auto[w.index])

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
        with self._edit("set view", camera=camera):
            self._work.views = tuple(views)

    def choose_views(self) -> None:
        """Show the automatic choice again (drops this instant's panel overrides); undoable."""
        self._auto.pop(self.instant, None)
        had_override = self._work.views is not None
        with self._edit("auto views"):
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
        for _ in range(abs(int(delta)) or 1):
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
        j = self._joint_arg(j)
        w = self._work
        n = w.n_views(j)
        err = w.click_errors(j)
        clicked = np.nonzero(np.isfinite(w.usable_clicks(j)[:, 0]))[0]
        per_view = {w.cameras[c]: float(err[c]) for c in clicked}
        mean = float(np.mean(err[clicked])) if n >= 2 else float("nan")
        if w.hands[w.hand_of(j)] == 0:
            status = "hand_absent"
        elif w.is_label(j):
            status = "triangulated"
        elif n == 1:
            status = "one_view"
        elif w.source[j] == "machine" and np.isfinite(w.points[j, 0]):
            status = "proposal"
        else:
            status = "none"
        store_flag = any(fj == j for fj, _ in w.flags)
        big = bool(np.any(err[clicked] > self.error_flag_px)) if n >= 2 else False
        return JointState(
            status=status,
            n_views=n,
            reproj_error_px=per_view,
            mean_error_px=mean,
            source=str(w.source[j]),
            occluded_in=tuple(w.cameras[c] for c in np.nonzero(w.states[:, j] & VIEW_OCCLUDED)[0]),
            locked_in=tuple(w.cameras[c] for c in np.nonzero(w.states[:, j] & VIEW_LOCKED)[0]),
            flagged=big or store_flag,
        )

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

    def proposals(self) -> np.ndarray:
        """(J, 3) world mm: machine proposals of this instant (as opened), NaN where none."""
        return self._work.proposals.copy()

    # -- edits ---------------------------------------------------------------------------
    @property
    def read_only(self) -> bool:
        return not self.store.writable

    @contextlib.contextmanager
    def _edit(self, label: str, joint: int | None = None, camera: str | None = None) -> Iterator:
        if self.read_only:
            raise ValueError(f"{self.store.path} is open read-only; edits are not possible")
        w = self._work
        before = w.snapshot()
        try:
            yield w
            change = diff(before, w.snapshot(), w.index, label)
            self._write(change, after=True)
        except BaseException:
            self._restore(w, before)
            raise
        self.history.push(change)
        self._last_edit = self.clock()
        self._announce(change, joint, camera)

    def _restore(self, w: InstantWork, before) -> None:
        """Put cache and store back to ``before`` after a failed edit."""
        change = diff(before, w.snapshot(), w.index)
        w.clicks, w.states, w.points = before.clicks, before.states, before.points
        w.source, w.annotator, w.time = before.source, before.annotator, before.time
        w.hands, w.views = before.hands, before.views
        w.reproject()
        with contextlib.suppress(Exception):
            self._write(change, after=False)

    def _write(self, change: Change, after: bool) -> None:
        """Write one side of ``change`` through to the store."""
        s, i = self.store, change.instant
        names = self._cache[i].cameras if i in self._cache else InstantWork(s, i).cameras
        side = 1 if after else 0
        pick = (lambda e: e.after) if side else (lambda e: e.before)
        for (c, j), uv in zip(change.clicks.index, pick(change.clicks)[0], strict=True):
            s.set_click(i, names[c], int(j), None if np.isnan(uv).any() else uv,
                        annotator=self.annotator)
        for (c, j), st in zip(change.states.index, pick(change.states)[0], strict=True):
            s.set_view_state(i, names[c], int(j), occluded=bool(st & VIEW_OCCLUDED),
                             locked=bool(st & VIEW_LOCKED))
        pts, src, who, when = pick(change.joints)
        for k, j in enumerate(change.joints.index.tolist()):
            if src[k] == "" or not np.isfinite(pts[k]).all():
                s.clear_joint_3d(i, j)
                continue
            row = np.full((J, 3), np.nan)
            row[j] = pts[k]
            t = float(when[k]) if np.isfinite(when[k]) else None
            s.set_joints_3d(i, row, source=str(src[k]), annotator=str(who[k]), time=t)
        for h, v in zip(change.hands.index.tolist(), pick(change.hands)[0].tolist(), strict=True):
            s.set_hand_present(i, h, None if v < 0 else bool(v))

    def _announce(self, change: Change, joint: int | None, camera: str | None) -> None:
        if change.views is not None:
            self._emit("views", camera=camera)
        if not (len(change.clicks) or len(change.states) or len(change.joints)
                or len(change.hands)):
            self._emit_dirty()
            return
        touched = set(change.joints.index.tolist()) | set(change.clicks.index[:, 1].tolist())
        j = joint if joint is not None else (touched.pop() if len(touched) == 1 else None)
        self._emit("labels", joint=j, camera=camera)
        self._emit_dirty()

    def _resolve(self, w: InstantWork, j: int, views_before: int) -> None:
        """Recompute joint ``j``'s 3D after its clicks or marks changed."""
        n = w.n_views(j)
        point = w.triangulate_joint(j) if n >= 2 else np.full(3, np.nan)
        if np.isfinite(point).all():
            w.points[j] = point
            w.source[j], w.annotator[j], w.time[j] = "human", self.annotator, _time.time()
            h = w.hand_of(j)
            if w.hands[h] < 0:
                w.hands[h] = 1
        elif views_before >= 2 and w.source[j] == "human":
            self._drop_label(w, j)
        w.reproject(j)

    @staticmethod
    def _drop_label(w: InstantWork, j: int) -> None:
        """Remove joint ``j``'s 3D label; its machine proposal (if any) comes back."""
        if np.isfinite(w.proposals[j, 0]):
            w.points[j] = w.proposals[j]
            w.source[j] = "machine"
            w.annotator[j], w.time[j] = w.proposal_annotator[j], w.proposal_time[j]
        else:
            w.points[j] = np.nan
            w.source[j], w.annotator[j], w.time[j] = "", "", np.nan

    def click(self, camera: str, uv_px, joint: int | None = None) -> None:
        """Place (or move) joint's click in ``camera`` at ``uv_px`` (2,) px; triangulates
        when two or more views are clicked. Raises ValueError (nothing changed) for a
        click outside the image, an unknown camera, or a joint of a hand marked absent."""
        j = self._joint_arg(joint)
        c = self._camera(camera)
        w = self._work
        uv = np.asarray(uv_px, dtype=np.float64)
        if uv.shape != (2,) or not np.isfinite(uv).all():
            raise ValueError(f"click position must be two finite pixels, got {uv_px!r}")
        width, height = w.rig[c].size
        if not (-0.5 <= uv[0] <= width - 0.5 and -0.5 <= uv[1] <= height - 0.5):
            raise ValueError(
                f"click ({uv[0]:.1f}, {uv[1]:.1f}) px is outside camera {camera!r}'s "
                f"{width}x{height} image"
            )
        if w.hands[w.hand_of(j)] == 0:
            raise ValueError(
                f"joint {skeleton.JOINT_NAMES[j]}: the {skeleton.HAND_OF_JOINT[j]} hand is "
                "marked absent at this instant"
            )
        with self._edit("click", j, camera):
            before = w.n_views(j)
            w.clicks[c, j] = uv
            w.states[c, j] &= ~VIEW_OCCLUDED
            self._resolve(w, j, before)

    def remove_click(self, camera: str, joint: int | None = None) -> None:
        """Delete joint's click in ``camera`` (a 3D label with < 2 views left is removed)."""
        j = self._joint_arg(joint)
        c = self._camera(camera)
        w = self._work
        with self._edit("remove click", j, camera):
            before = w.n_views(j)
            w.clicks[c, j] = np.nan
            self._resolve(w, j, before)

    def clear_joint(self, joint: int | None = None) -> None:
        """Remove joint's clicks, occluded/locked marks and 3D label at this instant (its
        machine proposal, if any, comes back); undoable. ``joint=None``: every joint."""
        w = self._work
        idx = list(range(J)) if joint is None else [self._joint_arg(joint)]
        with self._edit("clear joint", None if joint is None else idx[0]):
            for j in idx:
                w.clicks[:, j] = np.nan
                w.states[:, j] = 0
                if w.is_label(j):
                    self._drop_label(w, j)
            w.reproject(idx)

    def set_occluded(self, camera: str, joint: int | None = None, occluded: bool = True) -> None:
        """Mark joint not visible in ``camera`` (its click there is removed, no
        reprojection drawn), or clear the mark."""
        j = self._joint_arg(joint)
        c = self._camera(camera)
        w = self._work
        with self._edit("occluded", j, camera):
            before = w.n_views(j)
            if occluded:
                w.states[c, j] = VIEW_OCCLUDED
                w.clicks[c, j] = np.nan
            else:
                w.states[c, j] &= ~VIEW_OCCLUDED
            self._resolve(w, j, before)

    def lock_view(self, camera: str, locked: bool = True, joint: int | None = None) -> None:
        """Force the current joint's 3D point through its click in ``camera`` (weighted
        DLT), or release it."""
        j = self._joint_arg(joint)
        c = self._camera(camera)
        w = self._work
        with self._edit("lock", j, camera):
            before = w.n_views(j)
            if locked:
                w.states[c, j] = (w.states[c, j] & ~VIEW_OCCLUDED) | VIEW_LOCKED
            else:
                w.states[c, j] &= ~VIEW_LOCKED
            self._resolve(w, j, before)

    def set_hand_absent(self, hand, absent: bool = True) -> None:
        """Mark a hand ("right"/"left" or 0/1) absent (its clicks, marks and 3D joints at
        this instant are removed) or present again (its machine proposals come back)."""
        h = self._hand(hand)
        w = self._work
        idx = skeleton.hand_joints(skeleton.HANDS[h])
        with self._edit("hand absent"):
            if absent:
                w.hands[h] = 0
                w.clicks[:, idx] = np.nan
                w.states[:, idx] = 0
                w.points[idx] = np.nan
                w.source[idx], w.annotator[idx], w.time[idx] = "", "", np.nan
            else:
                w.hands[h] = 1
                for j in idx.tolist():
                    if not np.isfinite(w.points[j, 0]):
                        self._drop_label(w, j)
            w.reproject(idx)

    def accept_proposal(self, joint: int | None = None) -> None:
        """Turn machine proposal(s) into human labels: ``joint``, or all (None); undoable."""
        w = self._work
        if joint is None:
            todo = [j for j in range(J) if w.source[j] == "machine" and np.isfinite(w.points[j, 0])]
        else:
            j = self._joint_arg(joint)
            if w.source[j] != "machine" or not np.isfinite(w.points[j, 0]):
                raise ValueError(f"joint {skeleton.JOINT_NAMES[j]} has no machine proposal here")
            todo = [j]
        now = _time.time()
        with self._edit("accept proposal", joint):
            for j in todo:
                w.source[j], w.annotator[j], w.time[j] = "human", self.annotator, now
                h = w.hand_of(j)
                if w.hands[h] < 0:
                    w.hands[h] = 1

    # -- undo / redo ---------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return self.history.can_undo

    @property
    def can_redo(self) -> bool:
        return self.history.can_redo

    def undo(self) -> bool:
        """Revert the last edit (going to its instant); False when there is none."""
        return self._replay(self.history.pop_undo(), after=False)

    def redo(self) -> bool:
        """Apply the last undone edit again; False when there is none."""
        return self._replay(self.history.pop_redo(), after=True)

    def _replay(self, change: Change | None, after: bool) -> bool:
        if change is None:
            return False
        if self.read_only:
            (self.history.unpop_redo if after else self.history.unpop_undo)()
            raise ValueError(f"{self.store.path} is open read-only; edits are not possible")
        if change.instant != self.instant:
            self.goto(change.instant)
        w = self._work
        k = 1 if after else 0
        pick = (lambda e: e.after) if k else (lambda e: e.before)
        ci = change.clicks.index
        w.clicks[ci[:, 0], ci[:, 1]] = pick(change.clicks)[0]
        si = change.states.index
        w.states[si[:, 0], si[:, 1]] = pick(change.states)[0]
        ji = change.joints.index
        w.points[ji], w.source[ji], w.annotator[ji], w.time[ji] = pick(change.joints)
        w.hands[change.hands.index] = pick(change.hands)[0]
        if change.views is not None:
            w.views = change.views[k]
        w.reproject()
        self._write(change, after=after)
        self._last_edit = self.clock()
        self._announce(change, None, None)
        return True

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
