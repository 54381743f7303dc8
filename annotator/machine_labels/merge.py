"""Merge machine-labelling shards into the project (``annotator merge``).

Steps (:func:`merge_machine_labels`):

1. list every shard's instants; every instant the run was asked to label
   (``machine/run.json``, else every instant without human 3D joints) must be present in
   exactly one shard: otherwise a :class:`MergeError` names the missing / duplicated instants
   (and the shards holding the duplicates), before anything is written;
2. the lifted 3D joints go into ``labels.h5`` with source ``"machine"``. Human (and
   imported) joints always win: they are never overwritten. Machine joints of an earlier
   merge are replaced; those now missing are cleared. Joints that failed a quality check are
   written (as proposals) and flagged for review with a reason starting "machine: "; flags of
   an earlier merge with that prefix are cleared first, human flags are kept. Hand presence is
   set only where it is unknown;
3. the per-view detections of all shards go into one ``machine/detections.h5`` (the same
   columns as a shard, rows sorted by instant), which ``annotator evaluate`` reads for the
   views curve. Written atomically.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from annotator import skeleton
from annotator.store.atomic import atomic_file
from annotator.store.errors import ProjectFormatError
from annotator.store.labelling_run import running_labellers
from annotator.store.machine_shards import (
    MACHINE_FLAG_PREFIX,
    SHARD_FORMAT,
    BadImage,
    ShardRecords,
    quality_reason,
    read_manifest,
    read_shard,
    remove_dead_temps,
    shard_instants,
    shard_paths,
)

__all__ = [
    "MergeError",
    "MergeReport",
    "Detections",
    "DETECTIONS_NAME",
    "merge_machine_labels",
    "read_detections",
    "format_instants",
]

logger = logging.getLogger(__name__)

DETECTIONS_NAME = "detections.h5"
_COLUMNS = ("instants", "uv_px", "confidence", "joints_world_mm", "inliers",
            "reproj_error_px", "quality", "hand_present", "score")
_KEEP_SOURCES = ("human", "imported")  # never overwritten by machine labels
Progress = Callable[[int, int], None]


class MergeError(ProjectFormatError):
    """The shards do not cover the expected instants exactly once (nothing was written)."""


@dataclass(frozen=True)
class MergeReport:
    """What a merge did."""

    instants: int  # instants merged
    expected: int  # instants the run had to label
    extra: int  # instants in shards beyond the expected ones (merged too)
    joints_written: int  # machine 3D joints written
    joints_kept_human: int  # machine joints not written because a human label exists
    joints_flagged: int  # written joints flagged for review
    hands_set: int  # hand-presence flags set where they were unknown
    bad_images: tuple[BadImage, ...]
    shards: int
    detections_path: str


@dataclass(frozen=True)
class Detections:
    """``machine/detections.h5`` read back: ShardRecords columns plus the run's meta."""

    records: ShardRecords
    camera_names: list[str]
    meta: dict[str, Any]


def format_instants(instants, limit: int = 12) -> str:
    """'3, 7-9, 12 (and 40 more)': a short listing of sorted instant indices as ranges."""
    arr = np.unique(np.asarray(instants, np.int64))
    runs: list[str] = []
    start = prev = None
    for i in arr.tolist():
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            runs.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = i
    if start is not None:
        runs.append(f"{start}" if start == prev else f"{start}-{prev}")
    text = ", ".join(runs[:limit])
    if len(runs) > limit:
        text += f" (and {len(runs) - limit} more ranges)"
    return text


def _expected(store) -> np.ndarray:
    manifest = read_manifest(store.machine_dir)
    if manifest is not None:
        return np.unique(manifest[0])
    human = store.labelled_instants("human")
    return np.setdiff1d(np.arange(store.num_instants, dtype=np.int64), human)


