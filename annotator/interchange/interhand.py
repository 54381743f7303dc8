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

import logging
import os
from pathlib import Path
from typing import Any

from annotator.interchange._jsonio import InterchangeFormatError, load_json
from annotator.interchange.interhand_records import (
    CAMERA_KEYS,
    HAND_TYPES,
    InterHandAnnotation,
    InterHandCamera,
    InterHandFrame,
    InterHandImage,
    InterHandSet,
    JsonStyle,
)
from annotator.interchange.interhand_validate import (
    annotation_style,
    frame_style,
    parse_annotation,
    parse_capture_cameras,
    parse_frame,
    parse_image,
    require,
)

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


def _parse_data(obj: Any, where: str) -> tuple[list, list, dict, dict]:
    require(obj, ("images", "annotations"), where)
    images_raw, anns_raw = obj["images"], obj["annotations"]
    for key, lst in (("images", images_raw), ("annotations", anns_raw)):
        if not isinstance(lst, list):
            raise InterchangeFormatError(f"{where}: {key!r} must be a list")
    if not images_raw:
        raise InterchangeFormatError(f"{where}: 'images' is empty")
    style: dict[str, Any] = {"data_keys": tuple(obj)}
    images = [parse_image(im, k, where) for k, im in enumerate(images_raw)]
    first = images_raw[0]
    style.update(
        image_keys=tuple(first),
        capture_is_int=not isinstance(first["capture"], str),
        camera_is_int=not isinstance(first["camera"], str),
    )
    anns = []
    for k, an in enumerate(anns_raw):
        record, nested, as_bool = parse_annotation(an, k, where)
        if k == 0:
            style.update(annotation_style(an, nested, as_bool))
        anns.append(record)
    extra = {k: v for k, v in obj.items() if k not in ("images", "annotations")}
    return images, anns, extra, style


def _parse_cameras(obj: Any, where: str) -> tuple[dict[str, dict[str, InterHandCamera]], dict]:
    if not isinstance(obj, dict) or not obj:
        raise InterchangeFormatError(f"{where}: expected a non-empty object keyed by capture")
    style: dict[str, Any] = {}
    out: dict[str, dict[str, InterHandCamera]] = {}
    for capture, params in obj.items():
        out[str(capture)] = parse_capture_cameras(capture, params, where)
        if not style:
            style["camera_keys"] = tuple(k for k in params if k in CAMERA_KEYS)
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
            record, nested, as_bool = parse_frame(
                entry, f"{where}: capture {capture!r} frame {frame!r}"
            )
            if not style:
                style.update(frame_style(entry, nested, as_bool))
            parsed[str(frame)] = record
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
