"""The edits of :class:`~annotator.session.AnnotationSession`: clicks, marks, hand flags,
proposals, and their undo/redo (a mixin, kept apart so each module stays readable).

Every edit runs inside :meth:`SessionEdits._edit`: snapshot the instant, change the
:class:`~annotator.session.instant.InstantWork`, write the difference through to the store,
record it for undo, announce it. A failed write restores both the working copy and the store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from annotator import skeleton
from annotator.session.history import Change, diff
from annotator.session.instant import InstantWork
from annotator.store.store_labels import VIEW_LOCKED, VIEW_OCCLUDED

__all__ = ["SessionEdits", "DISAGREE_PREFIX", "disagreement"]

J = skeleton.NUM_JOINTS
#: Start of the review-flag reason the session sets while a joint's clicks disagree.
DISAGREE_PREFIX = "clicks disagree:"


def disagreement(joint: int, errors_px: np.ndarray, cameras, limit_px: float) -> str | None:
    """The review-flag reason for joint ``joint`` whose usable clicks lie ``errors_px`` (Cr,)
    from its reprojection in ``cameras``: a reason starting :data:`DISAGREE_PREFIX` when
    one of two or more clicks misses by more than ``limit_px``, else None (they agree)."""
    errors_px = np.asarray(errors_px, dtype=np.float64)
    if np.isfinite(errors_px).sum() < 2:
        return None
    worst = int(np.nanargmax(errors_px))
    if not errors_px[worst] > limit_px:
        return None
    return (f"{DISAGREE_PREFIX} {skeleton.JOINT_NAMES[joint]}'s 3D point misses its clicks by "
            f"up to {errors_px[worst]:.1f} px (camera {cameras[worst]}; limit {limit_px:g} px)")


class SessionEdits:
    """Edit intents and undo/redo; relies on the session's ``_work``, ``_cache``, ``store``,
    ``annotator``, ``history``, ``clock``, ``wall_clock``, ``_emit``, ``_emit_dirty``, ``goto`` and
    argument checks (``_joint_arg``, ``_camera``, ``_hand``)."""

    # -- edits ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _edit(
        self, label: str, joint: int | None = None, camera: str | None = None,
        views_only: bool = False,
    ) -> Iterator:
        """Run one edit (see the module docstring). ``views_only`` edits change only panel
        cameras, which a read-only session may do too (nothing is written). The first label
        edit of an instant also saves the cameras its panels show, so the instant reopens
        with the views it was labelled in."""
        if self.read_only and not views_only:
            raise ValueError(f"{self.store.path} is open read-only; edits are not possible")
        w = self._work
        before = w.snapshot()
        shown = None
        try:
            if not views_only and w.views is None:
                w.views = shown = tuple(self.views)  # the panels stay as they are
            yield w
            change = diff(before, w.snapshot(), w.index, label)
            self._write(change, after=True)
        except BaseException:
            self._restore(w, before)
            raise
        self.history.push(change)
        self._last_edit = self.clock()
        self._announce(change, joint, camera, views_event=w.views != shown)

    def _restore(self, w: InstantWork, before) -> None:
        """Put cache and store back to ``before`` after a failed edit."""
        change = diff(before, w.snapshot(), w.index)
        w.clicks, w.states, w.points = before.clicks, before.states, before.points
        w.source, w.annotator, w.time = before.source, before.annotator, before.time
        w.hands, w.views, w.reasons = before.hands, before.views, before.reasons
        w.reproject()
        with contextlib.suppress(Exception):
            self._write(change, after=False)

    def _write(self, change: Change, after: bool) -> None:
        """Write one side of ``change`` through to the store."""
        s, i = self.store, change.instant
        names = self._cache[i].cameras if i in self._cache else InstantWork(s, i).cameras
        side = 1 if after else 0
        now = self.wall_clock()
        pick = (lambda e: e.after) if side else (lambda e: e.before)
        for (c, j), uv in zip(change.clicks.index, pick(change.clicks)[0], strict=True):
            s.set_click(i, names[c], int(j), None if np.isnan(uv).any() else uv,
                        annotator=self.annotator, time=now)
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
        for k, reason in zip(change.flags.index.tolist(), pick(change.flags)[0], strict=True):
            s.set_flag(i, None if k == 0 else k - 1, str(reason) if reason else None)
        if change.views is not None and s.writable:
            self._auto.clear()  # continued views of later instants may follow this one
            s.set_panel_views(i, change.views[side])

    def _announce(self, change: Change, joint: int | None, camera: str | None,
                  views_event: bool = True) -> None:
        if change.views is not None and views_event:
            self._emit("views", camera=camera)
        if not change.labels_changed:
            self._emit_dirty()
            return
        touched = change.joints_touched()
        j = joint if joint is not None else (touched.pop() if len(touched) == 1 else None)
        self._emit("labels", joint=j, camera=camera)
        self._emit_dirty()

    def _resolve(self, w: InstantWork, j: int, views_before: int) -> None:
        """Recompute joint ``j``'s 3D after its clicks or marks changed."""
        n = w.n_views(j)
        point = w.triangulate_joint(j) if n >= 2 else np.full(3, np.nan)
        if np.isfinite(point).all():
            w.points[j] = point
            w.source[j], w.annotator[j], w.time[j] = "human", self.annotator, self.wall_clock()
            h = w.hand_of(j)
            if w.hands[h] < 0:
                w.hands[h] = 1
        elif views_before >= 2 and w.source[j] == "human":
            self._drop_label(w, j)
        w.reproject(j)
        self._check_agreement(w, j)

    def _check_agreement(self, w: InstantWork, j: int) -> None:
        """Flag joint ``j`` for review while a click of it lies more than ``error_flag_px``
        from its reprojection (the clicks disagree); clear that flag once they agree."""
        reason = disagreement(j, w.click_errors(j), w.cameras, self.error_flag_px)
        if reason is not None:
            w.reasons[j + 1] = reason
        elif str(w.reasons[j + 1]).startswith(DISAGREE_PREFIX):
            w.reasons[j + 1] = ""

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
                f"click ({uv[0]:.1f}, {uv[1]:.1f}) px is outside the {width}x{height} image of "
                f"camera {camera}"
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
                self._check_agreement(w, j)  # no clicks left: its disagreement flag goes
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
                for j in idx.tolist():
                    self._check_agreement(w, j)  # no clicks left: its disagreement flag goes
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
        now = self.wall_clock()
        with self._edit("accept proposal", todo[0] if joint is not None else None):
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
        if self.read_only and change.labels_changed:
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
        w.reasons[change.flags.index] = pick(change.flags)[0]
        if change.views is not None:
            w.views = change.views[k]
        w.reproject()
        self._write(change, after=after)
        self._last_edit = self.clock()
        self._announce(change, None, None)
        touched = change.joints_touched()
        if len(touched) == 1 and touched != {self._joint}:
            self.select_joint(touched.pop())  # the selection follows the joint undone/redone
        return True