def check_completeness(store, paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """(all present instants sorted, expected instants); MergeError when incomplete."""
    where: dict[int, list[str]] = {}
    for p in paths:
        for i in shard_instants(p).tolist():
            where.setdefault(int(i), []).append(p.name)
    present = np.array(sorted(where), np.int64)
    expected = _expected(store)
    problems = []
    missing = np.setdiff1d(expected, present)
    if missing.size:
        problems.append(
            f"{missing.size} expected instant(s) missing from the shards: "
            f"{format_instants(missing)} (rerun 'annotator machine-label', it redoes only these)"
        )
    dup = {i: names for i, names in where.items() if len(names) > 1}
    if dup:
        shown = "; ".join(f"{i} in {', '.join(n)}" for i, n in list(sorted(dup.items()))[:6])
        problems.append(f"{len(dup)} instant(s) in more than one shard: {shown}")
    bad = present[(present < 0) | (present >= store.num_instants)]
    if bad.size:
        problems.append(f"shards hold instants outside the project: {format_instants(bad)}")
    if problems:
        raise MergeError(f"{store.machine_dir}: " + "; ".join(problems))
    return present, expected


def _apply_instant(store, i: int, rec: ShardRecords, k: int, counts: dict[str, int]) -> None:
    lab = store.labels(i)
    kept = np.isin(lab.joint_source, _KEEP_SOURCES)
    joints = np.asarray(rec.joints_world_mm[k], np.float64)
    finite = np.isfinite(joints).all(axis=1)
    write = finite & ~kept
    counts["joints_kept_human"] += int((finite & kept).sum())
    counts["joints_written"] += int(write.sum())
    out = np.where(write[:, None], joints, np.nan)
    if write.any():
        store.set_joints_3d(i, out, source="machine", annotator="machine-labeler")
    # stale machine joints of an earlier merge that this run could not triangulate
    for j in np.nonzero(~finite & (lab.joint_source == "machine"))[0].tolist():
        store.clear_joint_3d(i, j)
    for j, reason in lab.flags:
        if reason.startswith(MACHINE_FLAG_PREFIX):
            store.set_flag(i, None if j < 0 else j, None)
    for j in np.nonzero((rec.quality[k] != 0) & ~kept)[0].tolist():
        store.set_flag(i, j, quality_reason(int(rec.quality[k, j])))
        counts["joints_flagged"] += int(finite[j])
    # An instant with human (or imported) joints has its hands: a labeller that found none
    # there (--instants all) is wrong, not the labels, and a person need not review it.
    if (rec.hand_present[k] == 0).all() and not kept.any():
        store.set_flag(i, None, MACHINE_FLAG_PREFIX + "no hands found")
    for h, hand in enumerate(skeleton.HANDS):
        verdict = int(rec.hand_present[k, h])
        stored = int(lab.hand_present[h])
        # a "present" that nobody backs with a kept (human / imported) joint is an earlier
        # machine run's verdict: a newer run that finds the hand absent replaces it. An
        # "absent" is never overturned (a person may have marked it in the app).
        backed = kept[skeleton.hand_slice(hand)].any()
        stale = stored == 1 and verdict == 0 and not backed
        # nor is a hand with human joints made absent because this run missed it
        if (stored == -1 and verdict in (0, 1) and not (verdict == 0 and backed)) or stale:
            store.set_hand_present(i, h, bool(verdict))
            counts["hands_set"] += 1


def _create_detections(tmp: Path, rows: int, C: int, J: int, attrs: dict) -> h5py.File:
    f = h5py.File(tmp, "w")
    for key, value in attrs.items():
        f.attrs[key] = value
    specs = {
        "instants": ((), "i8", 0),
        "uv_px": ((C, J, 2), "f4", np.nan),
        "confidence": ((C, J), "f4", 0.0),
        "joints_world_mm": ((J, 3), "f8", np.nan),
        "inliers": ((J,), "i2", 0),
        "reproj_error_px": ((J,), "f4", np.nan),
        "quality": ((J,), "u1", 0),
        "hand_present": ((2,), "i1", -1),
        "score": ((J,), "f4", np.nan),
    }
    for name, (shape, dtype, fill) in specs.items():
        f.create_dataset(
            name, (rows, *shape), dtype=dtype, fillvalue=fill,
            chunks=(1, *shape) if len(shape) >= 2 and rows else None,
            compression="lzf" if len(shape) >= 2 and rows else None,
        )
    return f


def merge_machine_labels(store, progress: Progress | None = None) -> MergeReport:
    """Merge ``store.machine_dir``'s shards into ``store`` (open for writing) and save.

    Raises:
        MergeError: a labelling run still at work (its marker, ``labelling_run``), no
            shards, or an expected instant missing / one in several shards.
        ProjectFormatError: a shard is unreadable or was written for other cameras.
    """
    running = running_labellers(store.machine_dir, remove_stale=True)
    if running:
        more = f" and {len(running) - 1} more process(es)" if len(running) > 1 else ""
        raise MergeError(
            f"{store.machine_dir}: machine labelling is still in progress "
            f"({running[0].describe()}{more}); merge when it has finished (if that run is "
            f"dead, delete {running[0].path.name})"
        )
    remove_dead_temps(store.machine_dir)
    paths = shard_paths(store.machine_dir)
    if not paths:
        raise MergeError(
            f"{store.machine_dir}: no shard-*.h5 files (run 'annotator machine-label' first)"
        )
    present, expected = check_completeness(store, paths)
    C, J = len(store.camera_names), skeleton.NUM_JOINTS
    counts = dict(joints_written=0, joints_kept_human=0, joints_flagged=0, hands_set=0)
    bad: list[BadImage] = []
    meta: dict[str, Any] = {}
    target = store.machine_dir / DETECTIONS_NAME
    with atomic_file(target) as tmp:
        f = None
        try:
            done = 0
            for p in paths:
                rec = read_shard(p, store.camera_names)
                if f is None:
                    meta = rec.meta
                    attrs = {
                        "format": SHARD_FORMAT + "-merged",
                        "camera_names": json.dumps(store.camera_names),
                        "num_joints": J,
                        "meta": json.dumps(meta),
                    }
                    f = _create_detections(tmp, len(present), C, J, attrs)
                bad.extend(rec.bad_images)
                rows = np.searchsorted(present, rec.instants)
                order = np.argsort(rows)
                for name in _COLUMNS:
                    data = getattr(rec, name)[order]
                    f[name][rows[order].tolist()] = data
                for k, i in enumerate(rec.instants.tolist()):
                    _apply_instant(store, int(i), rec, k, counts)
                done += len(rec)
                if progress is not None:
                    progress(done, len(present))
        finally:
            if f is not None:
                f.close()
    store.save()
    extra = int(np.setdiff1d(present, expected).size)
    return MergeReport(
        instants=int(present.size),
        expected=int(expected.size),
        extra=extra,
        bad_images=tuple(bad),
        shards=len(paths),
        detections_path=str(target),
        **counts,
    )


def read_detections(machine_dir: Path) -> Detections | None:
    """``machine/detections.h5`` (written by a merge), or None when there is none."""
    path = Path(machine_dir) / DETECTIONS_NAME
    if not path.exists():
        return None
    try:
        with h5py.File(path, "r") as f:
            arrays = {n: f[n][:] for n in _COLUMNS if n in f or n != "score"}
            names = json.loads(f.attrs["camera_names"])
            meta = json.loads(f.attrs.get("meta", "{}"))
    except (OSError, KeyError) as exc:
        raise ProjectFormatError(f"{path}: unreadable merged detections ({exc})") from None
    return Detections(ShardRecords(**arrays, meta=meta), names, meta)
