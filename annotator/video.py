"""Frames of video files, read frame-exactly: the video half of "an image of a camera".

A project made from videos (``annotator init --videos``) stores, for each (instant,
camera), a :class:`VideoFrame`: the video file, the frame's index in presentation order,
and its presentation timestamp (``pts``, found once at ``init``). Every reader of images
(:mod:`annotator.images`) accepts one where it accepts a path.

Decoding is PyAV's (FFmpeg's libraries in the wheel, H.264 included). OpenCV's
``CAP_PROP_POS_FRAMES`` seeks by a time computed from an assumed constant frame rate and
is not frame-exact on every stream; with PyAV we seek to the keyframe at or before the
frame's own timestamp and decode forward until that timestamp comes out, so frame k read
by seeking is frame k of a sequential decode (``tests/annotator/test_video.py`` checks it
for H.264, MPEG-4 part 2 and MJPEG). The timestamps are the sorted packet timestamps of
the stream, read by demuxing (no decoding) in :func:`probe_video`.

Reading many frames: :func:`read_video_frame` keeps open decoders ("cursors") per video in
a per-process pool. A request is served by the cursor that stands just before the frame
(decoding forward, the cost of a sequential read) and only seeks when none does, so
labelling a capture instant after instant decodes each camera's video in order, and two
threads reading the same camera at different places each keep their own cursor.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "VIDEO_SUFFIXES",
    "VideoFrame",
    "VideoInfo",
    "probe_video",
    "read_video_frame",
    "try_read_video_frame",
    "VideoWriter",
    "close_video_readers",
    "frame_to_bgr",
]

#: File suffixes taken for videos (what FFmpeg's demuxers in PyAV's wheel read).
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm")

#: Frames decoded forward before a seek is cheaper (a seek decodes from a keyframe anyway).
FORWARD_LIMIT = 64
#: Open decoders per video (one per thread that reads that camera at its own place).
CURSORS_PER_VIDEO = 3
#: Open decoders in all (env ``ANNOTATOR_VIDEO_DECODERS``): enough for every camera of a
#: 140-camera studio to keep its place while instants are read in order.
MAX_CURSORS = int(os.environ.get("ANNOTATOR_VIDEO_DECODERS", "192"))


@dataclass(frozen=True)
class VideoFrame:
    """One frame of a video file: ``index`` in presentation order, from 0.

    ``pts`` is the frame's presentation timestamp in the stream's time base when known
    (a project stores it at ``init``); without it the reader finds it by demuxing the file
    once per process.
    """

    video: Path
    index: int
    pts: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "video", Path(self.video))
        if int(self.index) < 0:
            raise ValueError(f"{self.video}: frame index must be >= 0, got {self.index}")
        object.__setattr__(self, "index", int(self.index))

    def __str__(self) -> str:
        return f"{self.video}#frame{self.index}"

    @property
    def name(self) -> str:
        """A file name for the frame written as an image (``<video stem>_frame<k>.jpg``)."""
        return f"{self.video.stem}_frame{self.index:06d}.jpg"


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` found: size, codec, frame count and every frame's pts."""

    path: Path
    width: int
    height: int
    codec: str
    frames: int
    pts: np.ndarray  # (frames,) int64, presentation order
    fps: float

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


def _import_av():
    try:
        import av
    except ImportError as exc:  # pragma: no cover - av is a dependency
        raise OSError(f"reading videos needs PyAV (pip install av): {exc}") from None
    av.logging.set_level(av.logging.PANIC)  # FFmpeg's own warnings are noise before ours
    return av


