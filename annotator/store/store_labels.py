"""The human-work half of :class:`~annotator.store.ProjectStore` (labels.h5 edits and reads).

Kept apart from ``store.py`` to keep each module readable; the mixin relies on the store's
``_labels``, ``_check_instant``, ``camera_index``, ``_need_write`` and rig lookups.
"""

from __future__ import annotations

import time as _time

import numpy as np

from annotator import skeleton
from annotator.store import imported_layer
from annotator.store.errors import ProjectFormatError
from annotator.store.labels import MAX_PANELS
from annotator.store.records import JOINT_SOURCES, ClickRecords, InstantLabels

__all__ = ["LabelsMixin", "VIEW_OCCLUDED", "VIEW_LOCKED"]

#: Bits of :meth:`LabelsMixin.view_states`: the joint is not visible in that camera /
#: the annotator locked that camera's click (the 3D point is forced through it).
VIEW_OCCLUDED = 1
VIEW_LOCKED = 2


def _joint(joint: int | str) -> int:
    if isinstance(joint, str):
        try:
            return skeleton.joint_index(joint)
        except (KeyError, ValueError):
            raise ProjectFormatError(f"unknown joint name {joint!r}") from None
    if isinstance(joint, bool) or not isinstance(joint, (int, np.integer)):
        raise ProjectFormatError(f"joint must be an index or a name, got {joint!r}")
    if not 0 <= int(joint) < skeleton.NUM_JOINTS:
        raise ProjectFormatError(f"joint index {joint} out of range 0..{skeleton.NUM_JOINTS - 1}")
    return int(joint)


def _hand(hand: int | str) -> int:
    if isinstance(hand, str):
        if hand not in skeleton.HANDS:
            raise ProjectFormatError(f"hand must be one of {skeleton.HANDS}, got {hand!r}")
        return skeleton.HANDS.index(hand)
    if isinstance(hand, bool) or not isinstance(hand, (int, np.integer)) or not 0 <= hand < 2:
        raise ProjectFormatError(f"hand must be 'right'/'left' or 0/1, got {hand!r}")
    return int(hand)


