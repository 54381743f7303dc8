"""How far the human labelling of a project is: joints done, instants complete (no Qt).

A joint of an instant is *done* when it has a 3D label (human or imported), when its hand
is marked absent, or when the annotator marked it occluded in enough views that it cannot
be clicked in two of the six panels (:func:`occluded_views_needed`). An instant is
*complete* when all of its joints are done; one joint placed does not make an instant
labelled. :class:`Completion` counts both over the project from what the store holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotator import skeleton
from annotator.session.instant import HUMAN_SOURCES
from annotator.store.records import JOINT_SOURCES
from annotator.store.store_labels import VIEW_OCCLUDED

__all__ = ["Completion", "occluded_views_needed", "joints_done", "project_completion"]

#: Hand of each joint as an index into ``skeleton.HANDS``.
_HAND_OF = np.array([skeleton.HANDS.index(h) for h in skeleton.HAND_OF_JOINT])


@dataclass(frozen=True)
class Completion:
    """Project progress: ``joints`` (F,) done joints per instant, of ``skeleton.NUM_JOINTS``."""

    joints: np.ndarray

    @property
    def instants(self) -> int:
        return int(self.joints.shape[0])

    @property
    def instants_complete(self) -> int:
        return int(np.count_nonzero(self.joints == skeleton.NUM_JOINTS))

    @property
    def joints_done(self) -> int:
        return int(self.joints.sum())

    @property
    def joints_total(self) -> int:
        return self.instants * skeleton.NUM_JOINTS


def occluded_views_needed(num_cameras: int, panels: int = 6) -> int:
    """Occluded marks that make an unplaced joint done: all panels but one (a joint seen in
    fewer than two views cannot be triangulated), fewer for rigs smaller than the panels."""
    return max(1, min(panels, int(num_cameras)) - 1)


def joints_done(labelled: np.ndarray, hands: np.ndarray, states: np.ndarray) -> np.ndarray:
    """(J,) bool done joints of one instant.

    Args:
        labelled: (J,) bool joints with a 3D label.
        hands: (2,) int8 hand presence (-1 unknown, 0 absent, 1 present).
        states: (Cr, J) int8 view-state bits over the instant's rig cameras.
    """
    occluded = ((np.asarray(states) & VIEW_OCCLUDED) != 0).sum(axis=0)
    need = occluded_views_needed(np.asarray(states).shape[0])
    absent = np.asarray(hands)[_HAND_OF] == 0
    return np.asarray(labelled, bool) | absent | (occluded >= need)


def project_completion(store) -> Completion:
    """Done joints of every instant of ``store`` (pending edits included)."""
    _, source = store.joints_3d_all()
    codes = [JOINT_SOURCES.index(s) for s in HUMAN_SOURCES]
    done = np.isin(source, codes) | (store.hand_present_all()[:, _HAND_OF] == 0)
    inst, joint, count = store.occluded_counts()
    if inst.size:
        table = store.instants()
        sizes = {cap: len(store.rig(cap)) for cap in np.unique(table.capture[inst]).tolist()}
        need = np.array([occluded_views_needed(sizes[c]) for c in table.capture[inst].tolist()])
        hit = count >= need
        done[inst[hit], joint[hit]] = True
    return Completion(done.sum(axis=1).astype(np.int64))
