"""InterHand2.6M annotation files: read and validate into frozen records.

The dataset ships three JSON files per split (Moon et al., ECCV 2020, public release):

- ``*_data.json``: COCO-style ``images`` (id, file_name, width, height, capture, subject,
  seq_name, camera, frame_idx) and ``annotations`` (id, image_id, bbox ``[x, y, w, h]`` px,
  joint_valid ``42 × [0|1]``, hand_type ``right|left|interacting``, hand_type_valid), one
  annotation per image, listed in the same order;
- ``*_camera.json``: ``{capture: {campos|camrot|focal|princpt: {camera: value}}}`` with
  ``x_cam = camrot · (X_world − campos)`` (campos is the camera *centre* in mm),
  ``u = fx·x/z + cx``, ``v = fy·y/z + cy`` and no lens distortion;
- ``*_joint_3d.json``: ``{capture: {frame_idx: {world_coord (42, 3) mm, joint_valid,
  hand_type, hand_type_valid}}}``.

JSON object keys are strings, so captures, cameras and frames are keyed here by their
string form (``"3"``, ``"400026"``, ``"69148"``). :class:`JsonStyle` remembers how the source
spelled things (key order, 1 versus true, ``[[1], …]`` versus ``[1, …]``) so that writing a
parsed set back (:mod:`annotator.interchange.interhand_layout`) reproduces the input.
Joint order is :mod:`annotator.skeleton`'s, which is InterHand2.6M's.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from annotator.interchange._jsonio import (
    InterchangeFormatError,
    as_finite_floats,
    as_flag,
    as_int,
    as_str,
    load_json,
)
from annotator.skeleton import NUM_JOINTS

__all__ = [
    "HAND_TYPES",
    "JsonStyle",
    "InterHandImage",
    "InterHandAnnotation",
    "InterHandFrame",
    "InterHandCamera",
    "InterHandSet",
    "read_interhand",
    "parse_interhand",
]

logger = logging.getLogger(__name__)

#: The values of ``hand_type``; its index is the code stored in projects.
HAND_TYPES: tuple[str, ...] = ("right", "left", "interacting")
_IMAGE_KEYS = (
    "id",
    "file_name",
    "width",
    "height",
    "capture",
    "subject",
    "seq_name",
    "camera",
    "frame_idx",
)
_ANN_KEYS = ("id", "image_id", "bbox", "joint_valid", "hand_type", "hand_type_valid")
_FRAME_KEYS = ("world_coord", "joint_valid", "hand_type", "hand_type_valid")
_CAMERA_KEYS = ("campos", "camrot", "focal", "princpt")


@dataclass(frozen=True)
class JsonStyle:
    """How the source files spelled things; the defaults are the public release's."""

    data_keys: tuple[str, ...] = ("images", "annotations")
    image_keys: tuple[str, ...] = _IMAGE_KEYS
    annotation_keys: tuple[str, ...] = _ANN_KEYS
    frame_keys: tuple[str, ...] = _FRAME_KEYS
    camera_keys: tuple[str, ...] = _CAMERA_KEYS
    capture_is_int: bool = True  # images' "capture": 3 (not "3")
    camera_is_int: bool = False  # images' "camera": "400026"
    image_valid_nested: bool = True  # annotations' joint_valid: [[1], [0], ...]
    image_valid_bool: bool = False
    image_flag_bool: bool = False  # annotations' hand_type_valid: 1
    frame_valid_nested: bool = True  # joint_3d joint_valid: [[true], ...]
    frame_valid_bool: bool = True
    frame_flag_bool: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JsonStyle:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names}
        )


@dataclass(frozen=True, eq=False)
class InterHandImage:
    """One entry of ``images``; ``capture`` and ``camera`` in their string (key) form."""

    image_id: int
    file_name: str
    width: int
    height: int
    capture: str
    subject: int
    seq_name: str
    camera: str
    frame_idx: int
    extra: dict[str, Any] = field(default_factory=dict)  # keys the format does not define


