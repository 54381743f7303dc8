"""``labels.h5``: human work as sparse tables, rewritten atomically on every save.

Tables (one HDF5 group each, columns of equal length, rows sorted by instant)::

    clicks/  instant i8, camera i4, joint i2, uv_px (N, 2) f8, annotator i4, time f8
    joints/  instant i8, joint i2, xyz_mm (N, 3) f8, source i1, annotator i4, time f8
    hands/   instant i8, hand i1, present i1
    flags/   instant i8, joint i2 (-1 = whole instant), reason i4
    view_states/  instant i8, camera i4, joint i2, state i1 (bits: 1 occluded, 2 locked);
             optional (files written before it existed read as empty)
    panel_views/  instant i8, panel i1, camera i4: the cameras the app's panels show at
             an instant (saved once the instant is edited or a panel's camera is chosen);
             optional, like view_states
    strings  (S,) str: annotator names and flag reasons, referenced by index

Only what someone set is stored, so a project of 40k instants with a few thousand labelled
ones is a file of a few MB, and the atomic full rewrite per save stays cheap. Edits are kept
in memory (``pending``) until :meth:`LabelStore.save` (alone) or :meth:`LabelStore.stage` +
:meth:`LabelStore.committed` (``ProjectStore.save()``, one commit with the other files).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import h5py
import numpy as np

from annotator.store.atomic import atomic_file, fsync_path, temp_sibling
from annotator.store.errors import ProjectFormatError
from annotator.store.layout import LABELS_NAME
from annotator.store.records import JOINT_SOURCES, ClickRecords, InstantLabels

__all__ = ["LabelStore", "LABELS_NAME"]

logger = logging.getLogger(__name__)

_STR = h5py.string_dtype()
#: Tables added after schema 1 was released; a file without them reads them as empty.
_OPTIONAL_TABLES = ("view_states", "panel_views")
#: Panels a saved panel-view row may address.
MAX_PANELS = 64


class _Table:
    """Rows keyed by (instant, sub) with fixed value columns; pending edits overlay the base."""

    def __init__(self, columns: dict[str, tuple[str, tuple[int, ...]]]):
        self.columns = columns
        self.instant = np.empty(0, np.int64)
        self.sub = np.empty(0, np.int64)
        self.values = {c: np.empty((0, *shape), dtype) for c, (dtype, shape) in columns.items()}
        self.pending: dict[int, dict[int, tuple | None]] = {}

    def load(self, instant: np.ndarray, sub: np.ndarray, values: dict[str, np.ndarray]) -> None:
        order = np.lexsort((sub, instant))
        self.instant = instant[order].astype(np.int64)
        self.sub = sub[order].astype(np.int64)
        self.values = {
            c: np.asarray(values[c])[order].astype(self.columns[c][0]) for c in self.columns
        }

    def set(self, instant: int, sub: int, row: tuple | None) -> None:
        self.pending.setdefault(int(instant), {})[int(sub)] = row

    def rows(self, instant: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(sub, values) of one instant with pending edits applied."""
        lo, hi = np.searchsorted(self.instant, [instant, instant + 1])
        sub = self.sub[lo:hi]
        vals = {c: v[lo:hi] for c, v in self.values.items()}
        edits = self.pending.get(int(instant))
        if not edits:
            return sub, vals
        keep = ~np.isin(sub, np.fromiter(edits, np.int64, len(edits)))
        new = [(s, r) for s, r in edits.items() if r is not None]
        sub = np.concatenate([sub[keep], np.array([s for s, _ in new], np.int64)])
        for k, c in enumerate(self.columns):
            dtype, shape = self.columns[c]
            added = np.array([r[k] for _, r in new], dtype).reshape(len(new), *shape)
            vals[c] = np.concatenate([vals[c][keep], added])
        return sub, vals

    def merged(self, sub_size: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """All rows (pending applied), sorted by (instant, sub)."""
        if not self.pending:
            return self.instant, self.sub, self.values
        p_inst, p_sub, p_rows = [], [], []
        for inst, edits in self.pending.items():
            for s, r in edits.items():
                p_inst.append(inst)
                p_sub.append(s)
                p_rows.append(r)
        p_inst_a = np.array(p_inst, np.int64)
        p_sub_a = np.array(p_sub, np.int64)
        keep = ~np.isin(self.instant * sub_size + self.sub, p_inst_a * sub_size + p_sub_a)
        live = np.array([r is not None for r in p_rows], bool)
        rows = [r for r in p_rows if r is not None]
        instant = np.concatenate([self.instant[keep], p_inst_a[live]])
        sub = np.concatenate([self.sub[keep], p_sub_a[live]])
        values = {}
        for k, c in enumerate(self.columns):
            dtype, shape = self.columns[c]
            added = np.array([r[k] for r in rows], dtype).reshape(len(rows), *shape)
            values[c] = np.concatenate([self.values[c][keep], added])
        order = np.lexsort((sub, instant))
        return instant[order], sub[order], {c: v[order] for c, v in values.items()}


class LabelStore:
    """In-memory view of ``labels.h5`` with pending edits; loaded on first use."""

    def __init__(self, path: Path, num_cameras: int, num_joints: int):
        self.path = Path(path)
        self.C = int(num_cameras)
        self.J = int(num_joints)
        self._loaded = False
        self.strings: list[str] = [""]
        self._string_index: dict[str, int] = {"": 0}
        self.clicks = _Table({"uv_px": ("f8", (2,)), "annotator": ("i4", ()), "time": ("f8", ())})
        self.joints = _Table(
            {
                "xyz_mm": ("f8", (3,)),
                "source": ("i1", ()),
                "annotator": ("i4", ()),
                "time": ("f8", ()),
            }
        )
        self.hands = _Table({"present": ("i1", ())})
        self.flags = _Table({"reason": ("i4", ())})
        self.view_states = _Table({"state": ("i1", ())})
        self.panel_views = _Table({"camera": ("i4", ())})
        self._sub_size = {
            "clicks": self.C * self.J,
            "joints": self.J,
            "hands": 2,
            "flags": self.J + 1,
            "view_states": self.C * self.J,
            "panel_views": MAX_PANELS,
        }

    # -- loading -------------------------------------------------------------------------
    def _tables(self) -> dict[str, _Table]:
        return {
            "clicks": self.clicks,
            "joints": self.joints,
            "hands": self.hands,
            "flags": self.flags,
            "view_states": self.view_states,
            "panel_views": self.panel_views,
        }

    def ensure_loaded(self) -> None:
        if self._loaded:
            return
        if self.path.exists():
            self._load()
        self._loaded = True

    def _load(self) -> None:
        try:
            with h5py.File(self.path, "r") as f:
                strings = list(f["strings"].asstr()[...])
                raw = {
                    g: {c: f[g][c][...] for c in f[g]}
                    for g in self._tables()
                    if g in f or g not in _OPTIONAL_TABLES
                }
        except (OSError, KeyError) as exc:
            raise ProjectFormatError(f"{self.path}: unreadable labels file ({exc})") from None
        if not strings or strings[0] != "":
            raise ProjectFormatError(f"{self.path}: strings table must start with ''")
        subs = {
            "clicks": lambda d: d["camera"].astype(np.int64) * self.J + d["joint"],
            "joints": lambda d: d["joint"].astype(np.int64),
            "hands": lambda d: d["hand"].astype(np.int64),
            "flags": lambda d: d["joint"].astype(np.int64) + 1,
            "view_states": lambda d: d["camera"].astype(np.int64) * self.J + d["joint"],
            "panel_views": lambda d: d["panel"].astype(np.int64),
        }
        for name, table in self._tables().items():
            if name not in raw:  # an optional table the file predates: empty
                continue
            d = raw[name]
            try:
                n = d["instant"].shape[0]
                sub = subs[name](d)
                if any(d[c].shape[0] != n for c in d):
                    raise ProjectFormatError(f"{self.path}: {name} columns differ in length")
                if n and (sub.min() < 0 or sub.max() >= self._sub_size[name]):
                    raise ProjectFormatError(f"{self.path}: {name} has camera/joint out of range")
                table.load(d["instant"], sub, {c: d[c] for c in table.columns})
            except KeyError as exc:
                raise ProjectFormatError(f"{self.path}: {name} lacks column {exc}") from None
        for name, col, table, size in (
            ("clicks", "annotator", "strings", len(strings)),
            ("joints", "annotator", "strings", len(strings)),
            ("flags", "reason", "strings", len(strings)),
            ("joints", "source", "the known sources", len(JOINT_SOURCES)),
            ("panel_views", "camera", "the project's cameras", self.C),
        ):
            v = self._tables()[name].values[col]
            if v.size and (v.min() < 0 or v.max() >= size):
                raise ProjectFormatError(f"{self.path}: {name}.{col} indexes past {table}")
        self.strings = strings
        self._string_index = {s: k for k, s in enumerate(strings)}

    def intern(self, s: str) -> int:
        idx = self._string_index.get(s)
        if idx is None:
            idx = self._string_index[s] = len(self.strings)
            self.strings.append(s)
        return idx

    # -- edits ---------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        return any(t.pending for t in self._tables().values())

    def set_click(
        self,
        i: int,
        cam: int,
        joint: int,
        uv: tuple[float, float] | None,
        annotator: str,
        time: float,
    ) -> None:
        self.ensure_loaded()
        row = None if uv is None else (uv, self.intern(annotator), time)
        self.clicks.set(i, cam * self.J + joint, row)

    def set_joint(
        self, i: int, joint: int, xyz: np.ndarray | None, source: str, annotator: str, time: float
    ) -> None:
        self.ensure_loaded()
        row = (
            None
            if xyz is None
            else (xyz, JOINT_SOURCES.index(source), self.intern(annotator), time)
        )
        self.joints.set(i, joint, row)

    def set_hand(self, i: int, hand: int, present: int | None) -> None:
        self.ensure_loaded()
        self.hands.set(i, hand, None if present is None else (present,))

    def set_flag(self, i: int, joint: int, reason: str | None) -> None:
        self.ensure_loaded()
        self.flags.set(i, joint + 1, None if reason is None else (self.intern(reason),))

    def set_view_state(self, i: int, cam: int, joint: int, state: int) -> None:
        """Occluded (bit 1) / locked (bit 2) state of (camera, joint); 0 removes the row."""
        self.ensure_loaded()
        self.view_states.set(i, cam * self.J + joint, (int(state),) if state else None)

    def set_panel_views(self, i: int, cameras: list[int] | None) -> None:
        """The project camera indices shown in panels 0.. at instant ``i`` (None: none saved)."""
        self.ensure_loaded()
        sub, _ = self.panel_views.rows(i)
        for k in sub.tolist():
            self.panel_views.set(i, k, None)
        for k, c in enumerate(cameras or ()):
            self.panel_views.set(i, k, (int(c),))

    # -- reads ---------------------------------------------------------------------------
    def panel_view(self, i: int) -> list[int] | None:
        """Project camera indices of instant ``i``'s saved panels in panel order, or None."""
        self.ensure_loaded()
        sub, v = self.panel_views.rows(i)
        if not sub.size:
            return None
        order = np.argsort(sub)
        return [int(c) for c in v["camera"][order]]

    def view_state_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every view-state row: (instant, camera, joint, state), pending edits applied."""
        self.ensure_loaded()
        inst, sub, v = self.view_states.merged(self._sub_size["view_states"])
        return inst, sub // self.J, sub % self.J, v["state"]

    def instants_with_panel_views(self) -> np.ndarray:
        """Sorted instants that have saved panel cameras."""
        self.ensure_loaded()
        inst, _, _ = self.panel_views.merged(self._sub_size["panel_views"])
        return np.unique(inst)

    def view_state(self, i: int) -> np.ndarray:
        """(C, J) int8 view-state bits of instant ``i`` (0 = none)."""
        self.ensure_loaded()
        out = np.zeros((self.C, self.J), np.int8)
        sub, v = self.view_states.rows(i)
        out[sub // self.J, sub % self.J] = v["state"]
        return out

    def instant(self, i: int) -> InstantLabels:
        self.ensure_loaded()
        C, J = self.C, self.J
        clicks = np.full((C, J, 2), np.nan)
        sub, v = self.clicks.rows(i)
        clicks[sub // J, sub % J] = v["uv_px"]
        xyz = np.full((J, 3), np.nan)
        source = np.full(J, "", dtype=object)
        who = np.full(J, "", dtype=object)
        when = np.full(J, np.nan)
        sub, v = self.joints.rows(i)
        xyz[sub] = v["xyz_mm"]
        strings = np.asarray(self.strings, dtype=object)
        source[sub] = np.asarray(JOINT_SOURCES, dtype=object)[v["source"]]
        who[sub] = strings[v["annotator"]]
        when[sub] = v["time"]
        hands = np.full(2, -1, np.int8)
        sub, v = self.hands.rows(i)
        hands[sub] = v["present"]
        sub, v = self.flags.rows(i)
        flags = tuple(
            (int(s) - 1, self.strings[int(r)]) for s, r in zip(sub, v["reason"], strict=True)
        )
        return InstantLabels(clicks, xyz, source.astype(str), who.astype(str), when, hands, flags)

    def click_records(self, i: int) -> ClickRecords:
        """The clicks of instant ``i`` with annotator and time, sorted by (camera, joint)."""
        self.ensure_loaded()
        sub, v = self.clicks.rows(i)
        order = np.argsort(sub, kind="stable")
        sub = sub[order]
        strings = np.asarray(self.strings, dtype=object)
        return ClickRecords(
            camera=(sub // self.J).astype(np.int64),
            joint=(sub % self.J).astype(np.int64),
            uv_px=np.asarray(v["uv_px"])[order].astype(np.float64).reshape(-1, 2),
            annotator=strings[np.asarray(v["annotator"], np.int64)[order]].astype(str),
            time=np.asarray(v["time"], np.float64)[order],
        )

    def instants_with_joints(self, source: str | None) -> np.ndarray:
        """Sorted unique instant indices having a 3D joint of ``source`` (None = any)."""
        self.ensure_loaded()
        inst, _, v = self.joints.merged(self._sub_size["joints"])
        if source is not None:
            inst = inst[v["source"] == JOINT_SOURCES.index(source)]
        return np.unique(inst)

    def flagged_instants(self) -> np.ndarray:
        self.ensure_loaded()
        inst, _, _ = self.flags.merged(self._sub_size["flags"])
        return np.unique(inst)

    def joints_table(self) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """All 3D joint rows (instant, joint, values), pending edits applied."""
        self.ensure_loaded()
        return self.joints.merged(self._sub_size["joints"])

    # -- saving --------------------------------------------------------------------------
    def save(self, force: bool = False) -> bool:
        """Atomically write all tables if anything changed; returns whether it wrote."""
        self.ensure_loaded()
        if not (self.dirty or force):
            return False
        merged = {name: t.merged(self._sub_size[name]) for name, t in self._tables().items()}
        with atomic_file(self.path) as tmp:
            write_labels_file(tmp, self.strings, merged, self.J)
        self.committed(merged)
        return True

    def stage(self) -> tuple[Path, dict] | None:
        """Write the merged tables to a fresh fsynced temporary sibling; None if unchanged.

        Returns (temporary path, merged tables); after the caller has moved the temporary
        over :attr:`path` it passes the tables to :meth:`committed`.
        """
        self.ensure_loaded()
        if not self.dirty:
            return None
        merged = {name: t.merged(self._sub_size[name]) for name, t in self._tables().items()}
        tmp = temp_sibling(self.path)
        try:
            write_labels_file(tmp, self.strings, merged, self.J)
            fsync_path(tmp)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return tmp, merged

    def committed(self, merged: dict) -> None:
        """The staged file is now :attr:`path`: adopt its tables, clear pending edits."""
        for name, t in self._tables().items():
            inst, sub, vals = merged[name]
            t.instant, t.sub, t.values, t.pending = inst, sub, vals, {}

    def discard(self) -> None:
        """Forget pending edits."""
        for t in self._tables().values():
            t.pending = {}


def write_labels_file(
    path: Path,
    strings: list[str],
    tables: dict[str, tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]],
    num_joints: int,
) -> None:
    """Write a schema-1 labels file from merged (instant, sub, values) tables."""
    J = num_joints
    with h5py.File(path, "w") as f:
        f.attrs["schema_version"] = 1
        f.create_dataset("strings", data=np.array(strings, dtype=object), dtype=_STR)
        for name, (inst, sub, vals) in tables.items():
            g = f.create_group(name)
            g.create_dataset("instant", data=inst.astype(np.int64))
            if name in ("clicks", "view_states"):
                g.create_dataset("camera", data=(sub // J).astype(np.int32))
                g.create_dataset("joint", data=(sub % J).astype(np.int16))
            elif name == "joints":
                g.create_dataset("joint", data=sub.astype(np.int16))
            elif name == "hands":
                g.create_dataset("hand", data=sub.astype(np.int8))
            elif name == "panel_views":
                g.create_dataset("panel", data=sub.astype(np.int8))
            else:
                g.create_dataset("joint", data=(sub - 1).astype(np.int16))
            for c, v in vals.items():
                g.create_dataset(c, data=v)
        f.flush()
