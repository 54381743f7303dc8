"""Frames of a video project written out as image files, for exports.

InterHand2.6M's loaders and COCO tools read image files. A project made from videos
(``init --videos``) holds none, so an export decodes the frames it exports and writes them
as JPEG files named like a capture's images, ``<capture>/<sequence>/cam<camera>/
image<frame>.jpg`` (frame = the instant's capture frame number).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2

from annotator.store.atomic import temp_sibling
from annotator.video import VideoFrame, read_video_frame

__all__ = ["JPEG_QUALITY", "frame_file_name", "write_frame_jpeg"]

#: Quality of exported frames (high: the frame was already lossy once, in the video).
JPEG_QUALITY = 95


def frame_file_name(capture: str, sequence: str, camera: str, frame: int) -> str:
    """The export file name of an instant's frame of a camera (POSIX, relative)."""
    return f"{capture}/{sequence or 'sequence'}/cam{camera}/image{int(frame):05d}.jpg"


def write_frame_jpeg(frame: VideoFrame, dst: str | os.PathLike[str],
                     quality: int = JPEG_QUALITY) -> None:
    """Decode ``frame`` and write it at ``dst`` as a JPEG (atomically: no half file)."""
    image = read_video_frame(frame)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise OSError(f"{dst}: could not encode {frame} as JPEG")
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(dst)
    try:
        tmp.write_bytes(data.tobytes())
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
