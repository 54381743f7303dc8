"""Undo/redo for the annotation session: every edit is the sparse difference of two snapshots.

An edit copies the instant's state (a :class:`Snapshot`: clicks, view states, 3D joints
with provenance, hand flags, panel cameras), changes it, and records only what differs as a
:class:`Change`. Undo writes the "before" side of those entries back, redo the "after"
side, so every edit kind (clicks, drags, occluded/locked marks, triangulated and accepted
3D joints, hand flags, panel overrides) is undone the same way, and an undo record costs
memory in proportion to what the edit touched, not to the rig.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Snapshot", "Entries", "Change", "History", "diff"]


@dataclass(frozen=True)
class Snapshot:
    """Copy of one instant's editable state (Cr = cameras of its rig, J joints).

    clicks (Cr, J, 2) px NaN = none; states (Cr, J) int8 view-state bits; points (J, 3) mm;
    source, annotator (J,) object str; time (J,) unix s; hands (2,) int8 -1/0/1;
    views: the instant's panel cameras (tuple of camera names) or None (automatic);
    reasons: (J + 1,) object str review-flag reasons, [0] whole instant, [j + 1] joint j.
    """

    clicks: np.ndarray
    states: np.ndarray
    points: np.ndarray
    source: np.ndarray
    annotator: np.ndarray
    time: np.ndarray
    hands: np.ndarray
    views: tuple[str, ...] | None
    reasons: np.ndarray


@dataclass(frozen=True)
class Entries:
    """Changed positions ``index`` (K, ...) of one field with their ``before``/``after`` values."""

    index: np.ndarray
    before: tuple[np.ndarray, ...]
    after: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return int(self.index.shape[0])


@dataclass(frozen=True)
class Change:
    """One undoable edit of instant ``instant``.

    clicks: index (K, 2) [camera, joint] rig positions, values (K, 2) px;
    states: index (K, 2), values (K,) int8; joints: index (K,), values (points (K, 3),
    source, annotator, time); hands: index (K,), values (K,) int8;
    views: (before, after) panel cameras, or None when unchanged;
    flags: index (K,) positions in ``Snapshot.reasons``, values (K,) object str.
    """

    instant: int
    clicks: Entries
    states: Entries
    joints: Entries
    hands: Entries
    views: tuple[tuple[str, ...] | None, tuple[str, ...] | None] | None = None
    label: str = field(default="", compare=False)
    flags: Entries = field(default_factory=lambda: _NO_ENTRIES)

    @property
    def labels_changed(self) -> bool:
        """Whether the change touches labels (anything but the panel cameras)."""
        return bool(len(self.clicks) or len(self.states) or len(self.joints) or len(self.hands)
                    or len(self.flags))

    @property
    def empty(self) -> bool:
        return not (self.labels_changed or self.views is not None)

    def joints_touched(self) -> set[int]:
        """Joints whose clicks, marks, 3D point or review flag the change touches."""
        out = set(self.joints.index.tolist()) | set(self.clicks.index[:, 1].tolist())
        out |= set(self.states.index[:, 1].tolist())
        out |= {int(k) - 1 for k in self.flags.index.tolist() if k > 0}
        return out


_NO_ENTRIES = Entries(np.zeros(0, np.int64), (np.zeros(0, object),), (np.zeros(0, object),))


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise a != b with NaN equal to NaN."""
    if a.dtype.kind == "f":
        return ~((a == b) | (np.isnan(a) & np.isnan(b)))
    return a != b


def diff(before: Snapshot, after: Snapshot, instant: int, label: str = "") -> Change:
    """The sparse :class:`Change` turning ``before`` into ``after``."""
    ci = np.argwhere(_differs(before.clicks, after.clicks).any(-1))
    clicks = Entries(
        ci, (before.clicks[ci[:, 0], ci[:, 1]],), (after.clicks[ci[:, 0], ci[:, 1]],)
    )
    si = np.argwhere(_differs(before.states, after.states))
    states = Entries(
        si, (before.states[si[:, 0], si[:, 1]],), (after.states[si[:, 0], si[:, 1]],)
    )
    joint_changed = (
        _differs(before.points, after.points).any(-1)
        | _differs(before.source, after.source)
        | _differs(before.annotator, after.annotator)
        | _differs(before.time, after.time)
    )
    ji = np.nonzero(joint_changed)[0]

    def rows(s: Snapshot) -> tuple[np.ndarray, ...]:
        return (s.points[ji], s.source[ji], s.annotator[ji], s.time[ji])

    joints = Entries(ji, rows(before), rows(after))
    hi = np.nonzero(_differs(before.hands, after.hands))[0]
    hands = Entries(hi, (before.hands[hi],), (after.hands[hi],))
    views = None if before.views == after.views else (before.views, after.views)
    fi = np.nonzero(_differs(before.reasons, after.reasons))[0]
    flags = Entries(fi, (before.reasons[fi],), (after.reasons[fi],))
    return Change(instant, clicks, states, joints, hands, views, label, flags)


class History:
    """Undo and redo stacks of :class:`Change` (oldest dropped beyond ``limit``)."""

    def __init__(self, limit: int = 10_000):
        self.limit = int(limit)
        self._undo: list[Change] = []
        self._redo: list[Change] = []

    def push(self, change: Change) -> None:
        """Record a new edit; it clears the redo stack."""
        if change.empty:
            return
        self._undo.append(change)
        self._redo.clear()
        if len(self._undo) > self.limit:
            del self._undo[0]

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def pop_undo(self) -> Change | None:
        if not self._undo:
            return None
        change = self._undo.pop()
        self._redo.append(change)
        return change

    def pop_redo(self) -> Change | None:
        if not self._redo:
            return None
        change = self._redo.pop()
        self._undo.append(change)
        return change

    def unpop_undo(self) -> None:
        """Put back the change :meth:`pop_undo` returned (its application failed)."""
        self._undo.append(self._redo.pop())

    def unpop_redo(self) -> None:
        """Put back the change :meth:`pop_redo` returned (its application failed)."""
        self._redo.append(self._undo.pop())