@dataclass(frozen=True, eq=False)
class InterHandAnnotation:
    """One entry of ``annotations``: ``joint_valid`` (J,) bool, ``bbox_xywh`` in px."""

    annotation_id: int
    image_id: int
    bbox_xywh: tuple[float, float, float, float]
    joint_valid: np.ndarray
    hand_type: str
    hand_type_valid: bool
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class InterHandFrame:
    """One ``joint_3d[capture][frame]`` entry: ``world_coord_mm`` (J, 3), ``joint_valid`` (J,)."""

    world_coord_mm: np.ndarray
    joint_valid: np.ndarray
    hand_type: str
    hand_type_valid: bool
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class InterHandCamera:
    """One camera of ``camera.json``: centre ``campos_mm`` (3,), ``camrot`` (3, 3) world→camera,
    ``focal`` (2,) and ``princpt`` (2,) in px."""

    campos_mm: np.ndarray
    camrot: np.ndarray
    focal: np.ndarray
    princpt: np.ndarray


@dataclass(frozen=True, eq=False)
class InterHandSet:
    """The three files of one split, validated against each other.

    ``annotations[k]`` belongs to ``images[k]`` (re-paired by image id if the file listed
    them in another order). ``cameras[capture][camera]`` and ``frames[capture][frame]``
    keep the files' key order.
    """

    images: tuple[InterHandImage, ...]
    annotations: tuple[InterHandAnnotation, ...]
    cameras: dict[str, dict[str, InterHandCamera]]
    frames: dict[str, dict[str, InterHandFrame]]
    data_extra: dict[str, Any] = field(
        default_factory=dict
    )  # top-level keys besides images/annotations
    style: JsonStyle = field(default_factory=JsonStyle)


