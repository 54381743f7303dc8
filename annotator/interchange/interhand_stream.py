"""InterHand2.6M annotation files read as a stream into compact numpy columns.

The in-memory reader (:func:`~annotator.interchange.read_interhand`) builds one Python
record per image: ~7 KB each, 19 GB for the whole dataset. This reader walks the data json
twice with ijson (once for ``images``, once for ``annotations``), validates each entry as
it arrives (a fast type check, then the shared validators of :mod:`.interhand_validate` for
anything unusual, so errors read exactly as the in-memory reader's), and keeps ~170 bytes
per image in numpy columns. The camera json is small and read whole; the joint_3d json is
read one capture at a time.

Checks (all before anything is written by the import): everything
:func:`~annotator.interchange.read_interhand` checks, in the same words. The data json's
top level must be an object whose ``images`` and ``annotations`` are lists; other top-level
keys (none in the public release) are not kept by this reader.
"""

from __future__ import annotations

import logging
import os
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from annotator.interchange._jsonio import InterchangeFormatError, load_json
from annotator.interchange._jsonstream import stream_object_items
from annotator.interchange.interhand_checks import check_images, pair_annotations
from annotator.interchange.interhand_records import CAMERA_KEYS, HAND_TYPES, InterHandCamera
from annotator.interchange.interhand_stream_data import AnnotationPass, ImagePass
from annotator.interchange.interhand_validate import (
    frame_style,
    parse_capture_cameras,
    parse_frame,
)
from annotator.skeleton import NUM_JOINTS
from annotator.store.paths import EncodedPaths

__all__ = ["StreamedSplit", "FrameColumns", "ImageColumns", "read_interhand_stream"]

logger = logging.getLogger(__name__)

_HT = {h: k for k, h in enumerate(HAND_TYPES)}


def _is_int_str(s: str) -> bool:
    return s.lstrip("-").isdigit() and str(int(s)) == s


@dataclass(frozen=True, eq=False)
class FrameColumns:
    """The joint_3d json, one row per (capture, frame) entry in file order (M rows)."""

    captures: list[str]  # capture keys in file order
    capture: np.ndarray  # (M,) int32 index into ``captures``
    frame_key: list[str]  # (M,) the frame keys as written
    order: np.ndarray  # (M,) int64 position of the frame within its capture
    world_mm: np.ndarray  # (M, J, 3) float64
    valid: np.ndarray  # (M, J) bool
    hand_type: np.ndarray  # (M,) int8 index into HAND_TYPES
    hand_type_valid: np.ndarray  # (M,) int8
    extra: dict[int, dict[str, Any]]  # row -> keys the format does not define
    style: dict[str, Any]


@dataclass(frozen=True, eq=False)
class ImageColumns:
    """``images`` and their paired ``annotations`` in the data json's image order (N)."""

    image_id: np.ndarray  # (N,) int64
    instant: np.ndarray  # (N,) int64 row of ``StreamedSplit`` instants
    camera: np.ndarray  # (N,) int32 index into ``StreamedSplit.camera_names``
    paths: EncodedPaths  # (N,) file_name, encoded
    width: np.ndarray  # (N,) int32
    height: np.ndarray  # (N,) int32
    annotation_id: np.ndarray  # (N,) int64
    bbox: np.ndarray  # (N, 4) float64 xywh px
    joint_valid: np.ndarray  # (N, J) bool
    hand_type: np.ndarray  # (N,) int8
    hand_type_valid: np.ndarray  # (N,) int8
    image_extra: dict[int, dict[str, Any]]  # image id -> extra keys
    annotation_extra: dict[int, dict[str, Any]]  # image id -> extra keys
    missing: int  # image files not found under the image folder
    missing_examples: list[str]


@dataclass(frozen=True, eq=False)
class StreamedSplit:
    """A validated split: cameras (small, as records), frames, instants and images.

    Instants are the (capture, frame) pairs in order of first appearance in ``images``;
    ``instant_frame_row`` points each at its joint_3d row.
    """

    cameras: dict[str, dict[str, InterHandCamera]]
    camera_names: list[str]  # union of camera names over captures, first-seen order
    frames: FrameColumns
    instant_capture: list[str]
    instant_sequence: list[str]
    instant_frame: np.ndarray  # (F,) int64
    instant_subject: np.ndarray  # (F,) int64
    instant_frame_row: np.ndarray  # (F,) int64
    images: ImageColumns
    style: dict[str, Any] = field(default_factory=dict)
    worker_peak_rss_mb: float = 0.0  # peak RSS of the annotations process, if one ran


#: Data json size from which ``annotations`` are read in a second process.
PARALLEL_MIN_BYTES = 64 << 20


