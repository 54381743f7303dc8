"""InterHand2.6M ``*_camera.json``: every capture's cameras in one file.

Layout: ``{capture_id: {"campos": {cam: [3]}, "camrot": {cam: [[3x3]]},
"focal": {cam: [fx, fy]}, "princpt": {cam: [cx, cy]}}}``, camera ids as strings, world in
mm. The dataset's convention is ``X_cam = camrot @ (X_world - campos)``, so here
``R = camrot`` and ``t = -camrot @ campos`` (``campos`` is the camera centre). The images
are already undistorted: distortion is zero (5 coefficients).

Image size is not in this file. It comes from the loader's ``image_size`` keyword (one
``(width, height)`` for all cameras, or a per-camera mapping), or from the matching
``*_data.json`` given as ``data_json`` (its ``images`` entries carry capture, camera,
width and height; released crops are 334x512 or 512x334 depending on the camera, so no
default is guessed). Camera order is the file order of ``campos``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from triangulation.calib_formats._common import SizeLookup, as_array, make_camera
from triangulation.camera import CameraRig

__all__ = ["FIELDS", "is_interhand", "rigs_from_json", "size_lookup", "sizes_from_data_json"]

FIELDS = ("campos", "camrot", "focal", "princpt")


def is_interhand(data: Any) -> bool:
    """Whether parsed JSON looks like an InterHand2.6M camera file."""
    return (
        isinstance(data, dict)
        and bool(data)
        and all(isinstance(v, dict) and "campos" in v for v in data.values())
    )


def sizes_from_data_json(data: Any) -> dict[tuple[str, str], tuple[int, int]]:
    """``(capture, camera) -> (width, height)`` from a parsed InterHand ``*_data.json``."""
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValueError("expected a COCO-style object with an 'images' list")
    sizes: dict[tuple[str, str], tuple[int, int]] = {}
    for i, img in enumerate(data["images"]):
        try:
            key = (str(img["capture"]), str(img["camera"]))
            size = (int(img["width"]), int(img["height"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f"images[{i}] needs capture, camera, width and height entries"
            ) from None
        if sizes.setdefault(key, size) != size:
            raise ValueError(
                f"capture {key[0]} camera {key[1]}: images of different sizes "
                f"{sizes[key]} and {size}"
            )
    return sizes


def _rig(cap_id: str, entry: Any, size_of, units_scale: float, hint: str) -> CameraRig:
    where = f"capture {cap_id!r}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be an object")
    missing = [f for f in FIELDS if f not in entry]
    if missing:
        raise ValueError(f"{where}: missing field(s) {', '.join(map(repr, missing))}")
    for f in FIELDS:
        if not isinstance(entry[f], dict) or not entry[f]:
            raise ValueError(f"{where}: {f} must be a non-empty object keyed by camera id")
    names = list(entry["campos"])
    for f in FIELDS[1:]:
        absent = [n for n in names if n not in entry[f]]
        extra = [n for n in entry[f] if n not in entry["campos"]]
        if absent or extra:
            raise ValueError(
                f"{where}: {f} and campos list different cameras "
                f"({', '.join(absent + extra)})"
            )
    cams = []
    unsized = []
    for name in names:
        what = f"{where} camera {name!r}"
        campos = as_array(entry["campos"][name], (3,), f"{what}: campos")
        camrot = as_array(entry["camrot"][name], (3, 3), f"{what}: camrot")
        fx, fy = as_array(entry["focal"][name], (2,), f"{what}: focal")
        cx, cy = as_array(entry["princpt"][name], (2,), f"{what}: princpt")
        size = size_of(cap_id, name)
        if size is None:
            unsized.append(name)
            continue
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        t = -camrot @ campos
        cams.append(
            make_camera(
                name, size, K, np.zeros(5), camrot, t * units_scale if units_scale != 1.0 else t
            )
        )
    if unsized:
        shown = ", ".join(unsized[:8]) + (", …" if len(unsized) > 8 else "")
        raise ValueError(
            f"{where}: no image size for camera(s) {shown}; InterHand camera files do not "
            "store it: pass image_size=(width, height) or {camera: (width, height)}, "
            "or data_json=<the matching *_data.json>" + hint
        )
    return CameraRig(cams)


def rigs_from_json(
    data: Any,
    size_of,
    units_scale: float = 1.0,
    only: str | None = None,
    size_hint: str = "",
) -> dict[str, CameraRig]:
    """Rigs of a parsed InterHand camera file, keyed by capture id in file order.

    Args:
        data: the parsed JSON.
        size_of: ``(capture_id, camera) -> (width, height) | None``.
        units_scale: factor applied to every translation (the file is in mm).
        only: build only this capture (others are not validated).
        size_hint: appended to the missing-size error (e.g. where a data json was seen).
    """
    if not is_interhand(data):
        raise ValueError("not an InterHand2.6M camera file (expected {capture: {campos: …}})")
    items = [(str(k), v) for k, v in data.items()]
    if only is not None:
        items = [(k, v) for k, v in items if k == only]
    return {cap_id: _rig(cap_id, entry, size_of, units_scale, size_hint) for cap_id, entry in items}


def size_lookup(
    data_sizes: Mapping[tuple[str, str], tuple[int, int]] | None, fallback: SizeLookup
):
    """Combine sizes from a data json (per capture) with the ``image_size`` fallback."""

    def size_of(cap_id: str, name: str) -> tuple[int, int] | None:
        if data_sizes is not None and (cap_id, name) in data_sizes:
            return data_sizes[(cap_id, name)]
        return fallback(name)

    return size_of
