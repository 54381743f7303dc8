"""The working copy of one instant inside an annotation session (no Qt).

:class:`InstantWork` holds the instant's clicks, occluded/locked marks, 3D joints with
provenance and hand flags on the camera axis of the instant's rig (Cr cameras, in rig
order), the machine proposals as they were when the instant was opened, and the
projection of every current 3D joint into all Cr cameras. The session edits it, then
writes the differences through to the store.
"""

from __future__ import annotations

import numpy as np

from annotator import skeleton
from annotator.session.history import Snapshot
from annotator.store.store_labels import VIEW_LOCKED, VIEW_OCCLUDED
from triangulation import CameraRig, project, triangulate

__all__ = ["InstantWork", "LOCK_WEIGHT", "HUMAN_SOURCES", "usable_clicks", "triangulate_clicks"]

#: DLT weight of a locked view (others weigh 1): the point passes (almost) through its ray.
LOCK_WEIGHT = 1e3
#: 3D sources that are labels rather than proposals.
HUMAN_SOURCES = ("human", "imported")


class InstantWork:
    """Editable state of instant ``index`` (see module docstring). Arrays are on rig axes."""

    def __init__(self, store, index: int):
        self.index = int(index)
        inst = store.instant(self.index)
        self.capture = inst.capture
        self.rig: CameraRig = store.rig(inst.capture)
        self.cameras: list[str] = self.rig.names
        self.cam_index = {n: k for k, n in enumerate(self.cameras)}
        #: (Cr,) project camera axis position of each rig camera
        self.project_index = np.array([store.camera_index(n) for n in self.cameras], np.int64)
        lab = store.labels(self.index)
        self.clicks = lab.clicks_uv_px[self.project_index].copy()  # (Cr, J, 2)
        self.states = store.view_states(self.index)[self.project_index].astype(np.int8)
        self.points = lab.joints_world_mm.copy()
        self.source = lab.joint_source.astype(object)
        self.annotator = lab.annotator.astype(object)
        self.time = lab.time.copy()
        self.hands = lab.hand_present.astype(np.int8).copy()
        #: (J + 1,) review-flag reasons: [0] the whole instant, [j + 1] joint j ("" = none)
        self.reasons = np.full(skeleton.NUM_JOINTS + 1, "", dtype=object)
        for fj, reason in lab.flags:
            self.reasons[fj + 1] = reason
        machine = self.source == "machine"
        self.proposals = np.where(machine[:, None], self.points, np.nan)
        self.proposal_annotator = self.annotator.copy()
        self.proposal_time = self.time.copy()
        #: cameras of the panels saved for this instant (None: chosen automatically)
        saved = store.panel_views(self.index)
        self.views: tuple[str, ...] | None = (
            None if saved is None or any(c not in self.cam_index for c in saved) else saved)
        self.uv = np.full((skeleton.NUM_JOINTS, len(self.cameras), 2), np.nan)
        self.reproject()

    # -- snapshots ---------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        return Snapshot(
            self.clicks.copy(), self.states.copy(), self.points.copy(), self.source.copy(),
            self.annotator.copy(), self.time.copy(), self.hands.copy(), self.views,
            self.reasons.copy(),
        )

    # -- geometry ----------------------------------------------------------------------
    def reproject(self, joints=None) -> None:
        """Refresh ``uv`` (J, Cr, 2) for ``joints`` (None = all) from ``points``."""
        idx = np.arange(skeleton.NUM_JOINTS) if joints is None else np.atleast_1d(joints)
        self.uv[idx] = project(self.points[idx], self.rig)

    def usable_clicks(self, j: int) -> np.ndarray:
        """(Cr, 2) clicks of joint ``j``, NaN where none or the view is marked occluded."""
        return usable_clicks(self.clicks[:, j], self.states[:, j])

    def n_views(self, j: int) -> int:
        return int(np.isfinite(self.usable_clicks(j)[:, 0]).sum())

    def triangulate_joint(self, j: int) -> np.ndarray:
        """(3,) world mm: weighted DLT of joint ``j``'s clicks (:func:`triangulate_clicks`)."""
        return triangulate_clicks(self.clicks[:, j:j + 1], self.states[:, j:j + 1], self.rig)[0]

    def click_errors(self, j: int) -> np.ndarray:
        """(Cr,) px distance between each usable click and the joint's reprojection (NaN)."""
        uv = self.usable_clicks(j)
        return np.hypot(*(self.uv[j] - uv).T)

    def hand_of(self, j: int) -> int:
        return skeleton.HANDS.index(skeleton.HAND_OF_JOINT[j])

    def is_label(self, j: int) -> bool:
        """Joint ``j`` has a 3D label (human/imported), not only a proposal."""
        return bool(np.isfinite(self.points[j, 0]) and self.source[j] in HUMAN_SOURCES)

    def label_points(self) -> np.ndarray:
        """(J, 3) the labelled 3D joints (human/imported), NaN elsewhere."""
        keep = np.isin(self.source.astype(str), HUMAN_SOURCES)
        return np.where(keep[:, None], self.points, np.nan)

    def estimate(self) -> np.ndarray:
        """(J, 3) best 3D estimate here: labels, else proposals."""
        return np.where(np.isfinite(self.points), self.points, self.proposals)


def usable_clicks(clicks: np.ndarray, states: np.ndarray) -> np.ndarray:
    """A copy of the clicks (..., 2) with NaN where the view is marked occluded in ``states``
    (...): an occluded view's click never makes a 3D point."""
    uv = np.array(clicks, dtype=np.float64)
    uv[(np.asarray(states) & VIEW_OCCLUDED) != 0] = np.nan
    return uv


def triangulate_clicks(clicks: np.ndarray, states: np.ndarray, rig: CameraRig) -> np.ndarray:
    """(J, 3) world mm of the clicks (Cr, J, 2) of joints on ``rig``'s camera axis: the
    weighted DLT of each joint's usable clicks (views marked occluded in ``states`` (Cr, J)
    are left out, locked ones weigh ``LOCK_WEIGHT``); NaN for a joint with fewer than two.

    The one rule by which human clicks become 3D: the app's edits and the re-triangulation
    after a calibration refinement use it alike.
    """
    uv = usable_clicks(clicks, states)
    w = np.where((states & VIEW_LOCKED) != 0, LOCK_WEIGHT, 1.0)
    out = np.full((uv.shape[1], 3), np.nan)
    ok = np.isfinite(uv[..., 0]).sum(axis=0) >= 2
    if ok.any():
        tri = triangulate(uv[:, ok].transpose(1, 0, 2), rig, w[:, ok].T, reproj_error=False)
        out[ok] = tri.points_world_mm
    return out