class _AnnotationWorker:
    """The annotations pass in a second interpreter (``_annotations_worker``), started at
    once so it runs while this process reads ``images``."""

    def __init__(self, data: Path):
        import subprocess
        import sys
        import tempfile

        self._dir = Path(tempfile.mkdtemp(prefix="ih-annotations-"))
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "annotator.interchange._annotations_worker"]
            + [str(data), str(self._dir)],
            env=env,
            stdin=subprocess.DEVNULL,
        )
        self.peak_rss_mb = 0.0

    def result(self) -> dict[str, Any]:
        import json

        code = self._proc.wait()
        err = self._dir / "error.json"
        if code == 3 and err.is_file():
            body = json.loads(err.read_text())
            cls = FileNotFoundError if body["type"] == "FileNotFoundError" else None
            raise (cls or InterchangeFormatError)(body["message"])
        if code != 0:
            raise RuntimeError(f"the annotations reader process failed (exit {code})")
        meta = json.loads((self._dir / "annotations.json").read_text())
        with np.load(self._dir / "annotations.npz") as z:
            res: dict[str, Any] = {k: z[k] for k in z.files}
        res["joint_valid"] = np.asarray(res["joint_valid"], bool)  # saved as bool: no copy
        res["extra"] = {int(k): v for k, v in meta["extra"].items()}
        res["style"] = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["style"].items()}
        self.peak_rss_mb = float(meta["peak_rss_mb"])
        return res

    def close(self) -> None:
        import shutil

        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        shutil.rmtree(self._dir, ignore_errors=True)


# -- camera and joint_3d json ------------------------------------------------------------------


def _read_cameras(path: Path) -> tuple[dict[str, dict[str, InterHandCamera]], dict]:
    where = f"camera json {path}"
    obj = load_json(path, "camera json")  # ~100 KB: read whole
    if not isinstance(obj, dict) or not obj:
        raise InterchangeFormatError(f"{where}: expected a non-empty object keyed by capture")
    style: dict[str, Any] = {}
    out = {}
    for capture, params in obj.items():
        out[str(capture)] = parse_capture_cameras(capture, params, where)
        if not style:
            style["camera_keys"] = tuple(k for k in params if k in CAMERA_KEYS)
    return out, style


def _read_frames(path: Path) -> FrameColumns:
    where = f"joint_3d json {path}"
    captures: list[str] = []
    cap_col, keys, order, ht, htv = array("i"), [], array("q"), array("b"), array("b")
    world = array("d")
    valid = bytearray()
    extra: dict[int, dict[str, Any]] = {}
    style: dict[str, Any] = {}
    for capture, frames in stream_object_items(path, "joint_3d json"):
        if not isinstance(frames, dict):
            raise InterchangeFormatError(
                f"{where}: capture {capture!r}: expected an object keyed by frame"
            )
        c = len(captures)
        captures.append(str(capture))
        for n, (frame, entry) in enumerate(frames.items()):
            rec, nested, as_bool = parse_frame(
                entry, f"{where}: capture {capture!r} frame {frame!r}"
            )
            if not style:
                style.update(frame_style(entry, nested, as_bool))
            if rec.extra:
                extra[len(keys)] = rec.extra
            cap_col.append(c)
            keys.append(str(frame))
            order.append(n)
            world.extend(rec.world_coord_mm.ravel().tolist())
            valid += rec.joint_valid.astype(np.uint8).tobytes()
            ht.append(_HT[rec.hand_type])
            htv.append(int(rec.hand_type_valid))
        del frames
    if not captures:
        raise InterchangeFormatError(f"{where}: expected a non-empty object keyed by capture")
    J = NUM_JOINTS
    return FrameColumns(
        captures,
        np.frombuffer(cap_col, np.int32).copy(),
        keys,
        np.frombuffer(order, np.int64).copy(),
        np.frombuffer(world, np.float64).reshape(-1, J, 3).copy(),
        np.frombuffer(bytes(valid), np.uint8).reshape(-1, J).astype(bool),
        np.frombuffer(ht, np.int8).copy(),
        np.frombuffer(htv, np.int8).copy(),
        extra,
        style,
    )


def _frame_lookup(frames: FrameColumns) -> dict[str, dict[int, int]]:
    """capture -> {frame number -> row} for the frame keys that are canonical integers."""
    out: dict[str, dict[int, int]] = {c: {} for c in frames.captures}
    for row, (c, key) in enumerate(zip(frames.capture.tolist(), frames.frame_key, strict=True)):
        if _is_int_str(key):
            out[frames.captures[c]][int(key)] = row
    return out


