"""Small JSON helpers shared by the dataset importers and exporters.

Reading turns every failure (missing file, malformed or truncated JSON, wrong types) into a
one-line :class:`InterchangeFormatError` naming the file; writing is atomic (temporary file,
fsync, ``os.replace``) so an interrupted export never leaves a half-written JSON behind.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from annotator.store.atomic import atomic_file

__all__ = [
    "InterchangeFormatError",
    "load_json",
    "write_json_atomic",
    "write_text_atomic",
    "as_int",
    "as_str",
    "as_flag",
    "as_finite_floats",
]


class InterchangeFormatError(ValueError):
    """A dataset file is malformed: the message names the file and the problem (one line)."""


def load_json(path: str | os.PathLike[str], what: str) -> Any:
    """Parse the JSON file at ``path``; ``what`` names it in errors (e.g. "data json")."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} {p}: no such file")
    try:
        with p.open("rb") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        # JSONDecodeError carries line/column: enough to find a truncation or a stray comma.
        raise InterchangeFormatError(
            f"{what} {p}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except UnicodeDecodeError as exc:
        raise InterchangeFormatError(f"{what} {p}: not UTF-8 text ({exc.reason})") from None


def _atomic_write(path: Path, write) -> None:
    # Streamed into the store's atomic temp-file-then-replace, so a multi-GB split never
    # has to exist as one string in memory.
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        write(fh)


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as JSON (NaN/inf refused: the public loaders cannot read them)."""
    _atomic_write(Path(path), lambda fh: json.dump(obj, fh, allow_nan=False))


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    _atomic_write(Path(path), lambda fh: fh.write(text))


def _fail(where: str, msg: str) -> InterchangeFormatError:
    return InterchangeFormatError(f"{where}: {msg}")


def as_int(value: Any, where: str) -> int:
    """``value`` as an int; bools and non-integral numbers are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, f"expected an integer, got {value!r}")
    return value


def as_str(value: Any, where: str, *, allow_int: bool = False) -> str:
    """``value`` as a non-empty string (ints accepted and converted when ``allow_int``)."""
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise _fail(where, f"expected a non-empty string, got {value!r}")
    return value


def as_flag(value: Any, where: str) -> bool:
    """A 0/1 or true/false flag."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise _fail(where, f"expected 0/1 or true/false, got {value!r}")


def as_finite_floats(value: Any, n: int, where: str) -> list[float]:
    """A flat list of ``n`` finite numbers."""
    if not isinstance(value, list) or len(value) != n:
        got = f"{len(value)} values" if isinstance(value, list) else repr(value)[:40]
        raise _fail(where, f"expected a list of {n} numbers, got {got}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise _fail(where, f"expected numbers, got {v!r}")
        if not math.isfinite(v):
            raise _fail(where, f"contains NaN or inf ({v!r})")
        out.append(float(v))
    return out
