"""Instants, image paths and per-(instant, camera) / per-instant attributes of
:class:`~annotator.store.ProjectStore` (``frames.h5``).

A mixin, kept apart from ``store.py`` to keep each module readable; it relies on the
store's ``_frames``, ``_captures``, ``_camera_names``, ``_lookup``, ``camera_mask``,
``camera_index``, ``image_root`` and ``_need_write``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from annotator.store.errors import ProjectFormatError
from annotator.store.layout import CAMERAS_NAME
from annotator.store.paths import EncodedPaths, parse_video_locator
from annotator.store.records import Instant, InstantTable
from annotator.video import VideoFrame

__all__ = ["InstantsMixin", "VIDEO_PTS_ATTR"]

#: Per (instant, camera) pts of a video frame in its stream's time base, -1 for none
#: (``image_attrs/video_pts`` in frames.h5; found once by ``init --videos``).
VIDEO_PTS_ATTR = "video_pts"


class InstantsMixin:
    """Reading and appending instants and their attributes."""

    @property
    def num_instants(self) -> int:
        return self._frames.num_instants

    def _check_instant(self, i) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise ProjectFormatError(f"instant index must be an integer, got {i!r}")
        n = self.num_instants
        if not 0 <= int(i) < n:
            raise IndexError(f"{self.path}: instant index {i} out of range (project has {n})")
        return int(i)

    def instants(self) -> InstantTable:
        cols = self._frames.columns()
        seqs = np.asarray(self._frames.sequence_names(), dtype=object)
        caps = np.asarray(self._captures, dtype=object)
        return InstantTable(
            instant_id=cols["instant_id"],
            capture=caps[cols["capture"]].astype(str) if len(cols["capture"]) else np.empty(0, str),
            sequence=seqs[cols["sequence"]].astype(str)
            if len(cols["sequence"])
            else np.empty(0, str),
            frame=cols["frame"],
        )

    def instant(self, i: int) -> Instant:
        i = self._check_instant(i)
        iid, cap, seq, frame = self._frames.row(i)
        return Instant(i, iid, self._captures[cap], self._frames.sequence_names()[seq], frame)

    def find_instant(self, capture: str, sequence: str, frame: int) -> int:
        if self._lookup is None:
            t = self.instants()
            self._lookup = {
                (c, s, int(f)): k
                for k, (c, s, f) in enumerate(
                    zip(t.capture.tolist(), t.sequence.tolist(), t.frame.tolist(), strict=True)
                )
            }
        try:
            return self._lookup[(str(capture), str(sequence), int(frame))]
        except KeyError:
            raise KeyError(f"no instant ({capture!r}, {sequence!r}, frame {frame})") from None

    def image_paths(self, i: int) -> list[Path | VideoFrame | None]:
        """The C images of instant ``i``: a file path, or a :class:`~annotator.video.VideoFrame`
        in a project made from videos (None where that camera has no image). Every reader
        in :mod:`annotator.images` takes either."""
        i = self._check_instant(i)
        root = self.image_root
        paths = self._frames.paths(i)
        if not self.is_video_project:  # image files: no path is parsed for a video frame
            return [None if p is None else root / p for p in paths]
        pts = self._video_pts(i)
        out: list[Path | VideoFrame | None] = []
        for c, p in enumerate(paths):
            frame = None if p is None else parse_video_locator(p)
            if frame is None:
                out.append(None if p is None else root / p)
                continue
            stamp = int(pts[c]) if pts is not None and pts[c] >= 0 else None
            out.append(VideoFrame(root / frame[0], frame[1], stamp))
        return out

    def _video_pts(self, i: int) -> np.ndarray | None:
        """(C,) stored presentation timestamps of instant ``i``'s video frames (-1 = none)."""
        if VIDEO_PTS_ATTR not in self._frames.attr_names("image_attrs"):
            return None
        return self._frames.read_attr("image_attrs", VIDEO_PTS_ATTR, i)

    @property
    def is_video_project(self) -> bool:
        """True when the project's images are frames of video files (``init --videos``)."""
        return self.settings.get("source") == "video"

    def image_paths_encoded(self) -> EncodedPaths:
        """All image paths (relative to ``image_root``) as (F, C) template/number arrays:
        12 bytes per image instead of a string (see :class:`.frames.EncodedPaths`)."""
        return self._frames.encoded_paths()

    def image_path(self, i: int, camera: str | int) -> Path | None:
        return self.image_paths(i)[self.camera_index(camera)]

    def add_instants(
        self,
        capture: Sequence[str],
        sequence: Sequence[str],
        frame: Sequence[int],
        image_paths,
        instant_id: Sequence[int] | None = None,
    ) -> np.ndarray:
        """Append instants; returns their indices (F',).

        Args:
            capture, sequence, frame: (F',) per new instant; capture must be a project capture.
            image_paths: (F', C) str, relative to ``image_root``; "" where no image; or
                :class:`~annotator.store.frames.EncodedPaths` of shape (F', C).
            instant_id: (F',) int64 ids (default: continue after the largest id).
        """
        self._need_write()
        caps = [str(c) for c in capture]
        seqs = [str(s) for s in sequence]
        frames = np.asarray(frame)
        n = len(caps)
        C = len(self._camera_names)
        if len(seqs) != n or frames.shape != (n,):
            raise ProjectFormatError(
                f"add_instants: capture, sequence and frame lengths differ ({n}, {len(seqs)}, "
                f"{frames.shape})"
            )
        if frames.size and (frames.dtype.kind not in "iu"):
            raise ProjectFormatError("add_instants: frame numbers must be integers")
        encoded = isinstance(image_paths, EncodedPaths)
        paths = image_paths.template if encoded else np.asarray(image_paths, dtype=object)
        if paths.shape != (n, C) or (encoded and image_paths.number.shape != (n, C)):
            raise ProjectFormatError(
                f"add_instants: image_paths must be ({n}, {C}), got {paths.shape}"
            )
        cap_pos = {c: k for k, c in enumerate(self._captures)}
        unknown = sorted(set(caps) - set(cap_pos))
        if unknown:
            raise ProjectFormatError(
                f"add_instants: captures {unknown} have no calibration in "
                f"{self.path / CAMERAS_NAME}"
            )
        cap_idx = np.array([cap_pos[c] for c in caps], np.int16)
        if encoded:
            flat = image_paths
            has = image_paths.template >= 0
        else:
            flat = ["" if p is None else str(p) for p in paths.ravel().tolist()]
            has = np.array([bool(p) for p in flat], bool).reshape(n, C)
        masks = np.stack([self.camera_mask(c) for c in self._captures])
        bad = has & ~masks[cap_idx] if n else np.zeros((0, C), bool)
        if bad.any():
            f_bad, c_bad = np.argwhere(bad)[0]
            raise ProjectFormatError(
                f"add_instants: instant {f_bad} has an image for camera "
                f"{self._camera_names[c_bad]!r}, which capture {caps[f_bad]!r} lacks"
            )
        existing = self.instants()
        keys = set(
            zip(
                existing.capture.tolist(),
                existing.sequence.tolist(),
                existing.frame.tolist(),
                strict=True,
            )
        )
        new_keys = list(zip(caps, seqs, frames.tolist(), strict=True))
        dup = [k for k in new_keys if k in keys]
        if dup or len(set(new_keys)) != n:
            raise ProjectFormatError(f"add_instants: duplicate instant {(dup or new_keys)[0]}")
        if instant_id is None:
            start = int(existing.instant_id.max()) + 1 if len(existing) else 0
            ids = np.arange(start, start + n, dtype=np.int64)
        else:
            ids = np.asarray(instant_id, dtype=np.int64)
            if ids.shape != (n,):
                raise ProjectFormatError(f"add_instants: instant_id must be ({n},)")
        lo, hi = self._frames.append(ids, cap_idx, seqs, frames.astype(np.int64), flat)
        self._lookup = None
        return np.arange(lo, hi)

    def _check_attr(self, values, extra: tuple[int, ...], what: str) -> np.ndarray:
        arr = np.asarray(values)
        want = (self.num_instants, *extra)
        if arr.shape[: len(want)] != want:
            raise ProjectFormatError(
                f"{what}: values must have shape {want} + (...), got {arr.shape}"
            )
        return arr

    def set_image_attr(self, name: str, values) -> None:
        """Store a per-(instant, camera) array (F, C, ...) in frames.h5 (e.g. bbox, image_id)."""
        self._need_write()
        arr = self._check_attr(values, (len(self._camera_names),), f"set_image_attr({name!r})")
        self._frames.write_attr("image_attrs", name, arr)

    def image_attr(self, name: str, i: int | None = None) -> np.ndarray:
        return self._frames.read_attr(
            "image_attrs", name, None if i is None else self._check_instant(i)
        )

    def set_instant_attr(self, name: str, values) -> None:
        """Store a per-instant array (F, ...) in frames.h5 (e.g. subject)."""
        self._need_write()
        arr = self._check_attr(values, (), f"set_instant_attr({name!r})")
        self._frames.write_attr("instant_attrs", name, arr)

    def instant_attr(self, name: str, i: int | None = None) -> np.ndarray:
        return self._frames.read_attr(
            "instant_attrs", name, None if i is None else self._check_instant(i)
        )

    def image_attr_names(self) -> list[str]:
        return self._frames.attr_names("image_attrs")

    def instant_attr_names(self) -> list[str]:
        return self._frames.attr_names("instant_attrs")