def _open(path: Path):
    """(container, video stream) or an OSError naming the file."""
    av = _import_av()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such video file")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, not a video")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise OSError(f"{path}: cannot open the video ({_why(exc)})") from None
    if not container.streams.video:
        container.close()
        raise OSError(f"{path}: has no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "SLICE"  # frame threading would delay every seek by its depth
    return container, stream


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.split("] ", 1)[-1]


def probe_video(path: str | Path) -> VideoInfo:
    """Size, codec and the pts of every frame (by demuxing, no decoding); OSError naming
    the file when it cannot be opened or holds no frame."""
    path = Path(path)
    container, stream = _open(path)
    try:
        stamps = []
        av = _import_av()
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue  # the demuxer's end-of-stream packet
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is not None:
                    stamps.append(ts)
        except av.FFmpegError as exc:
            raise OSError(f"{path}: cannot read the video ({_why(exc)})") from None
        ctx = stream.codec_context
        width, height = int(ctx.width), int(ctx.height)
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else 0.0
        codec = ctx.name
    finally:
        container.close()
    if not stamps:
        raise OSError(f"{path}: the video has no frames")
    pts = np.unique(np.asarray(stamps, np.int64))
    return VideoInfo(path, width, height, codec, int(pts.size), pts, fps)


def frame_to_bgr(frame, rgb: bool = False) -> np.ndarray:
    """(H, W, 3) uint8 BGR (RGB with ``rgb``) of a decoded PyAV frame.

    Limited-range 4:2:0 (what H.264 and MPEG-4 cameras write) is converted by OpenCV, which
    releases the GIL and takes 0.5 ms where FFmpeg's swscale takes 0.9 ms for a 512x334
    frame (BT.601, as the encoder's conversion); other formats go through swscale.
    """
    if frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0:
        import cv2

        code = cv2.COLOR_YUV2RGB_I420 if rgb else cv2.COLOR_YUV2BGR_I420
        return cv2.cvtColor(frame.to_ndarray(), code)
    return frame.to_ndarray(format="rgb24" if rgb else "bgr24")


class _Cursor:
    """An open decoder of one video and the index of the frame it decoded last."""

    def __init__(self, path: Path):
        self.path = path
        self.container, self.stream = _open(path)
        self.frames = None  # the decode iterator, positioned after ``last``
        self.last = -1  # index of the frame decoded last (-1: none yet, or after a seek)
        self.lock = threading.Lock()
        self.used = time.monotonic()

    def gap(self, index: int) -> int | None:
        """Frames to decode to reach ``index`` without seeking (None: it would need one)."""
        if self.frames is None or index <= self.last:
            return None
        return index - self.last

    def read(self, index: int, pts: int, rgb: bool = False) -> np.ndarray:
        av = _import_av()
        try:
            gap = self.gap(index)
            if gap is None or gap > FORWARD_LIMIT:
                self.container.seek(int(pts), stream=self.stream, backward=True, any_frame=False)
                self.frames = self.container.decode(self.stream)
                self.last = -1
            for frame in self.frames:
                ts = frame.pts if frame.pts is not None else frame.dts
                if ts is None or ts < pts:
                    continue
                if ts > pts:  # the seek landed after the frame: the file's index is wrong
                    break
                self.last = index
                return frame_to_bgr(frame, rgb)
        except av.FFmpegError as exc:
            self.frames, self.last = None, -1
            raise OSError(f"{self.path}: cannot decode frame {index} ({_why(exc)})") from None
        self.frames, self.last = None, -1
        raise OSError(f"{self.path}: frame {index} (pts {pts}) not found in the video")

    def close(self) -> None:
        self.frames = None
        self.container.close()


class _Pool:
    """Open cursors of this process, at most :data:`MAX_CURSORS`, least recently used
    closed first. A forked child starts its own (decoders are not shared across fork)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.cursors: OrderedDict[int, _Cursor] = OrderedDict()  # all, least recent first
        self.by_video: dict[Path, list[_Cursor]] = {}
        self.pts: dict[Path, np.ndarray] = {}

    def frame_pts(self, frame: VideoFrame) -> int:
        if frame.pts is not None:
            return int(frame.pts)
        with self.lock:
            table = self.pts.get(frame.video)
        if table is None:
            table = probe_video(frame.video).pts
            with self.lock:
                self.pts[frame.video] = table
        if frame.index >= table.size:
            raise OSError(
                f"{frame.video}: has {table.size} frames, frame {frame.index} was asked for"
            )
        return int(table[frame.index])

    def take(self, video: Path, index: int) -> _Cursor:
        """A cursor of ``video``, locked: the free one closest before ``index``, else a new
        one (up to :data:`CURSORS_PER_VIDEO`), else the least recently used one."""
        with self.lock:
            mine = self.by_video.get(video, [])
            free = [c for c in mine if not c.lock.locked()]
            ahead = [(c.gap(index), c) for c in free]
            ahead = [(g, c) for g, c in ahead if g is not None and g <= FORWARD_LIMIT]
            cursor = None
            if ahead:
                cursor = min(ahead, key=lambda gc: gc[0])[1]
            elif len(mine) >= CURSORS_PER_VIDEO:
                cursor = min(free or mine, key=lambda c: c.used)
            if cursor is not None:
                self.cursors.move_to_end(id(cursor))
        if cursor is None:
            cursor = _Cursor(video)  # opened outside the pool's lock (it reads the file)
            cursor.lock.acquire()
            with self.lock:
                self.cursors[id(cursor)] = cursor
                self.by_video.setdefault(video, []).append(cursor)
                self._evict()
        else:
            cursor.lock.acquire()  # waits only when every cursor of the video is busy
        cursor.used = time.monotonic()
        return cursor

    def _evict(self) -> None:
        while len(self.cursors) > MAX_CURSORS:
            for key, old in self.cursors.items():
                if not old.lock.locked():
                    del self.cursors[key]
                    self.by_video[old.path].remove(old)
                    old.close()
                    break
            else:
                return

    def close_all(self) -> None:
        with self.lock:
            for c in self.cursors.values():
                c.close()
            self.cursors.clear()
            self.by_video.clear()
            self.pts.clear()


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _the_pool() -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None or _pool.pid != os.getpid():
            _pool = _Pool()
        return _pool


def close_video_readers() -> None:
    """Close every open decoder of this process (tests; a long-lived app switching projects)."""
    _the_pool().close_all()


def read_video_frame(frame: VideoFrame, rgb: bool = False) -> np.ndarray:
    """(H, W, 3) uint8 BGR (``rgb``: RGB, one conversion instead of two) of ``frame``; an
    OSError naming the video and the frame."""
    pool = _the_pool()
    pts = pool.frame_pts(frame)
    cursor = pool.take(frame.video, frame.index)
    try:
        return np.ascontiguousarray(cursor.read(frame.index, pts, rgb))
    finally:
        cursor.lock.release()


def try_read_video_frame(frame: VideoFrame, rgb: bool = False) -> tuple[np.ndarray | None, str]:
    """(image, "") or (None, one line naming the video, the frame and why not)."""
    try:
        return read_video_frame(frame, rgb), ""
    except OSError as exc:
        return None, str(exc)


class VideoWriter:
    """Writes BGR frames to a video file with PyAV (H.264 by default, as studios record).

    ``codec``: ``"h264"`` (libx264, yuv420p, ``crf``), ``"mpeg4"`` (MPEG-4 part 2) or
    ``"mjpeg"`` (use an ``.avi`` file). Frames must all have the size given.
    """

    def __init__(self, path: str | Path, size: tuple[int, int], fps: float = 30.0,
                 codec: str = "h264", crf: int = 17, gop: int = 30):
        av = _import_av()
        from fractions import Fraction

        self.path = Path(path)
        self.size = (int(size[0]), int(size[1]))
        names = {"h264": "libx264", "mpeg4": "mpeg4", "mjpeg": "mjpeg"}
        if codec not in names:
            raise ValueError(f"codec must be one of {', '.join(names)}, got {codec!r}")
        options = {"crf": str(int(crf)), "preset": "veryfast"} if codec == "h264" else {}
        self._container = av.open(str(self.path), "w")
        rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream(names[codec], rate=rate, options=options)
        self._stream.width, self._stream.height = self.size
        self._stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        self._stream.gop_size = int(gop)
        if codec != "h264":  # intra-heavy codecs: a rate that keeps them near-lossless
            self._stream.bit_rate = int(3 * self.size[0] * self.size[1] * rate)
        self.frames = 0

    def write(self, bgr: np.ndarray) -> None:
        av = _import_av()
        if (bgr.shape[1], bgr.shape[0]) != self.size:
            raise ValueError(
                f"{self.path}: frame is {bgr.shape[1]}x{bgr.shape[0]}, the video "
                f"{self.size[0]}x{self.size[1]}"
            )
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr), format="bgr24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        if self._container is None:
            return
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        self._container = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
