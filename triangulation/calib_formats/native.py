"""Our own ``cameras.toml``: reading (strict) and writing (exact, human-diffable).

Layout, version 1 (see ``docs/formats.md``)::

    version = 1

    [[camera]]                 # one table per camera, in rig order
    name = "400262"
    width = 334                # px
    height = 512               # px
    K = [                      # 3x3 intrinsics, px
        [1261.5, 0.0, 155.8],
        [0.0, 1261.6, 258.8],
        [0.0, 0.0, 1.0],
    ]
    dist = [0.0, 0.0, 0.0, 0.0, 0.0]   # OpenCV order, 0/4/5/8/12/14 values
    R = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]   # world -> camera
    t = [0.0, 0.0, 0.0]        # world -> camera, mm

A file holding several captures replaces the top-level ``[[camera]]`` list with
``[[capture]]`` tables, each with an ``id`` string and its own ``[[capture.camera]]`` list.
Floats are written with Python's shortest round-trip ``repr``, so a save/load cycle gives
back bit-identical arrays. Unknown keys are rejected: a typo must not be silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from triangulation.calib_formats._common import as_array, as_size, make_camera
from triangulation.camera import Camera, CameraRig

__all__ = ["FORMAT_VERSION", "SINGLE_CAPTURE_ID", "dumps", "is_native", "rigs_from_toml"]

FORMAT_VERSION = 1
#: Capture id given to the one rig of a single-capture file (as ``ProjectStore.create``).
SINGLE_CAPTURE_ID = "0"
_CAMERA_KEYS = ("name", "width", "height", "K", "dist", "R", "t")
_HEADER = (
    "# Camera calibration written by triangulation.io.save_rig (format version {v}).\n"
    "# x_cam = R @ X_world + t; t in mm, K in px, dist = OpenCV (k1, k2, p1, p2[, k3, ...]).\n"
)


def is_native(data: Mapping[str, Any]) -> bool:
    """Whether parsed TOML looks like our format (``[[camera]]`` or ``[[capture]]`` arrays)."""
    return isinstance(data.get("camera"), list) or isinstance(data.get("capture"), list)


def _camera(table: Any, where: str) -> Camera:
    if not isinstance(table, dict):
        raise ValueError(f"{where} must be a table")
    unknown = [k for k in table if k not in _CAMERA_KEYS]
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
    missing = [k for k in _CAMERA_KEYS if k not in table]
    if missing:
        raise ValueError(f"{where}: missing key(s) {', '.join(map(repr, missing))}")
    name = table["name"]
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}: name must be a non-empty string, got {name!r}")
    what = f"camera {name!r}"
    for key in ("width", "height"):
        if not isinstance(table[key], int) or isinstance(table[key], bool):
            raise ValueError(f"{what}: {key} must be an integer, got {table[key]!r}")
    size = as_size([table["width"], table["height"]], f"{what}: [width, height]")
    return make_camera(
        name,
        size,
        K=as_array(table["K"], (3, 3), f"{what}: K"),
        dist=_vector_of_any_length(table["dist"], f"{what}: dist"),
        R=as_array(table["R"], (3, 3), f"{what}: R"),
        t=as_array(table["t"], (3,), f"{what}: t"),
    )


def _vector_of_any_length(value: Any, what: str) -> np.ndarray:
    arr = as_array(value, None, what)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a flat list of numbers, got shape {arr.shape}")
    return arr


def _rig(tables: Any, where: str) -> CameraRig:
    if not isinstance(tables, list) or not tables:
        raise ValueError(f"{where} must be a non-empty array of [[camera]] tables")
    cams = [_camera(t, f"{where}[{i}]") for i, t in enumerate(tables)]
    return CameraRig(cams)


def rigs_from_toml(data: Mapping[str, Any]) -> tuple[dict[str, CameraRig], bool]:
    """Rigs of a parsed ``cameras.toml``, in file order.

    Returns:
        (rigs, multi): ``rigs`` maps capture id -> rig; a single-capture file gives
        ``{"0": rig}`` and ``multi`` False.
    """
    unknown = [k for k in data if k not in ("version", "camera", "capture")]
    if unknown:
        raise ValueError(f"unknown top-level key(s) {', '.join(map(repr, unknown))}")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"version must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"format version {version} is newer than this reader ({FORMAT_VERSION}); "
            "update the toolkit"
        )
    if ("camera" in data) == ("capture" in data):
        raise ValueError("expected either [[camera]] tables or [[capture]] tables (not both)")
    if "camera" in data:
        return {SINGLE_CAPTURE_ID: _rig(data["camera"], "camera")}, False
    captures = data["capture"]
    if not isinstance(captures, list) or not captures:
        raise ValueError("capture must be a non-empty array of [[capture]] tables")
    rigs: dict[str, CameraRig] = {}
    for i, cap in enumerate(captures):
        where = f"capture[{i}]"
        if not isinstance(cap, dict):
            raise ValueError(f"{where} must be a table")
        unknown = [k for k in cap if k not in ("id", "camera")]
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
        cap_id = cap.get("id")
        if not isinstance(cap_id, str) or not cap_id:
            raise ValueError(f"{where}: id must be a non-empty string, got {cap_id!r}")
        if cap_id in rigs:
            raise ValueError(f"duplicate capture id {cap_id!r}")
        if "camera" not in cap:
            raise ValueError(f"capture {cap_id!r}: missing [[capture.camera]] tables")
        rigs[cap_id] = _rig(cap["camera"], f"capture {cap_id!r}: camera")
    return rigs, True


# --- writing -------------------------------------------------------------------------------


def _str(value: str) -> str:
    """A TOML basic string (escapes quote, backslash and control characters)."""
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\t":
            out.append(ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _float(x: float) -> str:
    # repr of a Python float is the shortest string that parses back to the same double
    # (including -0.0); TOML floats need a '.' or an exponent, which repr always gives.
    return repr(float(x))


def _vector(values: np.ndarray) -> str:
    return "[" + ", ".join(_float(v) for v in values) + "]"


def _matrix(rows: np.ndarray) -> str:
    return "[\n" + "".join(f"    {_vector(r)},\n" for r in rows) + "]"


def _camera_lines(cam: Camera, table: str) -> str:
    return (
        f"[[{table}]]\n"
        f"name = {_str(cam.name)}\n"
        f"width = {cam.width}\n"
        f"height = {cam.height}\n"
        f"K = {_matrix(cam.K)}\n"
        f"dist = {_vector(cam.dist)}\n"
        f"R = {_matrix(cam.R)}\n"
        f"t = {_vector(cam.t)}\n"
    )


def dumps(rigs: Mapping[str, CameraRig] | CameraRig) -> str:
    """TOML text of one rig (``[[camera]]`` list) or of several captures (``[[capture]]``)."""
    parts = [_HEADER.format(v=FORMAT_VERSION), f"version = {FORMAT_VERSION}\n"]
    if isinstance(rigs, CameraRig):
        parts += ["\n" + _camera_lines(cam, "camera") for cam in rigs]
    else:
        for cap_id, rig in rigs.items():
            parts.append(f"\n[[capture]]\nid = {_str(cap_id)}\n")
            parts += ["\n" + _camera_lines(cam, "capture.camera") for cam in rig]
    return "".join(parts)
