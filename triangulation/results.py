"""The triangulation result type and the input checks shared by the public functions.

Every public entry point of the numerical core validates its arrays here, so the error
messages are the same everywhere: they name the argument, the expected shape and what was
found. NaN in image coordinates means "not observed"; inf is always an error.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from triangulation.camera import CameraRig

__all__ = [
    "Triangulation",
    "check_rig",
    "check_uv",
    "check_points",
    "check_view_weights",
    "chunks",
    "block_points",
    "for_each_chunk",
    "threads",
    "check_int",
]

#: Observations (points x views) per block inside the vectorised kernels: a block's
#: working arrays then stay in the CPU's L2 cache, and peak memory is bounded whatever
#: the batch size.
BLOCK_OBSERVATIONS = 65536
DEFAULT_CHUNK: int | None = None  # None: BLOCK_OBSERVATIONS // C points per block


def check_int(value, name: str, minimum: int) -> int:
    """``value`` as an int >= ``minimum``; a clear ValueError for anything else (a bool, a
    fraction, NaN, None, a string)."""
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    if not ok and isinstance(value, float | np.floating):
        ok = bool(np.isfinite(value)) and float(value).is_integer()
    if not ok or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def block_points(n_views: int, chunk: int | None = None) -> int:
    """Points per block for ``n_views`` views (``chunk`` overrides when given)."""
    if chunk is not None:
        return check_int(chunk, "chunk", 1)
    return max(256, BLOCK_OBSERVATIONS // max(1, n_views))


@dataclass(frozen=True)
class Triangulation:
    """3D points triangulated from several views, with per-view diagnostics.

    Attributes:
        points_world_mm: (..., 3) world points in mm; NaN where fewer than two usable views.
        inliers: (..., C) bool, the views used for the final estimate.
        reproj_error_px: (..., C) distance in pixels between each observation and the
            projection of the point (distortion included); NaN where a view has no
            observation or the point is NaN or behind that camera.
        n_views: (...,) int, number of views used (``inliers.sum(-1)``).
    """

    points_world_mm: np.ndarray
    inliers: np.ndarray
    reproj_error_px: np.ndarray
    n_views: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        """(...,) bool, True where a point was triangulated."""
        return np.isfinite(self.points_world_mm).all(-1)


def check_rig(rig: CameraRig) -> None:
    """Raise ValueError unless ``rig`` is a CameraRig whose distortion this core models."""
    if not isinstance(rig, CameraRig):
        raise ValueError(f"rig must be a CameraRig, got {type(rig).__name__}")
    if rig.dist.shape[1] > 12 and np.any(rig.dist[:, 12:] != 0):
        bad = [rig.names[i] for i in np.flatnonzero(np.any(rig.dist[:, 12:] != 0, axis=1))]
        raise NotImplementedError(
            f"tilted-sensor distortion (tauX, tauY, 14-coefficient model) is not supported; "
            f"cameras with non-zero tilt: {', '.join(bad)}"
        )


def check_uv(uv_px, rig: CameraRig, name: str = "uv_px") -> np.ndarray:
    """``uv_px`` as float64 of shape (..., C, 2); NaN allowed (missing), inf rejected."""
    check_rig(rig)
    uv = np.asarray(uv_px, dtype=np.float64)
    if uv.ndim < 2 or uv.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (..., C, 2), got {uv.shape}")
    if uv.shape[-2] != len(rig):
        raise ValueError(
            f"{name} has {uv.shape[-2]} views on axis -2 but the rig has {len(rig)} cameras"
        )
    if np.isinf(uv).any():
        raise ValueError(f"{name} contains inf (use NaN for a missing observation)")
    return uv


def check_points(points_world_mm, name: str = "points_world_mm") -> np.ndarray:
    """``points`` as float64 of shape (..., 3); NaN allowed (propagates), inf rejected."""
    pts = np.asarray(points_world_mm, dtype=np.float64)
    if pts.ndim < 1 or pts.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (..., 3), got {pts.shape}")
    if np.isinf(pts).any():
        raise ValueError(f"{name} contains inf")
    return pts


def check_view_weights(weights, uv: np.ndarray, name: str = "weights") -> np.ndarray | None:
    """Per-view weights broadcast to ``uv.shape[:-1]``; finite and >= 0, NaN means 0."""
    if weights is None:
        return None
    w = np.asarray(weights, dtype=np.float64)
    try:
        w = np.broadcast_to(w, uv.shape[:-1])
    except ValueError:
        raise ValueError(
            f"{name} of shape {w.shape} does not broadcast to the views shape {uv.shape[:-1]}"
        ) from None
    if np.isinf(w).any():
        raise ValueError(f"{name} contains inf")
    if (w < 0).any():
        raise ValueError(f"{name} must be >= 0")
    return np.nan_to_num(w, nan=0.0)


def chunks(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``size`` covering ``range(n)``."""
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


#: Counts set by the open threads() contexts, oldest first, each in its own one-item list
#: so a context removes exactly its own entry (contexts in several threads may overlap).
_THREADS: list[list[int]] = []
_THREADS_LOCK = threading.Lock()


@contextmanager
def threads(n: int) -> Iterator[None]:
    """Run the blocks of the calls made inside (in any thread) on ``n`` threads; the
    default is one per available core. The compiled kernels start no threads of their
    own, so this is the only thread count; results do not depend on it. Where contexts
    overlap (nested, or open in several threads), the most recently opened one counts."""
    entry = [check_int(n, "n", 1)]
    with _THREADS_LOCK:
        _THREADS.append(entry)
    try:
        yield
    finally:
        with _THREADS_LOCK:
            del _THREADS[next(i for i, e in enumerate(_THREADS) if e is entry)]


def _n_workers() -> int:
    with _THREADS_LOCK:
        if _THREADS:
            return _THREADS[-1][0]
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


Progress = Callable[[int, int], None]


def for_each_chunk(
    fn: Callable[[slice], None], n: int, size: int, progress: Progress | None = None
) -> None:
    """Call ``fn(slice)`` for consecutive blocks of ``range(n)``.

    Blocks run on a small thread pool when there are several (see :func:`threads`):
    the compiled kernels of :mod:`triangulation._kernels` release the GIL, so blocks
    overlap on the cores.
    ``fn`` must write only into its own slice of preallocated outputs. ``progress(done,
    total)`` is called in the calling thread after each block, in order.
    """
    slices = list(chunks(n, size))
    workers = min(_n_workers(), len(slices))
    if workers <= 1:
        for sl in slices:
            fn(sl)
            if progress is not None:
                progress(sl.stop, n)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for sl, future in [(sl, pool.submit(fn, sl)) for sl in slices]:
            future.result()
            if progress is not None:
                progress(sl.stop, n)
