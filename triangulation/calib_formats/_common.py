"""Small helpers shared by the calibration readers: checked numbers, arrays and sizes.

Every helper raises a plain one-line ``ValueError`` describing the problem; the public
entry points in :mod:`triangulation.io` prefix it with the file name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any

import numpy as np

from triangulation.camera import Camera

__all__ = [
    "ImageSize",
    "SizeLookup",
    "as_array",
    "as_size",
    "lookup_size",
    "make_camera",
    "one_line",
]

#: ``(width, height)`` in pixels, or a mapping camera name -> ``(width, height)``.
ImageSize = tuple[int, int] | Mapping[str, tuple[int, int]]
#: Called with a camera name; returns ``(width, height)`` or ``None`` when unknown.
SizeLookup = Callable[[str], "tuple[int, int] | None"]


def one_line(message: str) -> str:
    """``message`` with every run of whitespace (newlines included) folded to one space."""
    return " ".join(str(message).split())


def _is_number(value: Any) -> bool:
    return isinstance(value, Real | np.number) and not isinstance(value, bool | np.bool_)


def as_array(value: Any, shape: tuple[int, ...] | None, what: str) -> np.ndarray:
    """``value`` (nested lists or an array of numbers) as a finite float64 array.

    Args:
        value: nested lists, tuples or an ndarray.
        shape: required shape, or None to accept any shape.
        what: how to call the value in an error (``"camera 'a': K"``).
    """
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iuf":
            raise ValueError(f"{what} must hold numbers, got dtype {value.dtype}")
        arr = value.astype(np.float64)
    else:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{what} must be a list of numbers, got {type(value).__name__}")
        flat: list[Any] = list(value)
        while flat and any(isinstance(v, list | tuple) for v in flat):
            if not all(isinstance(v, list | tuple) for v in flat):
                raise ValueError(f"{what} mixes numbers and lists")
            flat = [x for v in flat for x in v]
        bad = next((v for v in flat if not _is_number(v)), None)
        if bad is not None:
            raise ValueError(f"{what} must hold numbers, found {bad!r}")
        try:
            arr = np.asarray(value, dtype=np.float64)
        except ValueError:
            raise ValueError(f"{what} is ragged (rows of different lengths)") from None
    if shape is not None and arr.shape != shape:
        dims = "x".join(map(str, shape))
        raise ValueError(f"{what} must be {dims}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains NaN or inf")
    return arr


def as_size(value: Any, what: str) -> tuple[int, int]:
    """A ``[width, height]`` pair of positive whole numbers (``1088.0`` is accepted)."""
    if not isinstance(value, list | tuple | np.ndarray) or len(value) != 2:
        raise ValueError(f"{what} must be [width, height], got {value!r}")
    out = []
    for v in value:
        if not _is_number(v) or not math.isfinite(float(v)) or float(v) != int(v) or v <= 0:
            raise ValueError(f"{what} must be two positive whole numbers, got {list(value)!r}")
        out.append(int(v))
    return out[0], out[1]


def lookup_size(image_size: ImageSize | None) -> SizeLookup:
    """Turn the ``image_size`` keyword of the loaders into a camera-name lookup."""
    if image_size is None:
        return lambda name: None
    if isinstance(image_size, Mapping):
        sizes = {str(k): as_size(v, f"image_size[{k!r}]") for k, v in image_size.items()}
        return sizes.get
    size = as_size(image_size, "image_size")
    return lambda name: size


def make_camera(
    name: str,
    size: tuple[int, int],
    K: np.ndarray,
    dist: np.ndarray,
    R: np.ndarray,
    t: np.ndarray,
) -> Camera:
    """Build a :class:`Camera`; its validation errors come back as one-line ValueErrors."""
    try:
        return Camera(name=name, width=size[0], height=size[1], K=K, dist=dist, R=R, t=t)
    except ValueError as exc:
        raise ValueError(one_line(str(exc))) from None
