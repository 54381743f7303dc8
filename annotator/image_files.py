"""Reading image files with one clear reason when they cannot be read, and no OpenCV noise.

``cv2.imread`` writes to stderr on its own: ``[ WARN] … findDecoder imread_(…)`` for a
missing file (OpenCV's logger) and libjpeg's ``Premature end of JPEG file`` for a truncated
one (which it then decodes half grey). A command's one-line error came after such lines.
Here files are read as bytes and decoded with ``cv2.imdecode``; a JPEG without its
end-of-image marker is refused before libjpeg sees it, and OpenCV's logger is set to errors
only (:func:`quiet_opencv`; the setter moved between OpenCV 4 and 5).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

__all__ = ["quiet_opencv", "decode_image_bgr", "read_image_bgr"]

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


def read_image_bgr(path: str | Path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """The image at ``path`` (BGR, as OpenCV); an OSError naming the file and the problem."""
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(f"{p}: is a folder, not an image")
    try:
        data = np.fromfile(p, dtype=np.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"{p}: no such image file") from None
    except OSError as exc:
        raise OSError(f"{p}: cannot read the image ({exc.strerror or exc})") from None
    image, why = decode_image_bgr(data, flags)
    if image is None:
        raise OSError(f"{p}: cannot read the image ({why})")
    return image
