"""Calibration files: load rigs from the common formats, save them as ``cameras.toml``.

Formats read by :func:`load_rig` / :func:`load_rigs` (detected from the content, helped by
the extension; details in each ``triangulation.calib_formats`` module and
``docs/formats.md``):

- ``native``: our ``cameras.toml``, written by :func:`save_rig` / :func:`save_rigs`. A
  ``version`` key, then ``[[camera]]`` tables (name, width, height, K, dist, R, t in mm),
  or for several captures ``[[capture]]`` tables with an ``id`` and their own
  ``[[capture.camera]]`` lists. Strict: unknown keys are errors. Saving then loading gives
  bit-identical cameras.
- ``anipose``: aniposelib / sleap-anipose / Pose2Sim ``calibration.toml`` (Rodrigues
  rotation, translation in the file's units; ``units_scale=1000`` for Pose2Sim's metres).
- ``interhand``: InterHand2.6M ``*_camera.json`` with every capture's cameras
  (``R = camrot``, ``t = -camrot @ campos``, mm, no distortion). The image size is not in
  that file: pass ``image_size`` or ``data_json`` (the matching ``*_data.json``).
- ``opencv``: ``cv::FileStorage`` YAML/XML/JSON (``camera_matrix``,
  ``distortion_coefficients``, ``R`` or ``rvec``, ``T``, ``image_width``/``image_height``),
  one camera or several, and the same keys in plain JSON with nested lists.

Conventions: ``x_cam = R @ X_world + t``; camera order is file order. Every problem with a
file raises :class:`CalibrationFormatError` (a ``ValueError``) with one line naming the file
and the problem. Writes are atomic: a temporary file in the same folder, fsync,
``os.replace``, so a crash leaves the old file or the new one, never a torn one.

Example::

    >>> rig = load_rig("calibration.toml", units_scale=1000.0)   # Pose2Sim, metres -> mm
    >>> save_rig(rig, "my_capture/cameras.toml")
    >>> load_rig("my_capture/cameras.toml") == rig
    True
"""

from __future__ import annotations

import json
import logging
import math
import os
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from atomic_files import atomic_write_bytes
from triangulation.calib_formats import anipose, interhand, native, opencv
from triangulation.calib_formats._common import ImageSize, lookup_size, one_line
from triangulation.camera import Camera, CameraRig

__all__ = [
    "FORMATS",
    "CalibrationFormatError",
    "detect_format",
    "load_rig",
    "load_rigs",
    "save_rig",
    "save_rigs",
    "dumps_rigs",
]

log = logging.getLogger(__name__)

CalibrationFormat = Literal["native", "anipose", "interhand", "opencv"]
#: Names accepted by the ``format`` keyword.
FORMATS: tuple[str, ...] = ("native", "anipose", "interhand", "opencv")
_FILESTORAGE_EXT = (".yaml", ".yml", ".xml")


class CalibrationFormatError(ValueError):
    """A calibration file that cannot be read; the message names the file and the problem."""


def _fail(path: Path, problem: str) -> CalibrationFormatError:
    return CalibrationFormatError(f"{path}: {one_line(problem)}")


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """Re-raise a plain ValueError from the block as a one-line error naming ``path``."""
    try:
        yield
    except CalibrationFormatError:
        raise
    except ValueError as exc:
        raise _fail(path, str(exc)) from None


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:  # json.loads would keep the last one: a camera silently lost
            raise ValueError(f"duplicate key {key!r} in a JSON object")
        out[key] = value
    return out


