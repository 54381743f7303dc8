"""InterHand2.6M on disk: the official folder layout, writing the three JSON files back,
camera conversion to and from :class:`~triangulation.CameraRig`, and the hand box rule.

Layout read by the public InterNet loader::

    ROOT/annotations/skeleton.txt
    ROOT/annotations/S/InterHand2.6M_S_data.json
    ROOT/annotations/S/InterHand2.6M_S_camera.json
    ROOT/annotations/S/InterHand2.6M_S_joint_3d.json
    ROOT/images/S/<file_name>

Camera convention of the format: ``x_cam = camrot · (X_world − campos)``, i.e. in this
project's terms ``R = camrot`` and ``t = −camrot · campos``; there is no lens distortion.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from annotator.interchange._jsonio import (
    InterchangeFormatError,
    write_json_atomic,
    write_text_atomic,
)
from annotator.interchange.interhand import (
    InterHandAnnotation,
    InterHandCamera,
    InterHandFrame,
    InterHandImage,
    InterHandSet,
    JsonStyle,
)
from annotator.skeleton import skeleton_txt
from triangulation.camera import Camera, CameraRig

__all__ = [
    "BBOX_SCALE",
    "InterHandLayout",
    "InterHandJson",
    "to_json",
    "write_interhand",
    "place_image",
    "rig_from_interhand",
    "interhand_camera",
    "enlarged_bbox_xywh",
]

logger = logging.getLogger(__name__)

#: InterHand2.6M boxes are the tight box of the projected valid joints enlarged by this
#: factor about its centre (checked against the released annotations).
BBOX_SCALE = 1.2
# A camrot this close to orthonormal (float32 round-off in the release) is re-orthonormalised.
_ROT_REPAIR_TOL = 1e-3


@dataclass(frozen=True)
class InterHandLayout:
    """Paths of one split in the official layout under ``root``."""

    root: Path
    split: str

    def __post_init__(self) -> None:
        s = self.split
        if not s or "/" in s or "\\" in s or s in (".", ".."):
            raise ValueError(f"split must be a plain folder name like 'train', got {s!r}")
        object.__setattr__(self, "root", Path(self.root))

    @property
    def annotations_dir(self) -> Path:
        return self.root / "annotations" / self.split

    def _file(self, kind: str) -> Path:
        return self.annotations_dir / f"InterHand2.6M_{self.split}_{kind}.json"

    @property
    def data(self) -> Path:
        return self._file("data")

    @property
    def camera(self) -> Path:
        return self._file("camera")

    @property
    def joint_3d(self) -> Path:
        return self._file("joint_3d")

    @property
    def skeleton(self) -> Path:
        return self.root / "annotations" / "skeleton.txt"

    @property
    def images_dir(self) -> Path:
        return self.root / "images" / self.split


@dataclass(frozen=True, eq=False)
class InterHandJson:
    """The three files as JSON-ready Python objects."""

    data: dict[str, Any]
    camera: dict[str, Any]
    joint_3d: dict[str, Any]


def _is_int_str(s: str) -> bool:
    """Whether ``s`` is an integer's canonical text (so writing it as a JSON int is lossless)."""
    return s.lstrip("-").isdigit() and str(int(s)) == s


