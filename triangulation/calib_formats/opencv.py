"""OpenCV-style calibration: ``cv::FileStorage`` YAML/XML/JSON and a plain JSON dialect.

One camera is a mapping with (aliases in brackets, first match wins):

- ``camera_matrix`` [``cameraMatrix``, ``K``, ``M``, ``intrinsic_matrix``]: 3x3, px;
- ``distortion_coefficients`` [``dist_coeffs``, ``distCoeffs``, ``dist``, ``D``]: OpenCV
  order, any of 0/4/5/8/12/14 values, as a row, a column or a flat list (default: none);
- ``R`` [``rotation_matrix``] 3x3 or ``rvec`` [``rotation_vector``] Rodrigues, world ->
  camera (default: identity; if both are present they must agree);
- ``T`` [``t``, ``tvec``, ``translation``, ``translation_vector``]: 3 values, world ->
  camera, file units (default: zero);
- ``image_width`` and ``image_height``, or ``image_size`` [``size``] as ``[w, h]``
  (else the loader's ``image_size`` keyword);
- ``name`` [``camera_name``] (optional).

A file holds one camera at its top level (named by ``name`` or else the file stem), or
several: a ``cameras`` sequence of such mappings (each with a ``name``), a ``cameras``
mapping name -> camera, or top-level mappings that each contain a camera matrix, named by
their key. Order is file order. Matrices are either nested lists (plain JSON) or
FileStorage matrices (``{rows, cols, dt, data}`` / ``{sizes, dt, data}``). Other keys
(``calibration_time``, ``avg_reprojection_error``, …) are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from triangulation.calib_formats._common import (
    SizeLookup,
    as_array,
    as_size,
    make_camera,
    one_line,
)
from triangulation.camera import Camera

__all__ = ["cameras_from_mapping", "has_camera", "read_filestorage"]

_K = ("camera_matrix", "cameraMatrix", "K", "M", "intrinsic_matrix")
_DIST = ("distortion_coefficients", "dist_coeffs", "distCoeffs", "dist", "D")
_RMAT = ("R", "rotation_matrix")
_RVEC = ("rvec", "rotation_vector")
_T = ("T", "t", "tvec", "translation", "translation_vector")
_SIZE = ("image_size", "size")
_NAME = ("name", "camera_name")
_ROT_AGREE_TOL = 1e-6


def read_filestorage(path: Path) -> dict[str, Any]:
    """The top-level mapping of a FileStorage file as plain Python objects, in file order."""
    try:
        fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    except (cv2.error, SystemError) as exc:
        # OpenCV 5 wraps the parse error in a SystemError whose cause is the cv2.error.
        cause = exc.__cause__ if isinstance(exc, SystemError) and exc.__cause__ else exc
        text = one_line(str(cause))
        raise ValueError(f"malformed OpenCV file: {text.split('error: ')[-1]}") from None
    try:
        if not fs.isOpened():
            raise ValueError("OpenCV FileStorage could not open it")
        root = fs.root()
        if not root.isMap():
            raise ValueError("expected a mapping at the top level")
        return {key: _node(root.getNode(key)) for key in root.keys()}
    finally:
        fs.release()


def _node(node: Any) -> Any:
    if node.isMap():
        return {key: _node(node.getNode(key)) for key in node.keys()}
    if node.isSeq():
        return [_node(node.at(i)) for i in range(node.size())]
    if node.isInt():
        return int(node.real())
    if node.isReal():
        return float(node.real())
    if node.isString():
        return node.string()
    return None


def _first(cam: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str, Any] | None:
    for key in keys:
        if key in cam:
            return key, cam[key]
    return None


def _matrix(value: Any, what: str) -> np.ndarray:
    """Nested lists, or a FileStorage matrix mapping, as a float array."""
    if isinstance(value, Mapping):
        if "data" not in value:
            raise ValueError(f"{what}: matrix mapping without 'data'")
        data = as_array(value["data"], None, what).reshape(-1)
        if "rows" in value and "cols" in value:
            dims = [value["rows"], value["cols"]]
        elif "sizes" in value:
            dims = value["sizes"] if isinstance(value["sizes"], list) else [value["sizes"]]
        else:
            dims = [data.size]
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in dims):
            raise ValueError(f"{what}: matrix dimensions must be whole numbers, got {dims!r}")
        shape = tuple(dims)
        if int(np.prod(shape)) != data.size:
            raise ValueError(f"{what}: {data.size} values do not fill a {shape} matrix")
        return data.reshape(shape)
    return as_array(value, None, what)


def has_camera(value: Any) -> bool:
    """Whether ``value`` is a mapping holding a camera matrix."""
    return isinstance(value, Mapping) and _first(value, _K) is not None


def _camera(cam: Mapping[str, Any], name: str, size_of: SizeLookup, units_scale: float) -> Camera:
    what = f"camera {name!r}"
    K = _matrix(_first(cam, _K)[1], f"{what}: camera_matrix")
    if K.shape != (3, 3):
        raise ValueError(f"{what}: camera_matrix must be 3x3, got shape {K.shape}")
    found = _first(cam, _DIST)
    dist = np.zeros(0) if found is None else _matrix(found[1], f"{what}: {found[0]}")
    if dist.ndim > 1 and min(dist.shape) != 1:
        raise ValueError(f"{what}: distortion must be a row or column, got shape {dist.shape}")
    R = np.eye(3)
    found_r, found_v = _first(cam, _RMAT), _first(cam, _RVEC)
    if found_r is not None:
        R = _matrix(found_r[1], f"{what}: {found_r[0]}")
        if R.shape != (3, 3):
            raise ValueError(f"{what}: {found_r[0]} must be 3x3, got shape {R.shape}")
    if found_v is not None:
        rvec = _matrix(found_v[1], f"{what}: {found_v[0]}")
        if rvec.size != 3:
            raise ValueError(f"{what}: {found_v[0]} must have 3 values, got shape {rvec.shape}")
        R_v, _ = cv2.Rodrigues(rvec.reshape(3))
        if found_r is not None and not np.allclose(R, R_v, atol=_ROT_AGREE_TOL):
            raise ValueError(f"{what}: {found_r[0]} and {found_v[0]} disagree")
        if found_r is None:
            R = R_v
    t = np.zeros(3)
    found = _first(cam, _T)
    if found is not None:
        t = _matrix(found[1], f"{what}: {found[0]}")
        if t.size != 3:
            raise ValueError(f"{what}: {found[0]} must have 3 values, got shape {t.shape}")
        t = t.reshape(3) * units_scale if units_scale != 1.0 else t.reshape(3)
    if "image_width" in cam or "image_height" in cam:
        size = as_size([cam.get("image_width"), cam.get("image_height")], f"{what}: image size")
    elif (found := _first(cam, _SIZE)) is not None:
        size = as_size(np.ravel(_matrix(found[1], f"{what}: {found[0]}")), f"{what}: {found[0]}")
    elif (size := size_of(name)) is None:
        raise ValueError(
            f"{what}: no image size (image_width/image_height); pass image_size=(width, height)"
        )
    return make_camera(name, size, K, dist.reshape(-1), R, t)


def _name(value: Any, fallback: str) -> str:
    found = _first(value, _NAME)
    if found is None:
        return fallback
    if not isinstance(found[1], str | int) or isinstance(found[1], bool) or found[1] == "":
        raise ValueError(f"camera name must be a non-empty string, got {found[1]!r}")
    return str(found[1])


def cameras_from_mapping(
    data: Mapping[str, Any], default_name: str, size_of: SizeLookup, units_scale: float = 1.0
) -> list[Camera]:
    """Cameras of a parsed OpenCV-style file (FileStorage or plain JSON), in file order."""
    if not isinstance(data, Mapping):
        raise ValueError("expected a mapping at the top level")
    if has_camera(data):
        return [_camera(data, _name(data, default_name), size_of, units_scale)]
    entries: list[tuple[str, Any]]
    if "cameras" in data:
        group = data["cameras"]
        if isinstance(group, list):
            entries = []
            for i, cam in enumerate(group):
                if not isinstance(cam, Mapping) or _first(cam, _NAME) is None:
                    raise ValueError(f"cameras[{i}] must be a mapping with a name")
                entries.append((_name(cam, ""), cam))
        elif isinstance(group, Mapping):
            entries = [(str(k), v) for k, v in group.items()]
        else:
            raise ValueError("cameras must be a list or a mapping")
    else:
        entries = [(k, v) for k, v in data.items() if has_camera(v)]
    if not entries:
        raise ValueError("no camera found (expected a camera_matrix entry)")
    cams = []
    for key, cam in entries:
        if not has_camera(cam):
            raise ValueError(f"camera {key!r}: missing camera_matrix")
        cams.append(_camera(cam, _name(cam, key), size_of, units_scale))
    return cams
