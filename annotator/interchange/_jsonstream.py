"""Streaming reads of large JSON files with ijson (its C backend, yajl2_c, when installed).

:func:`stream_items` yields the entries under one prefix (``"images.item"``) without
holding the file in memory; :func:`stream_object_items` yields the (key, value) pairs of
the top-level object one at a time. Every JSON error (truncated, malformed, invalid UTF-8,
NaN or Infinity, which JSON does not allow) becomes a one-line
:class:`~annotator.interchange.InterchangeFormatError` naming the file and the line and
column, found from the bytes read so far and the text yajl quotes around the error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ijson

from annotator.interchange._jsonio import InterchangeFormatError

__all__ = ["stream_items", "stream_object_items", "BUF_SIZE", "backend_name"]

BUF_SIZE = 1 << 20
try:  # the C backend parses ~10x faster than the pure-Python one
    _IJSON = ijson.get_backend("yajl2_c")
except ImportError:  # pragma: no cover - wheels ship yajl2_c; source builds may not
    _IJSON = ijson


def backend_name() -> str:
    return getattr(_IJSON, "backend", "python")


class _CountingReader:
    """A binary file wrapper that remembers where the last chunk read started."""

    def __init__(self, fh):
        self._fh = fh
        self.pos = 0  # bytes handed out so far
        self.last = b""  # the last chunk (where a parse error lies)
        self.last_start = 0

    def read(self, n: int = -1) -> bytes:
        data = self._fh.read(n)
        # keep the chunk before the last too: yajl quotes up to 30 bytes before the error
        self.last = self.last[-64:] + data
        self.last_start = self.pos - (len(self.last) - len(data))
        self.pos += len(data)
        return data


_NON_JSON_NUMBER = re.compile(r"^-?(NaN|Infinity)")
_BLANKS = bytes.maketrans(b"\n\r\t", b"   ")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _locate(exc: Exception, reader: _CountingReader) -> tuple[int, str]:
    """(byte offset of the error, a short reason) from yajl's message and the last chunk."""
    msg = str(exc)
    lines = msg.split("\n")
    reason = lines[0].strip()
    offset = reader.pos  # default: where reading stopped (premature EOF lands here)
    if len(lines) >= 3 and "(right here)" in lines[2]:
        snippet_line, caret_line = lines[1], lines[2]
        caret = caret_line.index("^")
        text = snippet_line.lstrip(" ")
        pad = len(snippet_line) - len(text)
        text = text.rstrip(" ")
        at = caret - pad  # the error's position inside ``text``
        if text and 0 <= at <= len(text):
            # yajl prints line breaks and tabs in its quote as spaces
            window = reader.last.translate(_BLANKS)
            idx = window.rfind(text.encode("utf-8", "replace"))
            if idx >= 0:  # the caret sits just after the character yajl stopped at
                offset = reader.last_start + idx + max(0, at - 1)
            # yajl's caret sits on, or just after, the character it stopped at
            if any(_NON_JSON_NUMBER.match(text[max(0, a) :]) for a in (at, at - 1, at - 2)):
                reason = "contains NaN or inf, which JSON does not allow"
    return offset, reason


def _line_col(path: Path, offset: int) -> tuple[int, int]:
    """1-based line and column of byte ``offset`` (one read of the file up to it)."""
    line, last_nl, done = 1, -1, 0
    with open(path, "rb") as fh:
        while done < offset:
            chunk = fh.read(min(1 << 24, offset - done))
            if not chunk:
                break
            n = chunk.count(b"\n")
            if n:
                line += n
                last_nl = done + chunk.rindex(b"\n")
            done += len(chunk)
    return line, offset - last_nl


def _json_error(path: Path, what: str, exc: Exception, reader: _CountingReader):
    offset, reason = _locate(exc, reader)
    line, col = _line_col(path, offset)
    return InterchangeFormatError(
        f"{what} {path}: not valid JSON ({_one_line(reason)} at line {line} column {col})"
    )


def _open(path: Path, what: str):
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path}: no such file")
    return open(path, "rb")


def stream_items(
    path: str | os.PathLike[str], prefix: str, what: str, *, buf_size: int = BUF_SIZE
) -> Iterator[Any]:
    """Yield each JSON value under ``prefix`` (ijson syntax) of the file at ``path``.

    Numbers come as int or float (never Decimal). The whole file is parsed, so an error
    after the last item still raises. ``what`` names the file in errors ("data json").
    """
    p = Path(path)
    with _open(p, what) as fh:
        reader = _CountingReader(fh)
        try:
            yield from _IJSON.items(reader, prefix, use_float=True, buf_size=buf_size)
        except ijson.JSONError as exc:
            raise _json_error(p, what, exc, reader) from None
        except UnicodeDecodeError as exc:
            raise InterchangeFormatError(f"{what} {p}: not UTF-8 text ({exc.reason})") from None


def stream_object_items(
    path: str | os.PathLike[str], what: str, *, buf_size: int = BUF_SIZE
) -> Iterator[tuple[str, Any]]:
    """Yield the (key, value) pairs of the file's top-level object, one value at a time.

    A top-level value that is not an object is an error.
    """
    p = Path(path)
    with _open(p, what) as fh:
        reader = _CountingReader(fh)
        try:
            first = _first_event(reader)
            if first != "start_map":
                raise InterchangeFormatError(f"{what} {p}: expected a JSON object at the top level")
            fh.seek(0)
            reader = _CountingReader(fh)
            yield from _IJSON.kvitems(reader, "", use_float=True, buf_size=buf_size)
        except ijson.JSONError as exc:
            raise _json_error(p, what, exc, reader) from None
        except UnicodeDecodeError as exc:
            raise InterchangeFormatError(f"{what} {p}: not UTF-8 text ({exc.reason})") from None


def _first_event(reader: _CountingReader) -> str | None:
    for event, _ in _IJSON.basic_parse(reader, buf_size=4096):
        return event
    return None
