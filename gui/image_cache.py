"""Decoded images: an LRU cache filled by a small thread pool, with neighbour prefetch.

Images are decoded with OpenCV (which releases the GIL) into BGR ``uint8`` arrays; the
panel wraps them in a ``QImage`` without copying. A failed read never raises: the
:class:`LoadedImage` carries the reason, shown in the panel as a placeholder.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["LoadedImage", "ImageCache", "decode_image", "shrink_for_display"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image or the reason there is none.

    Attributes:
        path: the file, or the :class:`~annotator.video.VideoFrame` of a video project
            (None: the project has no image for that camera and instant).
        bgr: (H, W, 3) uint8 C-contiguous, or None.
        error: one line saying why ``bgr`` is None ("" when it is not).
    """

    path: Path | None
    bgr: np.ndarray | None
    error: str = ""

    @property
    def nbytes(self) -> int:
        return 0 if self.bgr is None else int(self.bgr.nbytes)


def decode_image(path: Path | str | None) -> LoadedImage:
    """Read one image file; never raises for a missing, unreadable or corrupt file."""
    from annotator.images import try_read_image_bgr

    if path is None:
        return LoadedImage(None, None, "no image for this camera at this instant")
    bgr, why = try_read_image_bgr(path)
    return LoadedImage(path if hasattr(path, "video") else Path(path), bgr, why)


def shrink_for_display(bgr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) BGR -> (h, w, 4) BGRA (``QImage.Format_RGB32`` bytes) at ``size`` (w, h).

    Area averaging (the right filter for shrinking) in OpenCV, which is faster than Qt's
    smooth scaling and runs in the prefetch threads without the GIL; the 4-byte layout is
    what the screen surface uses, so drawing it is a plain copy.
    """
    import cv2

    w, h = int(size[0]), int(size[1])
    if w < 1 or h < 1:
        raise ValueError(f"display size must be positive, got {size}")
    small = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2BGRA)


class ImageCache:
    """LRU of decoded images bounded in bytes; ``prefetch`` decodes in background threads.

    Thread-safe. ``get`` returns at once for a cached image, waits for one being decoded,
    and decodes in the calling thread otherwise.
    """

    def __init__(self, max_bytes: int = 384 << 20, workers: int | None = None):
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        n = workers if workers is not None else min(4, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(max_workers=max(1, n), thread_name_prefix="decode")
        self._lock = threading.Lock()
        self._items: OrderedDict[str, LoadedImage] = OrderedDict()
        self._pending: dict[str, Future] = {}
        self._bytes = 0
        # Display-size copies (see shrink_for_display), keyed by (path, w, h); small LRU.
        self._shrunk: OrderedDict[tuple[str, int, int], np.ndarray] = OrderedDict()
        self.max_shrunk = 48
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _key(path: Path | str | None) -> str:
        return "" if path is None else str(path)  # a path, or a video's "<file>#frame<k>"

    def _store(self, key: str, img: LoadedImage) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = img
            self._bytes += img.nbytes
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes

    def _cached_or_decoded(self, key: str, path: Path | str | None) -> LoadedImage:
        """The cached image under ``key``, else ``path`` decoded (and cached if it exists)."""
        with self._lock:
            img = self._items.get(key)
        if img is None:
            img = decode_image(path)
            # Missing files are not cached: the user may copy them in and look again.
            if img.bgr is not None:
                self._store(key, img)
        return img

    def _decode_and_store(self, path: Path | str | None) -> LoadedImage:
        key = self._key(path)
        try:
            return self._cached_or_decoded(key, path)
        finally:
            with self._lock:
                self._pending.pop(key, None)

    def get(self, path: Path | str | None) -> LoadedImage:
        """The decoded image at ``path`` (blocking)."""
        if path is None:
            return decode_image(None)
        key = self._key(path)
        with self._lock:
            img = self._items.get(key)
            if img is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return img
            fut = self._pending.get(key)
            self.misses += 1
        if fut is not None:
            fut.result()
            with self._lock:
                img = self._items.get(key)
            if img is not None:
                return img
        return self._decode_and_store(path)

    def contains(self, path: Path | str | None) -> bool:
        with self._lock:
            return self._key(path) in self._items

    def prefetch(self, paths: Iterable[Path | str | None]) -> int:
        """Queue the decoding of ``paths`` not cached or queued yet; returns how many."""
        n = 0
        for path in paths:
            if path is None:
                continue
            key = self._key(path)
            with self._lock:
                if key in self._items or key in self._pending:
                    continue
                fut = self._pool.submit(self._decode_and_store, path)
                self._pending[key] = fut
            n += 1
        return n

    def shrunk(self, path: Path | str | None, size: tuple[int, int]) -> np.ndarray | None:
        """The display-size BGRA copy of ``path`` at ``size`` (w, h) if prepared, else None."""
        key = (self._key(path), int(size[0]), int(size[1]))
        with self._lock:
            arr = self._shrunk.get(key)
            if arr is not None:
                self._shrunk.move_to_end(key)
            return arr

    def put_shrunk(self, path: Path | str | None, size: tuple[int, int], arr: np.ndarray) -> None:
        key = (self._key(path), int(size[0]), int(size[1]))
        with self._lock:
            self._shrunk[key] = arr
            self._shrunk.move_to_end(key)
            while len(self._shrunk) > self.max_shrunk:
                self._shrunk.popitem(last=False)

    @staticmethod
    def _display_key(key: str, size: tuple[int, int]) -> str:
        # its own pending entry per size: a request after a resize is not dropped because
        # a job for the old size is still queued
        return f"{key}@{int(size[0])}x{int(size[1])}"

    def _prepare(self, path, size) -> None:
        key = self._key(path)
        try:
            img = self._cached_or_decoded(key, path)
            if img.bgr is not None:
                self.put_shrunk(path, size, shrink_for_display(img.bgr, size))
        finally:
            with self._lock:
                self._pending.pop(self._display_key(key, size), None)

    def prefetch_display(self, items: Iterable[tuple[Path | str | None, tuple[int, int]]]
                         ) -> int:
        """Queue decoding and shrinking to display size of ``(path, (w, h))`` items."""
        n = 0
        for path, size in items:
            if path is None or self.shrunk(path, size) is not None:
                continue
            key = self._display_key(self._key(path), size)
            with self._lock:
                if key in self._pending:
                    continue
                self._pending[key] = self._pool.submit(self._prepare, path, size)
            n += 1
        return n

    def wait_idle(self, timeout: float | None = None) -> None:
        """Block until every queued prefetch has finished (tests, benchmarks)."""
        with self._lock:
            futs = list(self._pending.values())
        for f in futs:
            f.result(timeout=timeout)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._shrunk.clear()
            self._bytes = 0

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
