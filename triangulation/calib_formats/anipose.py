"""anipose / aniposelib ``calibration.toml`` (also written by sleap-anipose and Pose2Sim).

One table per camera, ``[cam_0]``, ``[cam_1]``, … with ``name``, ``size = [w, h]``,
``matrix`` (3x3), ``distortions`` (OpenCV order), ``rotation`` (Rodrigues vector) and
``translation``, both world -> camera: ``x_cam = Rodrigues(rotation) @ X + translation``.
A ``[metadata]`` table, if any, is skipped. Camera order is the order of the tables in the
file (never a sort of the section names, which would put ``cam_10`` before ``cam_2``).

Pose2Sim's variant writes ``size`` as floats, 4 distortion coefficients and a
``fisheye = false`` key; it is read as is. Fisheye cameras (``fisheye = true``) use a
different lens model and are refused. Translation units are whatever the file used
(aniposelib: the board's unit, often mm; Pose2Sim: metres); the loader's ``units_scale``
multiplies them (``units_scale=1000`` turns metres into mm).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import cv2

from triangulation.calib_formats._common import as_array, as_size, make_camera
from triangulation.camera import Camera

__all__ = ["cameras_from_toml", "is_anipose"]

log = logging.getLogger(__name__)

_REQUIRED = ("name", "size", "matrix", "distortions", "rotation", "translation")
_OPTIONAL = ("fisheye",)
_SKIPPED_SECTIONS = ("metadata",)


def is_anipose(data: Mapping[str, Any]) -> bool:
    """Whether parsed TOML looks like an anipose calibration (a table with a ``matrix``)."""
    return any(isinstance(v, dict) and "matrix" in v for v in data.values())


def _camera(section: str, table: dict[str, Any], units_scale: float) -> Camera:
    missing = [k for k in _REQUIRED if k not in table]
    if missing:
        raise ValueError(f"[{section}]: missing key(s) {', '.join(map(repr, missing))}")
    extra = [k for k in table if k not in _REQUIRED + _OPTIONAL]
    if extra:
        log.debug("[%s]: ignoring key(s) %s", section, ", ".join(extra))
    name = table["name"]
    if isinstance(name, int) and not isinstance(name, bool):
        name = str(name)
    if not isinstance(name, str) or not name:
        raise ValueError(f"[{section}]: name must be a non-empty string, got {name!r}")
    fisheye = table.get("fisheye", False)
    if not isinstance(fisheye, bool):
        raise ValueError(f"[{section}]: fisheye must be true or false, got {fisheye!r}")
    if fisheye:
        raise ValueError(f"[{section}]: fisheye cameras are not supported (pinhole + OpenCV only)")
    what = f"[{section}] camera {name!r}"
    rvec = as_array(table["rotation"], (3,), f"{what}: rotation (Rodrigues vector)")
    tvec = as_array(table["translation"], (3,), f"{what}: translation")
    dist = as_array(table["distortions"], None, f"{what}: distortions").reshape(-1)
    R, _ = cv2.Rodrigues(rvec)
    return make_camera(
        name,
        as_size(table["size"], f"{what}: size"),
        K=as_array(table["matrix"], (3, 3), f"{what}: matrix"),
        dist=dist,
        R=R,
        t=tvec * units_scale if units_scale != 1.0 else tvec,
    )


def cameras_from_toml(data: Mapping[str, Any], units_scale: float = 1.0) -> list[Camera]:
    """Cameras of a parsed anipose calibration, in file order.

    Args:
        data: the parsed TOML document (a dict in file order, as ``tomllib`` gives).
        units_scale: factor applied to every translation (e.g. 1000 for metres -> mm).
    """
    cams = []
    for section, table in data.items():
        if section in _SKIPPED_SECTIONS:
            continue
        if not isinstance(table, dict):
            raise ValueError(f"unexpected top-level key {section!r} (expected [cam_N] tables)")
        cams.append(_camera(section, table, units_scale))
    if not cams:
        raise ValueError("no camera tables found")
    return cams