def _loads_json(text: str) -> Any:
    """Parsed JSON; malformed text or a key repeated in one object is a ValueError."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON: {exc}") from None


def _parse(path: Path, fmt: str | None) -> tuple[str, Any]:
    """(format, parsed content) of ``path``; ``fmt`` forces the format."""
    ext = path.suffix.lower()
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "opencv" and ext != ".json" or fmt is None and ext in _FILESTORAGE_EXT:
        return "opencv", opencv.read_filestorage(path)
    text = _read_text(path)
    head = text.lstrip()[:16]
    if fmt is None and (head.startswith("%YAML") or head.startswith("<?xml")):
        return "opencv", opencv.read_filestorage(path)
    if not head:
        raise ValueError("empty file")
    if fmt in ("interhand", "opencv") or fmt is None and (ext == ".json" or head[0] == "{"):
        data = _loads_json(text)
        if fmt is not None:
            return fmt, data
        if interhand.is_interhand(data):
            return "interhand", data
        if isinstance(data, dict) and (
            opencv.has_camera(data)
            or "cameras" in data
            or any(opencv.has_camera(v) for v in data.values())
        ):
            return "opencv", data
        raise ValueError(
            "unknown JSON calibration format (expected InterHand2.6M {capture: {campos, "
            "camrot, focal, princpt}} or OpenCV-style camera_matrix entries)"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        if ext == ".toml" or fmt is not None:
            raise ValueError(f"malformed TOML: {exc}") from None
        raise ValueError(
            "unknown calibration format (not TOML, JSON, or OpenCV YAML/XML)"
        ) from None
    if fmt is not None:
        return fmt, data
    if native.is_native(data):
        return "native", data
    if anipose.is_anipose(data):
        return "anipose", data
    raise ValueError(
        "unknown TOML calibration format (expected our version/[[camera]] layout or "
        "anipose [cam_N] tables with a matrix)"
    )


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format name of a calibration file (one of :data:`FORMATS`)."""
    path = Path(path)
    with _naming(path):
        return _parse(path, None)[0]


def _load(
    path: Path,
    fmt: str | None,
    image_size: ImageSize | None,
    data_json: str | os.PathLike[str] | None,
    units_scale: float,
    only: str | None,
    single: bool = False,
) -> tuple[dict[str, CameraRig], bool, list[str]]:
    """(rigs by capture id, whether the file is multi-capture, every capture id in it)."""
    if isinstance(units_scale, bool) or not isinstance(units_scale, int | float) or not (
        math.isfinite(units_scale) and units_scale > 0
    ):
        raise ValueError(f"units_scale must be a positive finite number, got {units_scale!r}")
    size_fallback = lookup_size(image_size)
    kind, data = _parse(path, fmt)
    log.debug("%s: reading as %s calibration", path, kind)
    if kind == "native":
        rigs, multi = native.rigs_from_toml(data)
        return rigs, multi, list(rigs)
    if kind == "interhand":
        if single and only is None and len(data) > 1:
            raise ValueError(_several(list(map(str, data))))
        data_sizes = None
        if data_json is not None:
            data_sizes = _data_json_sizes(Path(data_json))
        size_of = interhand.size_lookup(data_sizes, size_fallback)
        hint = ""
        sibling = path.with_name(path.name.replace("_camera.json", "_data.json"))
        if data_json is not None:
            hint = f" ({Path(data_json).name} has no image from it)"
        elif sibling != path and sibling.is_file():
            hint = f" (there is one next to it: {sibling.name})"
        rigs = interhand.rigs_from_json(data, size_of, units_scale, only=only, size_hint=hint)
        return rigs, True, [str(k) for k in data]
    if kind == "anipose":
        cams = anipose.cameras_from_toml(data, units_scale)
    else:
        cams = opencv.cameras_from_mapping(data, path.stem, size_fallback, units_scale)
    return {native.SINGLE_CAPTURE_ID: CameraRig(cams)}, False, [native.SINGLE_CAPTURE_ID]


def _several(ids: list[str]) -> str:
    return f"holds {len(ids)} captures ({', '.join(ids)}); pass capture=<one of them>"


def _data_json_sizes(path: Path) -> dict[tuple[str, str], tuple[int, int]]:
    with _naming(path):
        return interhand.sizes_from_data_json(_loads_json(_read_text(path)))


