"""Validation of single InterHand2.6M JSON entries (an image, an annotation, a camera, a
joint_3d frame) into records, shared by the in-memory reader (:mod:`.interhand`) and the
streaming one (:mod:`.interhand_stream`), so both give the same one-line errors.

``where`` names the file and the entry (``"data json PATH: images[12] (id 7)"``).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import numpy as np

from annotator.interchange._jsonio import (
    InterchangeFormatError,
    as_finite_floats,
    as_flag,
    as_int,
    as_str,
)
from annotator.interchange.interhand_records import (
    ANN_KEYS,
    CAMERA_KEYS,
    FRAME_KEYS,
    HAND_TYPES,
    IMAGE_KEYS,
    InterHandAnnotation,
    InterHandCamera,
    InterHandFrame,
    InterHandImage,
)
from annotator.skeleton import NUM_JOINTS

__all__ = [
    "require",
    "parse_image",
    "parse_annotation",
    "parse_capture_cameras",
    "parse_frame",
    "check_hand_type",
    "joint_valid_mask",
    "annotation_style",
    "frame_style",
]


def require(obj: Any, keys: tuple[str, ...], where: str) -> dict[str, Any]:
    """``obj`` as a dict holding ``keys``; else a one-line error."""
    if not isinstance(obj, dict):
        raise InterchangeFormatError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise InterchangeFormatError(f"{where}: missing key(s) {', '.join(map(repr, missing))}")
    return obj


def check_hand_type(value: Any, where: str) -> str:
    if value not in HAND_TYPES:
        raise InterchangeFormatError(
            f"{where}: hand_type must be one of {', '.join(HAND_TYPES)}, got {value!r}"
        )
    return value


def joint_valid_mask(value: Any, where: str) -> tuple[np.ndarray, bool, bool]:
    """(J,) bool mask from ``[[1], …]`` or ``[1, …]``; also (nested, written as bools)."""
    if not isinstance(value, list) or len(value) != NUM_JOINTS:
        n = len(value) if isinstance(value, list) else type(value).__name__
        raise InterchangeFormatError(
            f"{where}: joint_valid must have {NUM_JOINTS} entries, got {n}"
        )
    nested = isinstance(value[0], list)
    flags = []
    for v in value:
        if isinstance(v, list) != nested or (nested and len(v) != 1):
            raise InterchangeFormatError(
                f"{where}: joint_valid must be {NUM_JOINTS} flags or {NUM_JOINTS} one-element lists"
            )
        flags.append(v[0] if nested else v)
    mask = np.array([as_flag(f, f"{where}: joint_valid") for f in flags], dtype=bool)
    return mask, nested, isinstance(flags[0], bool)


def extra_keys(obj: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in known}


def safe_file_name(value: Any, where: str) -> str:
    name = as_str(value, f"{where}: file_name")
    parts = PurePosixPath(name).parts
    # Exports write ROOT/images/S/<file_name>: a file name must stay inside that folder.
    if "\\" in name or name.startswith("/") or ".." in parts or not parts:
        raise InterchangeFormatError(
            f"{where}: file_name {name!r} must be a relative path inside the image folder"
        )
    return name


def positive(value: Any, where: str) -> int:
    v = as_int(value, where)
    if v <= 0:
        raise InterchangeFormatError(f"{where}: must be positive, got {v}")
    return v


def parse_image(im: Any, k: int, where: str) -> InterHandImage:
    """``images[k]`` of the data json named by ``where``."""
    w = f"{where}: images[{k}]"
    require(im, IMAGE_KEYS, w)
    w = f"{w} (id {im['id']!r})"
    return InterHandImage(
        image_id=as_int(im["id"], f"{w}: id"),
        file_name=safe_file_name(im["file_name"], w),
        width=positive(im["width"], f"{w}: width"),
        height=positive(im["height"], f"{w}: height"),
        capture=as_str(im["capture"], f"{w}: capture", allow_int=True),
        subject=as_int(im["subject"], f"{w}: subject"),
        seq_name=as_str(im["seq_name"], f"{w}: seq_name"),
        camera=as_str(im["camera"], f"{w}: camera", allow_int=True),
        frame_idx=as_int(im["frame_idx"], f"{w}: frame_idx"),
        extra=extra_keys(im, IMAGE_KEYS),
    )


def parse_annotation(an: Any, k: int, where: str) -> tuple[InterHandAnnotation, bool, bool]:
    """``annotations[k]``; also whether its joint_valid is nested / spelled with bools."""
    w = f"{where}: annotations[{k}]"
    require(an, ANN_KEYS, w)
    w = f"{w} (id {an['id']!r})"
    valid, nested, as_bool = joint_valid_mask(an["joint_valid"], w)
    x, y, bw, bh = as_finite_floats(an["bbox"], 4, f"{w}: bbox")
    if bw < 0 or bh < 0:
        raise InterchangeFormatError(f"{w}: bbox width/height must be >= 0, got {bw}, {bh}")
    record = InterHandAnnotation(
        annotation_id=as_int(an["id"], f"{w}: id"),
        image_id=as_int(an["image_id"], f"{w}: image_id"),
        bbox_xywh=(x, y, bw, bh),
        joint_valid=valid,
        hand_type=check_hand_type(an["hand_type"], w),
        hand_type_valid=as_flag(an["hand_type_valid"], f"{w}: hand_type_valid"),
        extra=extra_keys(an, ANN_KEYS),
    )
    return record, nested, as_bool


def parse_capture_cameras(capture: str, params: Any, where: str) -> dict[str, InterHandCamera]:
    """The cameras of one capture of the camera json (``where`` names the file)."""
    w = f"{where}: capture {capture!r}"
    require(params, CAMERA_KEYS, w)
    for key in CAMERA_KEYS:
        if not isinstance(params[key], dict):
            raise InterchangeFormatError(f"{w}: {key!r} must be an object keyed by camera")
    names = list(params["campos"])
    for key in CAMERA_KEYS[1:]:
        diff = set(names) ^ set(params[key])
        if diff:
            raise InterchangeFormatError(
                f"{w}: cameras differ between 'campos' and {key!r}: {', '.join(sorted(diff))}"
            )
    cams = {}
    for name in names:
        wc = f"{w} camera {name!r}"
        rot = params["camrot"][name]
        if not isinstance(rot, list) or len(rot) != 3:
            raise InterchangeFormatError(f"{wc}: camrot must be a 3x3 list of lists")
        cams[name] = InterHandCamera(
            campos_mm=np.array(as_finite_floats(params["campos"][name], 3, f"{wc}: campos")),
            camrot=np.array([as_finite_floats(r, 3, f"{wc}: camrot row") for r in rot]),
            focal=np.array(as_finite_floats(params["focal"][name], 2, f"{wc}: focal")),
            princpt=np.array(as_finite_floats(params["princpt"][name], 2, f"{wc}: princpt")),
        )
        if np.any(cams[name].focal <= 0):
            raise InterchangeFormatError(
                f"{wc}: focal must be positive, got {cams[name].focal.tolist()}"
            )
    return cams


def parse_frame(entry: Any, where: str) -> tuple[InterHandFrame, bool, bool]:
    """One joint_3d entry (``where`` names file, capture and frame); also its spelling."""
    require(entry, FRAME_KEYS, where)
    coords = entry["world_coord"]
    if not isinstance(coords, list) or len(coords) != NUM_JOINTS:
        n = len(coords) if isinstance(coords, list) else type(coords).__name__
        raise InterchangeFormatError(f"{where}: world_coord must have {NUM_JOINTS} joints, got {n}")
    xyz = np.array(
        [as_finite_floats(c, 3, f"{where}: world_coord[{j}]") for j, c in enumerate(coords)]
    )
    valid, nested, as_bool = joint_valid_mask(entry["joint_valid"], where)
    record = InterHandFrame(
        world_coord_mm=xyz,
        joint_valid=valid,
        hand_type=check_hand_type(entry["hand_type"], where),
        hand_type_valid=as_flag(entry["hand_type_valid"], f"{where}: hand_type_valid"),
        extra=extra_keys(entry, FRAME_KEYS),
    )
    return record, nested, as_bool


def annotation_style(an: dict[str, Any], nested: bool, as_bool: bool) -> dict[str, Any]:
    """The :class:`JsonStyle` fields an annotation entry sets (the first one parsed);
    ``nested``, ``as_bool``: :func:`parse_annotation`'s spelling of its ``joint_valid``."""
    return dict(
        annotation_keys=tuple(an),
        image_valid_nested=nested,
        image_valid_bool=as_bool,
        image_flag_bool=isinstance(an["hand_type_valid"], bool),
    )


def frame_style(entry: dict[str, Any], nested: bool, as_bool: bool) -> dict[str, Any]:
    """The :class:`JsonStyle` fields a joint_3d frame entry sets (the first one parsed);
    ``nested``, ``as_bool``: :func:`parse_frame`'s spelling of its ``joint_valid``."""
    return dict(
        frame_keys=tuple(entry),
        frame_valid_nested=nested,
        frame_valid_bool=as_bool,
        frame_flag_bool=isinstance(entry["hand_type_valid"], bool),
    )
