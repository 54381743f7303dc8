"""InterHand2.6M records: one frozen dataclass per entry of the three JSON files, and
:class:`JsonStyle`, how a source spelled things so that writing it back reproduces it.

Captures, cameras and frames are keyed by their string form (``"3"``, ``"400026"``), as JSON
object keys are strings. Joint order is :mod:`annotator.skeleton`'s, which is InterHand2.6M's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "HAND_TYPES",
    "JsonStyle",
    "InterHandImage",
    "InterHandAnnotation",
    "InterHandFrame",
    "InterHandCamera",
    "InterHandSet",
    "IMAGE_KEYS",
    "ANN_KEYS",
    "FRAME_KEYS",
    "CAMERA_KEYS",
]

#: The values of ``hand_type``; its index is the code stored in projects.
HAND_TYPES: tuple[str, ...] = ("right", "left", "interacting")
IMAGE_KEYS = (
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
ANN_KEYS = ("id", "image_id", "bbox", "joint_valid", "hand_type", "hand_type_valid")
FRAME_KEYS = ("world_coord", "joint_valid", "hand_type", "hand_type_valid")
CAMERA_KEYS = ("campos", "camrot", "focal", "princpt")


@dataclass(frozen=True)
class JsonStyle:
    """How the source files spelled things; the defaults are the public release's."""

    data_keys: tuple[str, ...] = ("images", "annotations")
    image_keys: tuple[str, ...] = IMAGE_KEYS
    annotation_keys: tuple[str, ...] = ANN_KEYS
    frame_keys: tuple[str, ...] = FRAME_KEYS
    camera_keys: tuple[str, ...] = CAMERA_KEYS
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