def _require(obj: Any, keys: tuple[str, ...], where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise InterchangeFormatError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise InterchangeFormatError(f"{where}: missing key(s) {', '.join(map(repr, missing))}")
    return obj


def _hand_type(value: Any, where: str) -> str:
    if value not in HAND_TYPES:
        raise InterchangeFormatError(
            f"{where}: hand_type must be one of {', '.join(HAND_TYPES)}, got {value!r}"
        )
    return value


def _joint_valid(value: Any, where: str) -> tuple[np.ndarray, bool, bool]:
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


def _extra(obj: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in known}


def _safe_file_name(value: Any, where: str) -> str:
    name = as_str(value, f"{where}: file_name")
    parts = PurePosixPath(name).parts
    # Exports write ROOT/images/S/<file_name>: a file name must stay inside that folder.
    if "\\" in name or name.startswith("/") or ".." in parts or not parts:
        raise InterchangeFormatError(
            f"{where}: file_name {name!r} must be a relative path inside the image folder"
        )
    return name


def _parse_data(obj: Any, where: str) -> tuple[list, list, dict, dict]:
    _require(obj, ("images", "annotations"), where)
    images_raw, anns_raw = obj["images"], obj["annotations"]
    for key, lst in (("images", images_raw), ("annotations", anns_raw)):
        if not isinstance(lst, list):
            raise InterchangeFormatError(f"{where}: {key!r} must be a list")
    if not images_raw:
        raise InterchangeFormatError(f"{where}: 'images' is empty")
    style: dict[str, Any] = {"data_keys": tuple(obj)}
    images = []
    for k, im in enumerate(images_raw):
        w = f"{where}: images[{k}]"
        _require(im, _IMAGE_KEYS, w)
        w = f"{w} (id {im['id']!r})"
        if k == 0:
            style.update(
                image_keys=tuple(im),
                capture_is_int=not isinstance(im["capture"], str),
                camera_is_int=not isinstance(im["camera"], str),
            )
        images.append(
            InterHandImage(
                image_id=as_int(im["id"], f"{w}: id"),
                file_name=_safe_file_name(im["file_name"], w),
                width=_positive(im["width"], f"{w}: width"),
                height=_positive(im["height"], f"{w}: height"),
                capture=as_str(im["capture"], f"{w}: capture", allow_int=True),
                subject=as_int(im["subject"], f"{w}: subject"),
                seq_name=as_str(im["seq_name"], f"{w}: seq_name"),
                camera=as_str(im["camera"], f"{w}: camera", allow_int=True),
                frame_idx=as_int(im["frame_idx"], f"{w}: frame_idx"),
                extra=_extra(im, _IMAGE_KEYS),
            )
        )
    anns = []
    for k, an in enumerate(anns_raw):
        w = f"{where}: annotations[{k}]"
        _require(an, _ANN_KEYS, w)
        w = f"{w} (id {an['id']!r})"
        valid, nested, as_bool = _joint_valid(an["joint_valid"], w)
        if k == 0:
            style.update(
                annotation_keys=tuple(an),
                image_valid_nested=nested,
                image_valid_bool=as_bool,
                image_flag_bool=isinstance(an["hand_type_valid"], bool),
            )
        x, y, bw, bh = as_finite_floats(an["bbox"], 4, f"{w}: bbox")
        if bw < 0 or bh < 0:
            raise InterchangeFormatError(f"{w}: bbox width/height must be >= 0, got {bw}, {bh}")
        anns.append(
            InterHandAnnotation(
                annotation_id=as_int(an["id"], f"{w}: id"),
                image_id=as_int(an["image_id"], f"{w}: image_id"),
                bbox_xywh=(x, y, bw, bh),
                joint_valid=valid,
                hand_type=_hand_type(an["hand_type"], w),
                hand_type_valid=as_flag(an["hand_type_valid"], f"{w}: hand_type_valid"),
                extra=_extra(an, _ANN_KEYS),
            )
        )
    extra = {k: v for k, v in obj.items() if k not in ("images", "annotations")}
    return images, anns, extra, style


def _positive(value: Any, where: str) -> int:
    v = as_int(value, where)
    if v <= 0:
        raise InterchangeFormatError(f"{where}: must be positive, got {v}")
    return v


def _parse_cameras(obj: Any, where: str) -> tuple[dict[str, dict[str, InterHandCamera]], dict]:
    if not isinstance(obj, dict) or not obj:
        raise InterchangeFormatError(f"{where}: expected a non-empty object keyed by capture")
    style: dict[str, Any] = {}
    out: dict[str, dict[str, InterHandCamera]] = {}
    for capture, params in obj.items():
        w = f"{where}: capture {capture!r}"
        _require(params, _CAMERA_KEYS, w)
        if not style:
            style["camera_keys"] = tuple(k for k in params if k in _CAMERA_KEYS)
        for key in _CAMERA_KEYS:
            if not isinstance(params[key], dict):
                raise InterchangeFormatError(f"{w}: {key!r} must be an object keyed by camera")
        names = list(params["campos"])
        for key in _CAMERA_KEYS[1:]:
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
        out[str(capture)] = cams
    return out, style


def _parse_frames(obj: Any, where: str) -> tuple[dict[str, dict[str, InterHandFrame]], dict]:
    if not isinstance(obj, dict) or not obj:
        raise InterchangeFormatError(f"{where}: expected a non-empty object keyed by capture")
    style: dict[str, Any] = {}
    out: dict[str, dict[str, InterHandFrame]] = {}
    for capture, frames in obj.items():
        if not isinstance(frames, dict):
            raise InterchangeFormatError(
                f"{where}: capture {capture!r}: expected an object keyed by frame"
            )
        parsed = {}
        for frame, entry in frames.items():
            w = f"{where}: capture {capture!r} frame {frame!r}"
            _require(entry, _FRAME_KEYS, w)
            coords = entry["world_coord"]
            if not isinstance(coords, list) or len(coords) != NUM_JOINTS:
                n = len(coords) if isinstance(coords, list) else type(coords).__name__
                raise InterchangeFormatError(
                    f"{w}: world_coord must have {NUM_JOINTS} joints, got {n}"
                )
            xyz = np.array(
                [as_finite_floats(c, 3, f"{w}: world_coord[{j}]") for j, c in enumerate(coords)]
            )
            valid, nested, as_bool = _joint_valid(entry["joint_valid"], w)
            if not style:
                style.update(
                    frame_keys=tuple(entry),
                    frame_valid_nested=nested,
                    frame_valid_bool=as_bool,
                    frame_flag_bool=isinstance(entry["hand_type_valid"], bool),
                )
            parsed[str(frame)] = InterHandFrame(
                world_coord_mm=xyz,
                joint_valid=valid,
                hand_type=_hand_type(entry["hand_type"], w),
                hand_type_valid=as_flag(entry["hand_type_valid"], f"{w}: hand_type_valid"),
                extra=_extra(entry, _FRAME_KEYS),
            )
        out[str(capture)] = parsed
    return out, style


def parse_interhand(
    data: Any,
    camera: Any,
    joint_3d: Any,
    *,
    names: tuple[str, str, str] = ("data json", "camera json", "joint_3d json"),
) -> InterHandSet:
    """Validate three parsed JSON objects and check them against each other.

    See :func:`read_interhand`; ``names`` label the three sources in error messages.
    """
    images, anns, data_extra, s1 = _parse_data(data, names[0])
    cameras, s2 = _parse_cameras(camera, names[1])
    frames, s3 = _parse_frames(joint_3d, names[2])
    anns = _pair_annotations(images, anns, names[0])
    _cross_check(images, cameras, frames, names)
    return InterHandSet(
        tuple(images), tuple(anns), cameras, frames, data_extra, JsonStyle(**s1, **s2, **s3)
    )


def _pair_annotations(
    images: list[InterHandImage], anns: list[InterHandAnnotation], where: str
) -> list[InterHandAnnotation]:
    by_image: dict[int, InterHandAnnotation] = {}
    ann_ids: set[int] = set()
    for a in anns:
        if a.annotation_id in ann_ids:
            raise InterchangeFormatError(f"{where}: duplicate annotation id {a.annotation_id}")
        ann_ids.add(a.annotation_id)
        if a.image_id in by_image:
            raise InterchangeFormatError(
                f"{where}: image id {a.image_id} has more than one annotation"
            )
        by_image[a.image_id] = a
    image_ids: set[int] = set()
    for im in images:
        if im.image_id in image_ids:
            raise InterchangeFormatError(f"{where}: duplicate image id {im.image_id}")
        image_ids.add(im.image_id)
        if im.image_id not in by_image:
            raise InterchangeFormatError(
                f"{where}: image id {im.image_id} ({im.file_name}) has no annotation"
            )
    orphans = sorted(set(by_image) - image_ids)
    if orphans:
        raise InterchangeFormatError(f"{where}: annotation for unknown image id {orphans[0]}")
    return [by_image[im.image_id] for im in images]


def _cross_check(
    images: list[InterHandImage], cameras: dict, frames: dict, names: tuple[str, str, str]
) -> None:
    seq_of: dict[tuple[str, int], str] = {}
    size_of: dict[tuple[str, str], tuple[int, int]] = {}
    seen: dict[tuple[str, str, int], int] = {}
    for im in images:
        w = f"{names[0]}: image id {im.image_id} ({im.file_name})"
        if im.capture not in cameras:
            raise InterchangeFormatError(f"{w}: capture {im.capture} is not in the {names[1]}")
        if im.camera not in cameras[im.capture]:
            raise InterchangeFormatError(
                f"{w}: camera {im.camera} of capture {im.capture} is not in the {names[1]}"
            )
        if str(im.frame_idx) not in frames.get(im.capture, {}):
            raise InterchangeFormatError(
                f"{w}: capture {im.capture} frame {im.frame_idx} has no entry in the {names[2]}"
            )
        # joint_3d is keyed by (capture, frame) alone, so a frame belongs to one sequence.
        seq = seq_of.setdefault((im.capture, im.frame_idx), im.seq_name)
        if seq != im.seq_name:
            raise InterchangeFormatError(
                f"{w}: capture {im.capture} frame {im.frame_idx} is in sequences "
                f"{seq!r} and {im.seq_name!r}"
            )
        size = size_of.setdefault((im.capture, im.camera), (im.width, im.height))
        if size != (im.width, im.height):
            raise InterchangeFormatError(
                f"{w}: camera {im.camera} has images of sizes {size} and {(im.width, im.height)}"
            )
        key = (im.capture, im.camera, im.frame_idx)
        if key in seen:
            raise InterchangeFormatError(f"{w}: same capture/camera/frame as image id {seen[key]}")
        seen[key] = im.image_id


def read_interhand(
    data: str | os.PathLike[str], camera: str | os.PathLike[str], joint_3d: str | os.PathLike[str]
) -> InterHandSet:
    """Read and validate the three InterHand2.6M annotation files of one split.

    Raises ``FileNotFoundError`` for a missing file and
    :class:`~annotator.interchange.InterchangeFormatError` (a ``ValueError``) with a one-line
    message naming the file for malformed or truncated JSON, missing keys, joint counts
    other than 42, NaN/inf numbers, duplicate ids, an image whose camera the camera file
    lacks, or whose capture/frame has no ``joint_3d`` entry.
    """
    paths = (Path(data), Path(camera), Path(joint_3d))
    names = tuple(
        f"{what} {p}"
        for what, p in zip(("data json", "camera json", "joint_3d json"), paths, strict=True)
    )
    objs = [
        load_json(p, what)
        for p, what in zip(paths, ("data json", "camera json", "joint_3d json"), strict=True)
    ]
    result = parse_interhand(*objs, names=names)  # type: ignore[arg-type]
    logger.info(
        "read %d images, %d captures, %d frames",
        len(result.images),
        len(result.cameras),
        sum(len(f) for f in result.frames.values()),
    )
    return result
