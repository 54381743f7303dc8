"""The two streaming passes over an InterHand2.6M data json: ``images`` and ``annotations``.

Each entry gets a fast check of the common case (right keys, right types) in plain Python;
anything else goes through the shared validator (:mod:`.interhand_validate`), which either
raises the same one-line error the in-memory reader gives, or accepts an unusual but valid
spelling (``1.0`` as a flag, a file name starting with a dot). Values land in ``array``
buffers, ~170 bytes per image in all.
"""

from __future__ import annotations

import math
import os
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from annotator.interchange._jsonio import InterchangeFormatError
from annotator.interchange._jsonstream import stream_items
from annotator.interchange.interhand_records import ANN_KEYS, HAND_TYPES, IMAGE_KEYS
from annotator.interchange.interhand_validate import (
    annotation_style,
    parse_annotation,
    parse_image,
)
from annotator.skeleton import NUM_JOINTS
from annotator.store.paths import PathEncoder

__all__ = ["ImagePass", "AnnotationPass"]

_HT = {h: k for k, h in enumerate(HAND_TYPES)}
_FLAG = {True: 1, False: 0}  # 1 / 1.0 / True hash alike; types are checked first
_FLAG_TYPES = (bool, int, float)
_NUM = (int, float)
_N_IMAGE_KEYS = len(IMAGE_KEYS)
_N_ANN_KEYS = len(ANN_KEYS)
_BLOCK = 1 << 15
_isfinite = math.isfinite


def _is_int_str(s: str) -> bool:
    return s.lstrip("-").isdigit() and str(int(s)) == s


