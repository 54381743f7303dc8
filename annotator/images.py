"""Image files and image-plane maps: the one torch-free home of both for every package.

Reading: one clear reason when a file cannot be read, and no OpenCV noise. Wherever a path
is taken, a :class:`~annotator.video.VideoFrame` (a frame of a video file) is too.

``cv2.imread`` writes to stderr on its own: ``[ WARN] … findDecoder imread_(…)`` for a
missing file (OpenCV's logger) and libjpeg's ``Premature end of JPEG file`` for a truncated
one (which it then decodes half grey). A command's one-line error came after such lines.
Here files are read as bytes and decoded with ``cv2.imdecode``; a JPEG without its
end-of-image marker is refused before libjpeg sees it, and OpenCV's logger is set to errors
only (:func:`quiet_opencv`; the setter moved between OpenCV 4 and 5).
:func:`read_image_bgr` raises an OSError naming the file; :func:`try_read_image_bgr` returns
the same line instead (the app, the labeller: a bad view is skipped, not fatal).

Maps: crops are (2, 3) affines from image pixels to crop pixels (pixel centres at integers,
the top-left one at (0, 0), ``docs/formats.md``); :func:`invert_affine` and
:func:`apply_affine` serve the labeller's and InterNet's crops alike.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from annotator.video import VideoFrame, read_video_frame, try_read_video_frame

__all__ = [
    "quiet_opencv",
    "decode_image_bgr",
    "read_image_bgr",
    "try_read_image_bgr",
    "read_image_rgb",
    "try_read_image_rgb",
    "invert_affine",
    "apply_affine",
]

_JPEG_START = b"\xff\xd8"
_JPEG_END = b"\xff\xd9"
#: Bytes at the end of a JPEG searched for its end marker (some writers pad after it).
_JPEG_TAIL = 4096


def quiet_opencv() -> None:
    """OpenCV's logger to errors only (its warnings are noise ahead of our own message)."""
    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_api is not None and hasattr(logging_api, "setLogLevel"):
        logging_api.setLogLevel(logging_api.LOG_LEVEL_ERROR)  # OpenCV >= 4.5, 5.x
    elif hasattr(cv2, "setLogLevel"):  # older OpenCV 4: levels 0 silent ... 2 error
        cv2.setLogLevel(2)


quiet_opencv()


def decode_image_bgr(data: np.ndarray | bytes, flags: int = cv2.IMREAD_COLOR
                     ) -> tuple[np.ndarray | None, str]:
    """(decoded image, "") or (None, why not) for the bytes of an image file."""
    buf = np.frombuffer(data, np.uint8) if isinstance(data, bytes) else np.asarray(data, np.uint8)
    if buf.size == 0:
        return None, "empty file"
    head = buf[:2].tobytes()
    if head == _JPEG_START and _JPEG_END not in buf[-_JPEG_TAIL:].tobytes():
        return None, "corrupt or truncated JPEG (no end-of-image marker)"
    try:
        image = cv2.imdecode(buf, flags)
    except cv2.error:
        image = None
    if image is None:
        return None, "corrupt or not an image"
    return image, ""


def try_read_image_bgr(
    path: str | Path | VideoFrame | None, flags: int = cv2.IMREAD_COLOR
) -> tuple[np.ndarray | None, str]:
    """(image, "") or (None, one line naming the file and why it cannot be read).

    ``path`` None (no image for a camera at an instant) is ``(None, "")``; a
    :class:`~annotator.video.VideoFrame` is decoded from its video.
    """
    if path is None:
        return None, ""
    if isinstance(path, VideoFrame):
        image, why = try_read_video_frame(path)
        if image is not None and flags == cv2.IMREAD_GRAYSCALE:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        return image, why
    p = Path(path)
    if p.is_dir():
        return None, f"{p}: is a folder, not an image"
    try:
        data = np.fromfile(p, dtype=np.uint8)
    except FileNotFoundError:
        return None, f"{p}: no such image file"
    except OSError as exc:
        return None, f"{p}: cannot read the image ({exc.strerror or exc})"
    image, why = decode_image_bgr(data, flags)
    if image is None:
        return None, f"{p}: cannot read the image ({why})"
    return np.ascontiguousarray(image), ""


def read_image_bgr(path: str | Path | VideoFrame, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """The image at ``path`` (BGR, as OpenCV); an OSError naming the file and the problem
    (FileNotFoundError, IsADirectoryError for those cases)."""
    image, why = try_read_image_bgr(path, flags)
    if image is not None:
        return image
    if why.endswith((": no such image file", ": no such video file")):
        raise FileNotFoundError(why)
    if why.endswith(": is a folder, not an image"):
        raise IsADirectoryError(why)
    raise OSError(why)


def read_image_rgb(path: str | Path | VideoFrame) -> np.ndarray:
    """(H, W, 3) uint8 RGB; a missing or unreadable file is an OSError naming it."""
    if isinstance(path, VideoFrame):
        return read_video_frame(path, rgb=True)
    return cv2.cvtColor(read_image_bgr(path), cv2.COLOR_BGR2RGB)


def try_read_image_rgb(path: str | Path | VideoFrame | None) -> tuple[np.ndarray | None, str]:
    """(H, W, 3) uint8 RGB and "", or (None, why not) as :func:`try_read_image_bgr`; a video
    frame is converted to RGB once, from its YUV planes."""
    if isinstance(path, VideoFrame):
        return try_read_video_frame(path, rgb=True)
    image, why = try_read_image_bgr(path)
    return (None, why) if image is None else (cv2.cvtColor(image, cv2.COLOR_BGR2RGB), "")


def invert_affine(affine: np.ndarray) -> np.ndarray:
    """The (2, 3) inverse of a (2, 3) affine."""
    m = np.vstack([np.asarray(affine, dtype=np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(m)[:2]


def apply_affine(affine: np.ndarray, uv) -> np.ndarray:
    """(..., 2) points through a (2, 3) affine (NaN stays NaN)."""
    a = np.asarray(affine, dtype=np.float64)
    p = np.asarray(uv, dtype=np.float64)
    return p @ a[:, :2].T + a[:, 2]