def _ordered(
    known: dict[str, Any], extra: dict[str, Any], order: tuple[str, ...]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in order:
        if k in known:
            out[k] = known[k]
        elif k in extra:
            out[k] = extra[k]
    for src in (known, extra):
        for k, v in src.items():
            out.setdefault(k, v)
    return out


def _valid_json(mask: np.ndarray, nested: bool, as_bool: bool) -> list:
    vals = [bool(v) if as_bool else int(v) for v in np.asarray(mask, dtype=bool)]
    return [[v] for v in vals] if nested else vals


def _flag(v: bool, as_bool: bool) -> bool | int:
    return bool(v) if as_bool else int(v)


def _image_json(im: InterHandImage, st: JsonStyle) -> dict[str, Any]:
    known = {
        "id": im.image_id,
        "file_name": im.file_name,
        "width": im.width,
        "height": im.height,
        "capture": int(im.capture) if st.capture_is_int and _is_int_str(im.capture) else im.capture,
        "subject": im.subject,
        "seq_name": im.seq_name,
        "camera": int(im.camera) if st.camera_is_int and _is_int_str(im.camera) else im.camera,
        "frame_idx": im.frame_idx,
    }
    return _ordered(known, im.extra, st.image_keys)


def _annotation_json(an: InterHandAnnotation, st: JsonStyle) -> dict[str, Any]:
    known = {
        "id": an.annotation_id,
        "image_id": an.image_id,
        "bbox": [float(v) for v in an.bbox_xywh],
        "joint_valid": _valid_json(an.joint_valid, st.image_valid_nested, st.image_valid_bool),
        "hand_type": an.hand_type,
        "hand_type_valid": _flag(an.hand_type_valid, st.image_flag_bool),
    }
    return _ordered(known, an.extra, st.annotation_keys)


def _frame_json(fr: InterHandFrame, st: JsonStyle) -> dict[str, Any]:
    known = {
        "world_coord": np.asarray(fr.world_coord_mm, dtype=np.float64).tolist(),
        "joint_valid": _valid_json(fr.joint_valid, st.frame_valid_nested, st.frame_valid_bool),
        "hand_type": fr.hand_type,
        "hand_type_valid": _flag(fr.hand_type_valid, st.frame_flag_bool),
    }
    return _ordered(known, fr.extra, st.frame_keys)


def to_json(ih: InterHandSet) -> InterHandJson:
    """The JSON objects of a set, spelled as its :class:`JsonStyle` says."""
    st = ih.style
    data_known = {
        "images": [_image_json(im, st) for im in ih.images],
        "annotations": [_annotation_json(an, st) for an in ih.annotations],
    }
    data = _ordered(data_known, ih.data_extra, st.data_keys)
    camera: dict[str, Any] = {}
    for capture, cams in ih.cameras.items():
        params = {
            "campos": {n: c.campos_mm.tolist() for n, c in cams.items()},
            "camrot": {n: c.camrot.tolist() for n, c in cams.items()},
            "focal": {n: c.focal.tolist() for n, c in cams.items()},
            "princpt": {n: c.princpt.tolist() for n, c in cams.items()},
        }
        camera[capture] = _ordered(params, {}, st.camera_keys)
    joints = {
        capture: {frame: _frame_json(fr, st) for frame, fr in frames.items()}
        for capture, frames in ih.frames.items()
    }
    return InterHandJson(data, camera, joints)


def write_interhand(ih: InterHandSet, root: str | os.PathLike[str], split: str) -> InterHandLayout:
    """Write the three JSON files and ``skeleton.txt`` of ``ih`` under ``root`` (atomic writes).

    Images are not touched (see :func:`place_image`). Returns the layout written.
    """
    layout = InterHandLayout(Path(root), split)
    js = to_json(ih)
    write_json_atomic(layout.data, js.data)
    write_json_atomic(layout.camera, js.camera)
    write_json_atomic(layout.joint_3d, js.joint_3d)
    write_text_atomic(layout.skeleton, skeleton_txt())
    return layout


def place_image(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *, mode: str = "link"
) -> None:
    """Put image ``src`` at ``dst``: hard link (``mode="link"``, copies across file systems)
    or copy (``mode="copy"``). An existing ``dst`` that is already ``src`` is left alone."""
    if mode not in ("link", "copy"):
        raise ValueError(f"image mode must be 'link' or 'copy', got {mode!r}")
    src, dst = Path(src), Path(dst)
    if dst.exists():
        if dst.samefile(src):
            return
        dst.unlink()
    dst.parent.mkdir(parents=True, exist_ok=True)
    if mode == "link":
        try:
            os.link(src, dst)
            return
        except OSError:  # other file system, or links unsupported: fall back to a copy
            pass
    shutil.copy2(src, dst)


def rig_from_interhand(
    cameras: Mapping[str, InterHandCamera],
    sizes: Mapping[str, tuple[int, int]],
    where: str = "camera json",
) -> CameraRig:
    """A :class:`CameraRig` (cameras in the mapping's order) from InterHand camera parameters.

    ``sizes[name]`` is (width, height) px. ``R = camrot``, ``t = −camrot · campos``, no
    distortion. A camrot within 1e-3 of orthonormal is re-orthonormalised (SVD) with a
    warning; a farther one is an error.
    """
    out = []
    for name, c in cameras.items():
        R = c.camrot
        err = float(np.abs(R @ R.T - np.eye(3)).max())
        if err > 1e-6 or np.linalg.det(R) < 0:
            if err > _ROT_REPAIR_TOL or np.linalg.det(R) < 0:
                raise InterchangeFormatError(
                    f"{where}: camera {name!r}: camrot is not a rotation matrix"
                )
            u, _, vt = np.linalg.svd(R)
            R = u @ vt
            logger.warning(
                "%s: camera %s: camrot off orthonormal by %.1e, repaired", where, name, err
            )
        K = np.array(
            [[c.focal[0], 0.0, c.princpt[0]], [0.0, c.focal[1], c.princpt[1]], [0, 0, 1.0]]
        )
        w, h = sizes[name]
        out.append(Camera(name, w, h, K, np.zeros(5), R, -R @ c.campos_mm))
    return CameraRig(out)


def interhand_camera(
    cam: Camera, campos_mm: np.ndarray | None = None, camrot: np.ndarray | None = None
) -> InterHandCamera:
    """InterHand parameters of ``cam``: campos = centre, camrot = R, focal/princpt from K.

    ``campos_mm``/``camrot`` override the derived values (used to write back the exact
    numbers an import read). Skew and distortion cannot be written and are dropped (the
    caller warns; see :func:`annotator.interchange.export_interhand`).
    """
    if cam.K[0, 1] != 0 or np.any(cam.dist != 0):
        logger.debug("camera %s: skew/distortion dropped (not in the format)", cam.name)
    return InterHandCamera(
        campos_mm=np.array(cam.center_world if campos_mm is None else campos_mm, dtype=np.float64),
        camrot=np.array(cam.R if camrot is None else camrot, dtype=np.float64),
        focal=np.array([cam.K[0, 0], cam.K[1, 1]]),
        princpt=np.array([cam.K[0, 2], cam.K[1, 2]]),
    )


def enlarged_bbox_xywh(
    uv_px: np.ndarray, valid: np.ndarray, scale: float = BBOX_SCALE
) -> np.ndarray:
    """Tight box of the valid points enlarged ``scale``× about its centre.

    Args:
        uv_px: (..., N, 2) pixel coordinates.
        valid: (..., N) bool; NaN points count as invalid.
    Returns:
        (..., 4) ``[x, y, w, h]`` px; NaN where no point is valid.
    """
    uv = np.asarray(uv_px, dtype=np.float64)
    ok = np.asarray(valid, dtype=bool) & np.all(np.isfinite(uv), axis=-1)
    lo = np.where(ok[..., None], uv, np.inf).min(axis=-2)
    hi = np.where(ok[..., None], uv, -np.inf).max(axis=-2)
    any_ok = ok.any(axis=-1)
    with np.errstate(invalid="ignore"):  # rows with no valid point: inf - inf, masked below
        centre = (lo + hi) / 2
        size = (hi - lo) * scale
        box = np.concatenate([centre - size / 2, size], axis=-1)
    return np.where(any_ok[..., None], box, np.nan)