@dataclass
class ImagePass:
    """Reads ``images``: ids, paths, sizes; maps each image to its instant and camera.

    Args:
        cameras: capture -> camera names (the camera json).
        frames: capture -> {frame int -> joint_3d row} (the joint_3d json, canonical keys).
        camera_index: camera name -> position on the union camera axis.
        image_root: where file names are looked up (counted when missing), or None.
    """

    path: Path
    cameras: dict[str, list[str]]
    frames: dict[str, dict[int, int]]
    camera_index: dict[str, int]
    image_root: Path | None
    camera_json: str
    joint_3d_json: str

    def run(self, progress=None, total_hint: int = 0) -> dict[str, Any]:
        where = f"data json {self.path}"
        cap_names = list(self.cameras)
        cap_code: dict[Any, int] = {}
        cam_code: list[dict[Any, int]] = [{} for _ in cap_names]
        frame_rows = [self.frames.get(c, {}) for c in cap_names]
        inst_of: dict[tuple[int, int], int] = {}
        inst_cap, inst_seq, inst_frame, inst_subject, inst_row = [], [], [], [], []
        seq_code: dict[str, int] = {}
        seq_names: list[str] = []
        image_id, inst_col, cam_col, width, height = (
            array("q"),
            array("q"),
            array("i"),
            array("i"),
            array("i"),
        )
        encoder = PathEncoder()
        templates, numbers = [], []
        names: list[str] = []
        extra: dict[int, dict[str, Any]] = {}
        style: dict[str, Any] = {}
        missing = 0
        examples: list[str] = []
        root = None if self.image_root is None else str(self.image_root) + os.sep
        stat = os.stat
        k = -1
        for k, im in enumerate(stream_items(self.path, "images.item", "data json")):
            fast = type(im) is dict
            if fast:
                try:
                    iid, fn, w, h = im["id"], im["file_name"], im["width"], im["height"]
                    cap, subj, seq = im["capture"], im["subject"], im["seq_name"]
                    cam, fr = im["camera"], im["frame_idx"]
                except KeyError:
                    fast = False
            if fast:
                fast = (
                    type(iid) is int
                    and type(fn) is str
                    and type(w) is int
                    and type(h) is int
                    and type(subj) is int
                    and type(seq) is str
                    and type(fr) is int
                    and w > 0
                    and h > 0
                    and seq != ""
                    and fn != ""
                    and fn[0] not in "./"
                    and "/." not in fn
                    and "\\" not in fn
                    and (type(cap) is int or (type(cap) is str and cap != ""))
                    and (type(cam) is int or (type(cam) is str and cam != ""))
                )
            if not fast or k == 0:
                rec = parse_image(im, k, where)  # the exact error, or an unusual valid entry
                iid, fn, w, h = rec.image_id, rec.file_name, rec.width, rec.height
                cap, subj, seq, cam, fr = (
                    rec.capture,
                    rec.subject,
                    rec.seq_name,
                    rec.camera,
                    rec.frame_idx,
                )
                if k == 0:
                    style.update(
                        image_keys=tuple(im),
                        capture_is_int=not isinstance(im["capture"], str),
                        camera_is_int=not isinstance(im["camera"], str),
                    )
            if len(im) != _N_IMAGE_KEYS:
                ex = {key: v for key, v in im.items() if key not in IMAGE_KEYS}
                if ex:
                    extra[iid] = ex
            c = cap_code.get(cap)
            if c is None:
                cs = str(cap)
                if cs not in self.cameras:
                    raise InterchangeFormatError(
                        f"{where}: image id {iid} ({fn}): capture {cs} is not in the "
                        f"{self.camera_json}"
                    )
                c = cap_code[cap] = cap_names.index(cs)
            cc = cam_code[c].get(cam)
            if cc is None:
                ms = str(cam)
                if ms not in self.cameras[cap_names[c]]:
                    raise InterchangeFormatError(
                        f"{where}: image id {iid} ({fn}): camera {ms} of capture "
                        f"{cap_names[c]} is not in the {self.camera_json}"
                    )
                cc = cam_code[c][cam] = self.camera_index[ms]
            key = (c, fr)
            inst = inst_of.get(key)
            s = seq_code.get(seq)
            if s is None:
                s = seq_code[seq] = len(seq_names)
                seq_names.append(seq)
            if inst is None:
                row = frame_rows[c].get(fr)
                if row is None:
                    raise InterchangeFormatError(
                        f"{where}: image id {iid} ({fn}): capture {cap_names[c]} frame {fr} "
                        f"has no entry in the {self.joint_3d_json}"
                    )
                inst = inst_of[key] = len(inst_cap)
                inst_cap.append(c)
                inst_seq.append(s)
                inst_frame.append(fr)
                inst_subject.append(subj)
                inst_row.append(row)
            elif inst_seq[inst] != s:
                # joint_3d is keyed by (capture, frame) alone, so a frame is in one sequence.
                raise InterchangeFormatError(
                    f"{where}: image id {iid} ({fn}): capture {cap_names[c]} frame {fr} is "
                    f"in sequences {seq_names[inst_seq[inst]]!r} and {seq!r}"
                )
            image_id.append(iid)
            inst_col.append(inst)
            cam_col.append(cc)
            width.append(w)
            height.append(h)
            names.append(fn)
            if root is not None:
                try:
                    stat(root + fn)
                except OSError:
                    missing += 1
                    if len(examples) < 3:
                        examples.append(fn)
            if len(names) == _BLOCK:
                t, n = encoder.encode(names)
                templates.append(t)
                numbers.append(n)
                names = []
                if progress is not None:
                    progress(k + 1, max(total_hint, k + 1))
        if k < 0:
            raise InterchangeFormatError(f"{where}: 'images' is empty or not a list")
        t, n = encoder.encode(names)
        templates.append(t)
        numbers.append(n)
        return {
            "image_id": np.frombuffer(image_id, np.int64),
            "instant": np.frombuffer(inst_col, np.int64),
            "camera": np.frombuffer(cam_col, np.int32),
            "width": np.frombuffer(width, np.int32),
            "height": np.frombuffer(height, np.int32),
            "paths": encoder.encoded(np.concatenate(templates), np.concatenate(numbers)),
            "extra": extra,
            "style": style,
            "missing": missing,
            "examples": examples,
            "instant_capture": [cap_names[c] for c in inst_cap],
            "instant_sequence": [seq_names[s] for s in inst_seq],
            "instant_frame": np.array(inst_frame, np.int64),
            "instant_subject": np.array(inst_subject, np.int64),
            "instant_frame_row": np.array(inst_row, np.int64),
        }


