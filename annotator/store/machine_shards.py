"""Machine-labelling shards: ``PROJECT/machine/shard-XXXXX.h5`` (no torch here).

Each labelling rank writes its results into shard files of its own. A shard holds, for the
instants it completed (N of them), in the project's camera order (C) and joint order (J)::

    instants           (N,) i8      instant indices, each complete in this file
    uv_px              (N, C, J, 2) f4   per-view 2D detections in image pixels (NaN: none)
    confidence         (N, C, J) f4      detector confidence per detection (0: none)
    joints_world_mm    (N, J, 3) f8      RANSAC-lifted 3D joints (NaN: not triangulated)
    inliers            (N, J) i2         inlier views of each 3D joint
    reproj_error_px    (N, J) f4         mean reprojection error over the inlier views
    quality            (N, J) u1         bit set of QUALITY_* failures (0 = passed)
    hand_present       (N, 2) i1         the labeller's verdict per hand (skeleton.HANDS order)
    score              (N, J) f4         quality score in [0, 1] (machine_labeler.quality;
                                         NaN in shards written before it existed)
    bad_images/        instant (K,) i8, camera (K,) i4, reason (K,) str: skipped images
    attrs              format, version, camera_names (JSON), num_joints, rank, world_size,
                       meta (JSON: model checkpoint, config, thresholds)

Crash safety: a shard is only ever written whole (temporary sibling, fsync, ``os.replace``),
so a killed rank leaves the shard of its last flush intact and loses only the instants
labelled since. A writer keeps the records of its current file in memory and rewrites that
file on every flush; after ``max_instants_per_file`` instants it starts a new file, which
bounds both the memory and the cost of one flush. Shard numbers are ``n ≡ rank (mod world)``
above every number present when the writer starts, so ranks of one run never collide, and a
rerun never touches the shards of an earlier one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from annotator.store.atomic import atomic_file, fsync_dir
from annotator.store.errors import ProjectFormatError

__all__ = [
    "SHARD_FORMAT",
    "SHARD_VERSION",
    "QUALITY_FEW_INLIERS",
    "QUALITY_HIGH_ERROR",
    "QUALITY_BONE_LENGTH",
    "QUALITY_NOT_TRIANGULATED",
    "QUALITY_REASONS",
    "quality_reason",
    "BadImage",
    "ShardRecords",
    "ShardWriter",
    "shard_paths",
    "read_shard",
    "shard_instants",
    "completed_instants",
    "remove_dead_temps",
    "write_manifest",
    "read_manifest",
    "MANIFEST_NAME",
    "MACHINE_FLAG_PREFIX",
    "archive_run",
]

logger = logging.getLogger(__name__)

SHARD_FORMAT = "annotator-machine-shard"
SHARD_VERSION = 1
_SHARD_RE = re.compile(r"^shard-(\d+)\.h5$")
_STR = h5py.string_dtype()
#: The per-instant arrays of :class:`ShardRecords`, in field order: one h5 dataset each.
_ARRAYS = (
    "instants",
    "uv_px",
    "confidence",
    "joints_world_mm",
    "inliers",
    "reproj_error_px",
    "quality",
    "hand_present",
    "score",
)
#: Columns a shard written by an older version may lack: their fill value.
_OPTIONAL = {"score": np.nan}

#: Quality bits of a machine joint (``quality`` column). 0 means it passed every check.
QUALITY_FEW_INLIERS = 1
QUALITY_HIGH_ERROR = 2
QUALITY_BONE_LENGTH = 4
QUALITY_NOT_TRIANGULATED = 8
QUALITY_LOW_SCORE = 16  # the joint's quality score is below the review threshold
#: Bit -> the reason text written with ``store.set_flag`` (prefixed "machine: ").
QUALITY_REASONS: dict[int, str] = {
    QUALITY_FEW_INLIERS: "few inlier views",
    QUALITY_HIGH_ERROR: "large reprojection error",
    QUALITY_BONE_LENGTH: "implausible bone length",
    QUALITY_NOT_TRIANGULATED: "not triangulated",
    QUALITY_LOW_SCORE: "low quality score",
}
MACHINE_FLAG_PREFIX = "machine: "


def quality_reason(bits: int) -> str | None:
    """The review-flag text of a quality bit set (None when the joint passed)."""
    bits = int(bits)
    if bits == 0:
        return None
    parts = [text for bit, text in QUALITY_REASONS.items() if bits & bit]
    return MACHINE_FLAG_PREFIX + ", ".join(parts)


@dataclass(frozen=True)
class BadImage:
    """An image the labeller skipped: instant index, project camera index, why."""

    instant: int
    camera: int
    reason: str


@dataclass(frozen=True)
class ShardRecords:
    """Results of N instants (shapes as in the module docstring)."""

    instants: np.ndarray
    uv_px: np.ndarray
    confidence: np.ndarray
    joints_world_mm: np.ndarray
    inliers: np.ndarray
    reproj_error_px: np.ndarray
    quality: np.ndarray
    hand_present: np.ndarray
    score: np.ndarray | None = None  # (N, J); None: unknown (NaN when written)
    bad_images: tuple[BadImage, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.instants.shape[0])

    @staticmethod
    def empty(num_cameras: int, num_joints: int) -> ShardRecords:
        C, J = int(num_cameras), int(num_joints)
        return ShardRecords(
            instants=np.empty(0, np.int64),
            uv_px=np.empty((0, C, J, 2), np.float32),
            confidence=np.empty((0, C, J), np.float32),
            joints_world_mm=np.empty((0, J, 3), np.float64),
            inliers=np.empty((0, J), np.int16),
            reproj_error_px=np.empty((0, J), np.float32),
            quality=np.empty((0, J), np.uint8),
            hand_present=np.empty((0, 2), np.int8),
            score=np.empty((0, J), np.float32),
        )

    def checked(self, num_cameras: int, num_joints: int) -> ShardRecords:
        """These records cast to the file dtypes; ValueError on a shape mismatch."""
        C, J = int(num_cameras), int(num_joints)
        inst = np.asarray(self.instants, np.int64).reshape(-1)
        N = inst.shape[0]
        want = {
            "uv_px": ((N, C, J, 2), np.float32),
            "confidence": ((N, C, J), np.float32),
            "joints_world_mm": ((N, J, 3), np.float64),
            "inliers": ((N, J), np.int16),
            "reproj_error_px": ((N, J), np.float32),
            "quality": ((N, J), np.uint8),
            "hand_present": ((N, 2), np.int8),
            "score": ((N, J), np.float32),
        }
        out: dict[str, Any] = {"instants": inst}
        for name, (shape, dtype) in want.items():
            value = getattr(self, name)
            arr = np.full(shape, _OPTIONAL[name]) if value is None else np.asarray(value)
            if arr.shape != shape:
                raise ValueError(f"shard records: {name} must have shape {shape}, got {arr.shape}")
            out[name] = arr.astype(dtype, copy=False)
        if len(np.unique(inst)) != N:
            raise ValueError("shard records: an instant appears twice")
        return ShardRecords(**out, bad_images=tuple(self.bad_images), meta=dict(self.meta))


def _concat(parts: Sequence[ShardRecords], C: int, J: int) -> ShardRecords:
    if not parts:
        return ShardRecords.empty(C, J)
    arrays = {n: np.concatenate([getattr(p, n) for p in parts]) for n in _ARRAYS}
    bad = tuple(b for p in parts for b in p.bad_images)
    return ShardRecords(**arrays, bad_images=bad, meta=dict(parts[-1].meta))


def shard_paths(machine_dir: Path) -> list[Path]:
    """The shard files of ``machine_dir``, by shard number."""
    machine_dir = Path(machine_dir)
    if not machine_dir.is_dir():
        return []
    found = []
    for p in machine_dir.iterdir():
        m = _SHARD_RE.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def _shard_number(path: Path) -> int:
    m = _SHARD_RE.match(Path(path).name)
    if not m:
        raise ValueError(f"{path}: not a shard file name (shard-XXXXX.h5)")
    return int(m.group(1))


def _open(path: Path) -> h5py.File:
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ProjectFormatError(f"{path}: unreadable machine shard ({exc})") from None
    if f.attrs.get("format") != SHARD_FORMAT:
        f.close()
        raise ProjectFormatError(f"{path}: not a machine-labelling shard")
    version = int(f.attrs.get("version", -1))
    if version != SHARD_VERSION:
        f.close()
        raise ProjectFormatError(
            f"{path}: shard version {version}, this code reads version {SHARD_VERSION}"
        )
    return f


def _check_cameras(path: Path, f: h5py.File, camera_names: Sequence[str] | None) -> None:
    if camera_names is None:
        return
    names = json.loads(f.attrs["camera_names"])
    if list(names) != list(camera_names):
        raise ProjectFormatError(
            f"{path}: shard was written for cameras {names[:3]}... ({len(names)}), "
            f"the project has {list(camera_names)[:3]}... ({len(camera_names)})"
        )


def shard_instants(path: Path) -> np.ndarray:
    """(N,) int64 instant indices completed in one shard (reads only that column)."""
    with _open(path) as f:
        return f["instants"][:].astype(np.int64)


def read_shard(path: Path, camera_names: Sequence[str] | None = None) -> ShardRecords:
    """Everything in one shard; ``camera_names`` (the project's) is checked when given."""
    path = Path(path)
    try:
        with _open(path) as f:
            _check_cameras(path, f, camera_names)
            arrays = {n: f[n][:] for n in _ARRAYS if n in f or n not in _OPTIONAL}
            N, J = arrays["joints_world_mm"].shape[:2]
            for name, fill in _OPTIONAL.items():
                arrays.setdefault(name, np.full((N, J), fill, np.float32))
            g = f["bad_images"]
            reasons = [r.decode() if isinstance(r, bytes) else str(r) for r in g["reason"][:]]
            bad = tuple(
                BadImage(int(i), int(c), r)
                for i, c, r in zip(g["instant"][:], g["camera"][:], reasons, strict=True)
            )
            meta = json.loads(f.attrs.get("meta", "{}"))
    except KeyError as exc:
        raise ProjectFormatError(f"{path}: machine shard lacks {exc}") from None
    return ShardRecords(**arrays, bad_images=bad, meta=meta)


def completed_instants(machine_dir: Path) -> np.ndarray:
    """Sorted unique instant indices present in any shard of ``machine_dir``."""
    parts = [shard_instants(p) for p in shard_paths(machine_dir)]
    if not parts:
        return np.empty(0, np.int64)
    return np.unique(np.concatenate(parts))


def _write_file(path: Path, records: ShardRecords, attrs: dict[str, Any]) -> None:
    """Write ``records`` as shard ``path`` atomically (temp, fsync, rename, fsync dir)."""
    with atomic_file(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for key, value in attrs.items():
                f.attrs[key] = value
            N = len(records)
            for name in _ARRAYS:
                arr = getattr(records, name)
                big = arr.ndim >= 3 and N > 0
                f.create_dataset(
                    name,
                    data=arr,
                    chunks=(1, *arr.shape[1:]) if big else None,
                    compression="lzf" if big else None,
                )
            g = f.create_group("bad_images")
            g.create_dataset(
                "instant", data=np.array([b.instant for b in records.bad_images], np.int64)
            )
            g.create_dataset(
                "camera", data=np.array([b.camera for b in records.bad_images], np.int32)
            )
            g.create_dataset(
                "reason",
                data=np.array([b.reason for b in records.bad_images], dtype=object),
                dtype=_STR,
            )


class ShardWriter:
    """Writes one rank's results into its own shard files (see the module docstring).

    Args:
        machine_dir: ``store.machine_dir``.
        rank, world_size: this process's place in the run (0, 1 without torchrun).
        camera_names: the project's camera axis (C), recorded and checked by readers.
        num_joints: J.
        meta: JSON-serialisable run description stored in every shard (model, thresholds).
        max_instants_per_file: start a new shard file after this many instants.
    """

    def __init__(
        self,
        machine_dir: Path,
        rank: int,
        world_size: int,
        camera_names: Sequence[str],
        num_joints: int,
        meta: dict[str, Any] | None = None,
        max_instants_per_file: int = 256,
    ):
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in 0..{world_size - 1}")
        if max_instants_per_file < 1:
            raise ValueError("max_instants_per_file must be >= 1")
        self.machine_dir = Path(machine_dir)
        self.machine_dir.mkdir(parents=True, exist_ok=True)
        self.rank, self.world_size = int(rank), int(world_size)
        self.camera_names = list(camera_names)
        self.C, self.J = len(self.camera_names), int(num_joints)
        self.meta = dict(meta or {})
        json.dumps(self.meta)  # fail now, not at the first flush
        self.max_instants_per_file = int(max_instants_per_file)
        existing = [_shard_number(p) for p in shard_paths(self.machine_dir)]
        start = max(existing) + 1 if existing else 0
        # the smallest n >= start with n = rank (mod world)
        self._number = start + (self.rank - start) % self.world_size
        self._flushed: list[ShardRecords] = []  # records already in the current file
        self._pending: list[ShardRecords] = []
        self._count = 0  # instants in the current file (flushed + pending)
        self.files_written: list[Path] = []

    @property
    def current_path(self) -> Path:
        return self.machine_dir / f"shard-{self._number:05d}.h5"

    @property
    def pending_instants(self) -> int:
        return sum(len(p) for p in self._pending)

    def add(self, records: ShardRecords) -> None:
        """Queue the results of some instants (written at the next :meth:`flush`)."""
        rec = records.checked(self.C, self.J)
        start = 0
        while start < len(rec):
            room = self.max_instants_per_file - self._count
            if room == 0:
                self.flush()
                self._roll_over()
                continue
            piece = _take(rec, start, start + room)
            self._pending.append(piece)
            self._count += len(piece)
            start += len(piece)

    def flush(self) -> Path | None:
        """Rewrite the current shard file with everything added so far (atomic)."""
        if not self._pending:
            return None
        records = _concat(self._flushed + self._pending, self.C, self.J)
        attrs = {
            "format": SHARD_FORMAT,
            "version": SHARD_VERSION,
            "camera_names": json.dumps(self.camera_names),
            "num_joints": self.J,
            "rank": self.rank,
            "world_size": self.world_size,
            "meta": json.dumps(self.meta),
        }
        path = self.current_path
        _write_file(path, records, attrs)
        self._flushed = [records]
        self._pending = []
        if path not in self.files_written:
            self.files_written.append(path)
        logger.debug("%s: %d instants", path, len(records))
        return path

    def _roll_over(self) -> None:
        self._number += self.world_size
        self._flushed = []
        self._count = 0

    def close(self) -> None:
        self.flush()


def _take(rec: ShardRecords, lo: int, hi: int) -> ShardRecords:
    sl = slice(lo, hi)
    inst = set(rec.instants[sl].tolist())
    return ShardRecords(
        instants=rec.instants[sl],
        uv_px=rec.uv_px[sl],
        confidence=rec.confidence[sl],
        joints_world_mm=rec.joints_world_mm[sl],
        inliers=rec.inliers[sl],
        reproj_error_px=rec.reproj_error_px[sl],
        quality=rec.quality[sl],
        hand_present=rec.hand_present[sl],
        score=rec.score[sl],
        bad_images=tuple(b for b in rec.bad_images if b.instant in inst),
        meta=rec.meta,
    )


def remove_dead_temps(machine_dir: Path, pids_alive: Iterable[int] | None = None) -> int:
    """Delete shard temporaries left by processes that no longer run; returns the count."""
    count = 0
    for p in Path(machine_dir).glob(".shard-*.h5.tmp-*"):
        m = re.search(r"\.tmp-(\d+)-", p.name)
        if not m:
            continue
        pid = int(m.group(1))
        if pids_alive is not None:
            alive = pid in set(pids_alive)
        else:
            try:
                os.kill(pid, 0)
                alive = True
            except ProcessLookupError:
                alive = False
            except PermissionError:
                alive = True
        if not alive:
            with contextlib.suppress(OSError):
                p.unlink()
                count += 1
    return count


MANIFEST_NAME = "run.json"


def write_manifest(machine_dir: Path, instants: np.ndarray, meta: dict[str, Any]) -> Path:
    """Record which instants a labelling run must cover (``machine/run.json``, atomic).

    ``annotator merge`` checks the shards against this list.
    """
    from annotator.store.atomic import atomic_write_bytes

    machine_dir = Path(machine_dir)
    machine_dir.mkdir(parents=True, exist_ok=True)
    body = {
        "format": "annotator-machine-run",
        "version": 1,
        "instants": [int(i) for i in np.asarray(instants, np.int64).reshape(-1)],
        "meta": meta,
    }
    path = machine_dir / MANIFEST_NAME
    atomic_write_bytes(path, json.dumps(body).encode("utf-8"))
    return path


def read_manifest(machine_dir: Path) -> tuple[np.ndarray, dict[str, Any]] | None:
    """(expected instants (N,) int64, meta) of the last labelling run, or None."""
    path = Path(machine_dir) / MANIFEST_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        body = json.loads(raw.decode("utf-8"))
        if body.get("format") != "annotator-machine-run":
            raise ValueError("not a machine-labelling run manifest")
        return np.asarray(body["instants"], np.int64), dict(body.get("meta", {}))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ProjectFormatError(f"{path}: malformed run manifest ({exc})") from None


def archive_run(machine_dir: Path) -> Path | None:
    """Move the shards and manifest of an earlier run to ``machine/previous/<UTC time>/``.

    Called when a new labelling run (another model, other settings or instants) starts, so
    its shards never mix with the old ones and nothing is deleted. Returns the folder, or
    None when there was nothing to move.
    """
    import time as _time

    machine_dir = Path(machine_dir)
    moving = shard_paths(machine_dir)
    if (machine_dir / MANIFEST_NAME).exists():
        moving.append(machine_dir / MANIFEST_NAME)
    if not moving:
        return None
    stamp = _time.strftime("%Y%m%dT%H%M%SZ", _time.gmtime())
    dest = machine_dir / "previous" / stamp
    n = 1
    while dest.exists():
        n += 1
        dest = machine_dir / "previous" / f"{stamp}-{n}"
    dest.mkdir(parents=True)
    for p in moving:
        os.replace(p, dest / p.name)
    fsync_dir(machine_dir)
    logger.info("moved %d files of an earlier labelling run to %s", len(moving), dest)
    return dest
