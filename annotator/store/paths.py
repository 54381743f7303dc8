"""Image paths as (template, number) pairs: 12 bytes per path instead of a string.

A path is ``prefix + zero-padded number + suffix`` where the number is the path's last run
of digits; ``cap/seq/cam400262/image0123.jpg`` becomes the template
(``cap/seq/cam400262/image``, 4 digits, ``.jpg``) plus 123. Templates repeat across
instants, so 2.6M paths need a handful of strings per camera. ``frames.h5`` stores paths
this way; the InterHand2.6M import and export move millions of them without ever making
the strings all at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = [
    "EncodedPaths",
    "PathEncoder",
    "encode_paths",
    "remap_paths",
    "VIDEO_FRAME_MARK",
    "video_locator",
    "parse_video_locator",
]

#: A stored path ``<video>#frame<k>`` is frame k of a video (a project made with
#: ``init --videos``); it encodes as the template ``<video>#frame`` plus the number k, so a
#: camera's video costs one template however many of its frames are instants.
VIDEO_FRAME_MARK = "#frame"


def video_locator(video: str, index: int) -> str:
    """The stored path of frame ``index`` of ``video`` (relative to the image root)."""
    return f"{video}{VIDEO_FRAME_MARK}{int(index)}"


def parse_video_locator(path: str) -> tuple[str, int] | None:
    """(video, frame index) of a stored video-frame path, None for an image path."""
    head, mark, tail = path.rpartition(VIDEO_FRAME_MARK)
    if not mark or not head or not tail.isdigit():
        return None
    return head, int(tail)

_PATH_RE = re.compile(r"^(.*\D)?(\d{1,18})(\D*)$", re.S)


def encode_paths(
    paths: Sequence[str], table: dict[tuple[str, int, str], int]
) -> tuple[np.ndarray, np.ndarray]:
    """Encode paths as (template index, number) pairs, growing ``table`` with new templates.

    Returns ``template (N,) int32`` (-1 for "" = no image) and ``number (N,) int64``
    (-1 when the template has no number).
    """
    n = len(paths)
    template = np.empty(n, dtype=np.int32)
    number = np.empty(n, dtype=np.int64)
    match = _PATH_RE.match
    for k, p in enumerate(paths):
        if not p:
            template[k] = -1
            number[k] = -1
            continue
        m = match(p)
        if m is None:
            key = (p, 0, "")
            number[k] = -1
        else:
            digits = m.group(2)
            key = (m.group(1) or "", len(digits), m.group(3))
            number[k] = int(digits)
        idx = table.get(key)
        if idx is None:
            idx = table[key] = len(table)
        template[k] = idx
    return template, number


@dataclass(frozen=True, eq=False)
class EncodedPaths:
    """Paths as (template, number) pairs: ``templates[t] = (prefix, width, suffix)``.

    ``template`` and ``number`` have any shape (e.g. (N,) or (F, C)); template -1 = no path.
    A cheap stand-in for millions of path strings (12 bytes each).
    """

    templates: list[tuple[str, int, str]]
    template: np.ndarray
    number: np.ndarray

    def decode(self, index) -> str | None:
        """The path at ``index`` of the template/number arrays (None for no path)."""
        t, n = int(self.template[index]), int(self.number[index])
        if t < 0:
            return None
        prefix, width, suffix = self.templates[t]
        return prefix + suffix if n < 0 else f"{prefix}{n:0{width}d}{suffix}"

    def decode_all(self, flat_indices: np.ndarray | None = None) -> list[str | None]:
        """Paths of ``template.ravel()[flat_indices]`` (all when None), as strings."""
        tmpl = self.template.ravel()
        num = self.number.ravel()
        if flat_indices is not None:
            tmpl, num = tmpl[flat_indices], num[flat_indices]
        fmts, plain = self._formats
        return [
            None if t < 0 else (plain[t] if n < 0 else fmts[t] % n)
            for t, n in zip(tmpl.tolist(), num.tolist(), strict=True)
        ]

    @cached_property
    def _formats(self) -> tuple[list[str], list[str]]:
        """Per template a ``%`` format (2x faster than an f-string with a width) and the
        number-less path."""
        fmts = [
            p.replace("%", "%%") + f"%0{w}d" + s.replace("%", "%%") for p, w, s in self.templates
        ]
        return fmts, [p + s for p, _, s in self.templates]


class PathEncoder:
    """Encodes blocks of path strings against one growing template table."""

    def __init__(self) -> None:
        self.table: dict[tuple[str, int, str], int] = {}

    def encode(self, paths: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        return encode_paths(paths, self.table)

    def encoded(self, template: np.ndarray, number: np.ndarray) -> EncodedPaths:
        return EncodedPaths(list(self.table), template, number)


def remap_paths(paths: EncodedPaths, table: dict[tuple[str, int, str], int]):
    """(template, number) of ``paths`` re-indexed into ``table`` (grown with new templates)."""
    lut = np.empty(len(paths.templates) + 1, np.int32)
    lut[-1] = -1  # template -1 (no image) indexes the last slot
    for k, key in enumerate(paths.templates):
        idx = table.get(key)
        if idx is None:
            idx = table[key] = len(table)
        lut[k] = idx
    template = lut[np.asarray(paths.template, np.int64).ravel()]
    return template, np.asarray(paths.number, np.int64).ravel()