@dataclass
class AnnotationPass:
    """Reads ``annotations``: ids, boxes, joint_valid, hand types, in file order."""

    path: Path

    def run(self, progress=None, total_hint: int = 0) -> dict[str, Any]:
        where = f"data json {self.path}"
        J = NUM_JOINTS
        ann_id, image_id, bbox = array("q"), array("q"), array("d")
        ht, htv = bytearray(), bytearray()
        valid = bytearray()
        extra: dict[int, dict[str, Any]] = {}
        style: dict[str, Any] = {}
        k = -1
        prev_jv: Any = None
        prev_flags = b""
        for k, an in enumerate(stream_items(self.path, "annotations.item", "data json")):
            fast = type(an) is dict
            if fast:
                try:
                    aid, iid, bb = an["id"], an["image_id"], an["bbox"]
                    jv, t, tv = an["joint_valid"], an["hand_type"], an["hand_type_valid"]
                except KeyError:
                    fast = False
            if fast:
                fast = (
                    type(aid) is int
                    and type(iid) is int
                    and type(bb) is list
                    and len(bb) == 4
                    and type(jv) is list
                    and len(jv) == J
                    and type(t) is str
                    and t in _HT
                    and type(tv) in _FLAG_TYPES
                    and tv in _FLAG
                )
            if fast:
                x, y, bw, bh = bb
                fast = (
                    type(x) in _NUM
                    and type(y) in _NUM
                    and type(bw) in _NUM
                    and type(bh) in _NUM
                    and _isfinite(x)
                    and _isfinite(y)
                    and _isfinite(bw)
                    and _isfinite(bh)
                    and bw >= 0
                    and bh >= 0
                )
            flags = None
            if fast and jv == prev_jv:
                # Most annotations repeat the previous one's flags; a list equal to a
                # valid one is valid (1 == 1.0 == True are all accepted flags).
                flags = prev_flags
            elif fast:
                try:
                    flags = bytes([v for (v,) in jv])
                except (TypeError, ValueError):
                    try:
                        flags = bytes(jv)
                    except (TypeError, ValueError):
                        flags = None
                if flags is not None and flags.translate(None, b"\x00\x01"):
                    flags = None  # a 2, say: the validator words the error
                if flags is not None:
                    prev_jv, prev_flags = jv, flags
            if flags is None or k == 0:
                rec, nested, as_bool = parse_annotation(an, k, where)
                aid, iid, bb = rec.annotation_id, rec.image_id, rec.bbox_xywh
                t, tv = rec.hand_type, int(rec.hand_type_valid)
                flags = rec.joint_valid.astype(np.uint8).tobytes()
                if k == 0:
                    style.update(annotation_style(an, nested, as_bool))
            if len(an) != _N_ANN_KEYS:
                ex = {key: v for key, v in an.items() if key not in ANN_KEYS}
                if ex:
                    extra[iid] = ex
            ann_id.append(aid)
            image_id.append(iid)
            bbox.extend(bb)
            valid += flags
            ht.append(_HT[t])
            htv.append(_FLAG[tv])
            if progress is not None and k % _BLOCK == _BLOCK - 1:
                progress(k + 1, max(total_hint, k + 1))
        n = k + 1
        return {
            "annotation_id": np.frombuffer(ann_id, np.int64),
            "image_id": np.frombuffer(image_id, np.int64),
            "bbox": np.frombuffer(bbox, np.float64).reshape(n, 4),
            "joint_valid": np.frombuffer(bytes(valid), np.uint8).reshape(n, J).view(bool),
            "hand_type": np.frombuffer(bytes(ht), np.int8),
            "hand_type_valid": np.frombuffer(bytes(htv), np.int8),
            "extra": extra,
            "style": style,
        }