def read_interhand_stream(
    data: str | os.PathLike[str],
    camera: str | os.PathLike[str],
    joint_3d: str | os.PathLike[str],
    *,
    images: str | os.PathLike[str] | None = None,
    progress=None,
    parallel: bool | None = None,
) -> StreamedSplit:
    """Read and validate one split without holding it in memory (see the module docstring).

    ``images``: the folder file names are relative to; each image is looked up there and
    the missing ones counted (``ImageColumns.missing``). ``progress(done, total)`` counts
    data json entries (images, then annotations; total = 2 N, known after the first pass).
    ``parallel``: read ``annotations`` in a second process while this one reads ``images``
    (default: when the data json is at least :data:`PARALLEL_MIN_BYTES` and there are two
    CPUs); the worker's numpy columns come back through a temporary ``.npz`` file.

    Raises:
        FileNotFoundError: a missing json file.
        InterchangeFormatError: anything :func:`~annotator.interchange.read_interhand`
            rejects, in the same words.
    """
    data, camera, joint_3d = Path(data), Path(camera), Path(joint_3d)
    for p, what in ((data, "data json"), (camera, "camera json"), (joint_3d, "joint_3d json")):
        if not p.is_file():
            raise FileNotFoundError(f"{what} {p}: no such file")
    image_root = None if images is None else Path(images)
    use_worker = parallel if parallel is not None else data.stat().st_size >= PARALLEL_MIN_BYTES
    worker = _AnnotationWorker(data) if use_worker and (os.cpu_count() or 1) > 1 else None
    try:
        cams, cam_style = _read_cameras(camera)
        frames = _read_frames(joint_3d)
        return _read(data, camera, joint_3d, cams, cam_style, frames, image_root, worker, progress)
    finally:
        if worker is not None:
            worker.close()


def _read(data, camera, joint_3d, cams, cam_style, frames, image_root, worker, progress):
    camera_names = list(dict.fromkeys(n for c in cams.values() for n in c))
    ip = ImagePass(
        data,
        {c: list(v) for c, v in cams.items()},
        _frame_lookup(frames),
        {n: k for k, n in enumerate(camera_names)},
        image_root,
        f"camera json {camera}",
        f"joint_3d json {joint_3d}",
    ).run(progress)
    n = ip["image_id"].size
    where = f"data json {data}"
    paths: EncodedPaths = ip["paths"]
    an = (
        worker.result()
        if worker is not None
        else AnnotationPass(data).run(
            None if progress is None else (lambda k, _t: progress(n + k, 2 * n)), n
        )
    )
    ann_pos = pair_annotations(
        ip["image_id"], an["annotation_id"], an["image_id"], where, paths.decode
    )
    inst_cap_code = np.array([list(cams).index(c) for c in ip["instant_capture"]] or [0], np.int64)[
        : len(ip["instant_capture"])
    ]
    check_images(
        inst_cap_code[ip["instant"]],
        ip["instant"],
        ip["camera"],
        ip["width"],
        ip["height"],
        ip["image_id"],
        camera_names,
        lambda k: f"{where}: image id {int(ip['image_id'][k])} ({paths.decode(k)})",
    )
    if progress is not None:
        progress(2 * n, 2 * n)
    ann_extra = {iid: ex for iid, ex in an["extra"].items()}
    cols = ImageColumns(
        image_id=ip["image_id"],
        instant=ip["instant"],
        camera=ip["camera"],
        paths=paths,
        width=ip["width"],
        height=ip["height"],
        annotation_id=an["annotation_id"][ann_pos],
        bbox=an["bbox"][ann_pos],
        joint_valid=an["joint_valid"][ann_pos],
        hand_type=an["hand_type"][ann_pos],
        hand_type_valid=an["hand_type_valid"][ann_pos],
        image_extra=ip["extra"],
        annotation_extra=ann_extra,
        missing=ip["missing"],
        missing_examples=ip["examples"],
    )
    style = {"data_keys": ("images", "annotations"), **ip["style"], **an["style"]}
    style.update(cam_style)
    style.update(frames.style)
    logger.info(
        "read %d images, %d captures, %d frames (streaming)", n, len(cams), len(frames.frame_key)
    )
    return StreamedSplit(
        cameras=cams,
        camera_names=camera_names,
        frames=frames,
        instant_capture=ip["instant_capture"],
        instant_sequence=ip["instant_sequence"],
        instant_frame=ip["instant_frame"],
        instant_subject=ip["instant_subject"],
        instant_frame_row=ip["instant_frame_row"],
        images=cols,
        style=style,
        worker_peak_rss_mb=0.0 if worker is None else worker.peak_rss_mb,
    )