class LabelsMixin:
    """Label edits (pending until ``save()``) and reads."""

    def labels(self, i: int) -> InstantLabels:
        """Clicks, 3D joints with provenance, hand presence and flags of instant ``i``.

        Joints and hand presence of an imported dataset (:mod:`.imported_layer`) show where
        labels.h5 has no row for them.
        """
        i = self._check_instant(i)
        lab = self._labels.instant(i)
        layer = imported_layer.layer_at(self._frames, i)
        if layer is None:
            return lab
        joint_rows, _ = self._labels.joints.rows(i)
        hand_rows, _ = self._labels.hands.rows(i)
        return imported_layer.overlay(lab, layer, joint_rows, hand_rows)

    def click_records(self, i: int) -> ClickRecords:
        """The clicks of instant ``i`` one row each, with who placed them and when."""
        return self._labels.click_records(self._check_instant(i))

    def set_click(
        self,
        i: int,
        camera: str | int,
        joint: int | str,
        uv_px,
        annotator: str = "",
        time: float | None = None,
    ) -> None:
        """Set (or with ``uv_px=None`` / NaN, clear) the click of ``joint`` in ``camera``.

        ``uv_px`` is (2,) pixels and must lie inside that camera's image.
        """
        self._need_write()
        i = self._check_instant(i)
        c = self.camera_index(camera)
        j = _joint(joint)
        uv = None
        if uv_px is not None:
            arr = np.asarray(uv_px, dtype=np.float64)
            if arr.shape != (2,):
                raise ProjectFormatError(f"set_click: uv_px must have shape (2,), got {arr.shape}")
            if np.isinf(arr).any():
                raise ProjectFormatError(f"set_click: uv_px is infinite ({arr.tolist()})")
            if not np.isnan(arr).any():
                cap = self.instant(i).capture
                name = self._camera_names[c]
                if name not in self.rig(cap):
                    raise ProjectFormatError(
                        f"set_click: camera {name!r} is not part of capture {cap!r}"
                    )
                w, h = self.rig(cap)[name].size
                if not (-0.5 <= arr[0] <= w - 0.5 and -0.5 <= arr[1] <= h - 0.5):
                    raise ProjectFormatError(
                        f"set_click: ({arr[0]:.1f}, {arr[1]:.1f}) px is outside the {w}x{h} "
                        f"image of camera {name}"
                    )
                uv = (float(arr[0]), float(arr[1]))
        self._labels.set_click(i, c, j, uv, str(annotator), _now(time))

    def set_joints_3d(
        self,
        i: int,
        joints_world_mm,
        source: str = "human",
        annotator: str = "",
        time: float | None = None,
    ) -> None:
        """Set the (J, 3) world-mm joints of instant ``i``; NaN rows are left as they are."""
        self._need_write()
        i = self._check_instant(i)
        arr = np.asarray(joints_world_mm, dtype=np.float64)
        J = skeleton.NUM_JOINTS
        if arr.shape != (J, 3):
            raise ProjectFormatError(
                f"set_joints_3d: joints_world_mm must be ({J}, 3), got {arr.shape}"
            )
        if np.isinf(arr).any():
            raise ProjectFormatError(
                "set_joints_3d: joints_world_mm contains inf (NaN means unset; inf is never valid)"
            )
        if source not in JOINT_SOURCES[1:]:
            raise ProjectFormatError(
                f"set_joints_3d: source must be one of {JOINT_SOURCES[1:]}, got {source!r}"
            )
        nan = np.isnan(arr)
        partial = nan.any(axis=1) & ~nan.all(axis=1)
        if partial.any():
            raise ProjectFormatError(
                f"set_joints_3d: joint {int(np.argmax(partial))} is partly NaN"
            )
        t = _now(time)
        for j in np.nonzero(~nan.any(axis=1))[0].tolist():
            self._labels.set_joint(i, j, arr[j].copy(), source, str(annotator), t)

    def clear_joint_3d(self, i: int, joint: int | str) -> None:
        self._need_write()
        i, j = self._check_instant(i), _joint(joint)
        layer = imported_layer.layer_at(self._frames, i)
        if layer is not None and layer.valid[j]:
            # A row with no position and no source hides the imported joint.
            self._labels.set_joint(i, j, np.full(3, np.nan), "", "", _now(None))
        else:
            self._labels.set_joint(i, j, None, "", "", 0.0)

    def set_hand_present(self, i: int, hand: int | str, present: bool | None) -> None:
        """Mark ``hand`` present (True), absent (False) or unknown (None) in instant ``i``."""
        self._need_write()
        value = None if present is None else int(bool(present))
        i, h = self._check_instant(i), _hand(hand)
        layer = imported_layer.layer_at(self._frames, i)
        if value is None and layer is not None and layer.hand_present[h] >= 0:
            value = -1  # a stored "unknown" hides the imported presence
        self._labels.set_hand(i, h, value)

    def set_flag(self, i: int, joint: int | str | None, reason: str | None) -> None:
        """Flag ``joint`` (None = the whole instant) for review; ``reason=None`` clears it."""
        self._need_write()
        j = -1 if joint is None else _joint(joint)
        self._labels.set_flag(self._check_instant(i), j, None if reason is None else str(reason))

    def set_view_state(
        self,
        i: int,
        camera: str | int,
        joint: int | str,
        occluded: bool | None = None,
        locked: bool | None = None,
    ) -> None:
        """Mark (camera, joint) of instant ``i`` occluded and/or locked; None leaves a bit as is."""
        self._need_write()
        i = self._check_instant(i)
        c = self.camera_index(camera)
        j = _joint(joint)
        state = int(self._labels.view_state(i)[c, j])
        for flag, bit in ((occluded, VIEW_OCCLUDED), (locked, VIEW_LOCKED)):
            if flag is not None:
                state = (state | bit) if flag else (state & ~bit)
        self._labels.set_view_state(i, c, j, state)

    def set_panel_views(self, i: int, cameras) -> None:
        """Save the cameras the app's panels show at instant ``i`` (names, panel order);
        ``None`` or empty removes them (the app then chooses automatically)."""
        self._need_write()
        i = self._check_instant(i)
        if cameras is None or len(cameras) == 0:
            self._labels.set_panel_views(i, None)
            return
        names = [str(c) for c in cameras]
        if len(names) > MAX_PANELS:
            raise ProjectFormatError(
                f"set_panel_views: at most {MAX_PANELS} panels, got {len(names)}")
        if len(set(names)) != len(names):
            raise ProjectFormatError(f"set_panel_views: a camera is shown twice in {names}")
        cap = self.instant(i).capture
        rig = self.rig(cap)
        bad = [n for n in names if n not in rig]
        if bad:
            raise ProjectFormatError(
                f"set_panel_views: camera(s) {bad} are not part of capture {cap!r}")
        self._labels.set_panel_views(i, [self.camera_index(n) for n in names])

    def panel_views(self, i: int) -> tuple[str, ...] | None:
        """The cameras saved for the app's panels at instant ``i`` (panel order), or None."""
        idx = self._labels.panel_view(self._check_instant(i))
        return None if idx is None else tuple(self._camera_names[c] for c in idx)

    def instants_with_panel_views(self) -> np.ndarray:
        """Sorted instant indices that have saved panel cameras."""
        return self._labels.instants_with_panel_views().astype(np.int64)

    def occluded_counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sparse count of cameras marking each joint occluded: (instant, joint, count),
        one row per (instant, joint) with at least one mark."""
        inst, _, joint, state = self._labels.view_state_rows()
        keep = (state & VIEW_OCCLUDED) != 0
        key = inst[keep].astype(np.int64) * skeleton.NUM_JOINTS + joint[keep]
        uniq, count = np.unique(key, return_counts=True)
        return uniq // skeleton.NUM_JOINTS, uniq % skeleton.NUM_JOINTS, count

    def view_states(self, i: int) -> np.ndarray:
        """(C, J) int8 bits per (camera, joint) of instant ``i``: VIEW_OCCLUDED, VIEW_LOCKED."""
        return self._labels.view_state(self._check_instant(i))

    def labelled_instants(self, source: str | None = "human") -> np.ndarray:
        """Sorted instant indices with any 3D joint of ``source`` (None = any source)."""
        if source is not None and source not in JOINT_SOURCES[1:]:
            raise ProjectFormatError(f"source must be one of {JOINT_SOURCES[1:]} or None")
        if source is None:
            parts = [self.labelled_instants(s) for s in JOINT_SOURCES[1:]]
            return np.unique(np.concatenate(parts)).astype(np.int64)
        found = self._labels.instants_with_joints(source).astype(np.int64)
        if source == "imported" and imported_layer.has_layer(self._frames):
            _, valid, _ = imported_layer.layer_arrays(
                self._frames, self.num_instants, skeleton.NUM_JOINTS
            )
            inst, joint, _ = self._labels.joints_table()
            valid[inst, joint] = False  # a row (edit or clear) hides the imported joint
            found = np.union1d(found, np.flatnonzero(valid.any(axis=1))).astype(np.int64)
        return found

    def joints_3d_all(self) -> tuple[np.ndarray, np.ndarray]:
        """Every instant's 3D joints: (F, J, 3) world mm (NaN = none) and (F, J) int8 source
        codes (index into ``JOINT_SOURCES``), pending edits and the imported layer applied."""
        F, J = self.num_instants, skeleton.NUM_JOINTS
        world, valid, _ = imported_layer.layer_arrays(self._frames, F, J)
        xyz = np.where(valid[..., None], world, np.nan)
        source = np.where(valid, JOINT_SOURCES.index("imported"), 0).astype(np.int8)
        inst, joint, vals = self._labels.joints_table()
        xyz[inst, joint] = vals["xyz_mm"]
        source[inst, joint] = vals["source"]
        return xyz, source

    def hand_present_all(self) -> np.ndarray:
        """(F, 2) int8 hand presence of every instant (-1 unknown, 0 absent, 1 present)."""
        F, J = self.num_instants, skeleton.NUM_JOINTS
        _, _, hands = imported_layer.layer_arrays(self._frames, F, J)
        self._labels.ensure_loaded()
        inst, hand, vals = self._labels.hands.merged(2)
        hands[inst, hand] = vals["present"]
        return hands

    def flagged_instants(self) -> np.ndarray:
        return self._labels.flagged_instants().astype(np.int64)


def _now(time: float | None) -> float:
    if time is None:
        return _time.time()
    t = float(time)
    if not np.isfinite(t):
        raise ProjectFormatError(f"time must be finite, got {time!r}")
    return t