def load_rigs(
    path: str | os.PathLike[str],
    *,
    image_size: ImageSize | None = None,
    data_json: str | os.PathLike[str] | None = None,
    units_scale: float = 1.0,
    format: CalibrationFormat | None = None,
) -> dict[str, CameraRig]:
    """Every capture's rig in a calibration file, keyed by capture id, in file order.

    Single-rig files (our single-capture ``cameras.toml``, anipose, OpenCV) give
    ``{"0": rig}``, the id ``ProjectStore.create`` uses for a single rig.

    Args:
        path: the calibration file.
        image_size: ``(width, height)`` px for every camera, or ``{camera: (width, height)}``;
            only used where the file has no size (InterHand, OpenCV without image_width).
        data_json: InterHand2.6M ``*_data.json`` whose ``images`` give the sizes per
            (capture, camera); takes precedence over ``image_size``.
        units_scale: factor applied to every translation on load (e.g. 1000.0 to read a
            calibration in metres as mm). Not applied to ``native`` files, which are mm.
        format: skip detection: one of :data:`FORMATS`.

    Raises:
        CalibrationFormatError: one line naming the file and the problem.
        OSError: the file cannot be read.
    """
    path = Path(path)
    with _naming(path):
        return _load(path, format, image_size, data_json, units_scale, None)[0]


def load_rig(
    path: str | os.PathLike[str],
    capture: str | int | None = None,
    *,
    image_size: ImageSize | None = None,
    data_json: str | os.PathLike[str] | None = None,
    units_scale: float = 1.0,
    format: CalibrationFormat | None = None,
) -> CameraRig:
    """One rig from a calibration file (see :func:`load_rigs` for the keywords).

    Args:
        capture: which capture of a multi-capture file (InterHand json, multi-capture
            ``cameras.toml``); required when the file holds several. An int is taken as
            its decimal string (InterHand capture ids are ints in ``*_data.json``).

    Returns:
        The rig, cameras in file order. Its (C,) order is the C axis of later arrays.
    """
    path = Path(path)
    wanted = None if capture is None else str(capture)
    with _naming(path):
        rigs, multi, ids = _load(
            path, format, image_size, data_json, units_scale, wanted, single=True
        )
        if wanted is None:
            if len(rigs) > 1:
                raise ValueError(_several(list(rigs)))
            return next(iter(rigs.values()))
        if wanted not in rigs:
            if not multi:
                raise ValueError(f"holds a single rig, not capture {wanted!r}; omit capture=")
            raise ValueError(f"no capture {wanted!r}; captures: {', '.join(ids)}")
        return rigs[wanted]


# --- writing -------------------------------------------------------------------------------


def _atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (:mod:`atomic_files`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _as_rig(rig: CameraRig | Iterable[Camera], what: str) -> CameraRig:
    if isinstance(rig, CameraRig):
        return rig
    if isinstance(rig, Camera) or not isinstance(rig, Iterable):
        kind = type(rig).__name__
        raise ValueError(f"{what} must be a CameraRig or a list of Cameras, got {kind}")
    return CameraRig(rig)


def save_rig(rig: CameraRig | Iterable[Camera], path: str | os.PathLike[str]) -> None:
    """Write ``rig`` as our ``cameras.toml`` (atomic; exact float round trip).

    The text is human-diffable: one ``[[camera]]`` table per camera in rig order, one matrix
    row per line, floats in shortest round-trip form.
    """
    _atomic_write_text(Path(path), native.dumps(_as_rig(rig, "rig")))


def save_rigs(
    rigs: Mapping[str, CameraRig | Iterable[Camera]], path: str | os.PathLike[str]
) -> None:
    """Write several captures' rigs to one ``cameras.toml`` (``[[capture]]`` tables, in
    mapping order; atomic; exact float round trip). Capture ids must be non-empty strings.
    """
    _atomic_write_text(Path(path), dumps_rigs(rigs))


def dumps_rigs(rigs: Mapping[str, CameraRig | Iterable[Camera]]) -> str:
    """The text :func:`save_rigs` writes (for a caller that commits the file itself)."""
    if not isinstance(rigs, Mapping) or not rigs:
        raise ValueError("rigs must be a non-empty mapping capture id -> CameraRig")
    checked: dict[str, CameraRig] = {}
    for cap_id, rig in rigs.items():
        if not isinstance(cap_id, str) or not cap_id:
            raise ValueError(f"capture ids must be non-empty strings, got {cap_id!r}")
        checked[cap_id] = _as_rig(rig, f"rigs[{cap_id!r}]")
    return native.dumps(checked)
