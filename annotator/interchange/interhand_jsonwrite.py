"""Stream the InterHand2.6M data and joint_3d json of an export, block by block.

The text is exactly what ``json.dump(obj, fh, allow_nan=False)`` writes for the whole
object (same separators, float spelling and key order; the C encoder does each entry),
but only one block of entries exists as Python objects at a time. Files are written
atomically (temporary sibling, fsync, rename).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from annotator.interchange.image_names import relative_image_name
from annotator.interchange.interhand_export_rows import ExportRows
from annotator.interchange.interhand_layout import _is_int_str, _ordered
from annotator.interchange.interhand_records import (
    ANN_KEYS,
    FRAME_KEYS,
    HAND_TYPES,
    IMAGE_KEYS,
    JsonStyle,
)
from annotator.store.atomic import atomic_file

__all__ = ["write_data_json", "write_joint_3d_json", "file_names", "json_value", "is_clean"]

_BLOCK = 8192
_ENC = json.JSONEncoder(allow_nan=False)
_encode = _ENC.encode
# the encoder's own string escaping (ensure_ascii), C-accelerated where available
_encode_str = json.encoder.encode_basestring_ascii


def _valid_json(mask_row: np.ndarray, nested: bool, as_bool: bool, cache: dict) -> list:
    key = mask_row.tobytes()
    out = cache.get(key)
    if out is None:
        vals = [bool(v) if as_bool else int(v) for v in mask_row.tolist()]
        out = cache[key] = [[v] for v in vals] if nested else vals
    return out


def _flag(v: bool, as_bool: bool) -> bool | int:
    return bool(v) if as_bool else int(v)


def _flag_text(v: bool, as_bool: bool) -> str:
    return ("true" if v else "false") if as_bool else ("1" if v else "0")


def _valid_text(mask_row: np.ndarray, st: JsonStyle, cache: dict[bytes, str]) -> str:
    key = mask_row.tobytes()
    out = cache.get(key)
    if out is None:
        out = cache[key] = _encode(
            _valid_json(mask_row, st.image_valid_nested, st.image_valid_bool, {})
        )
    return out


def _str(s: str) -> str:
    return _encode_str(s)


def _val(v: str | int) -> str:
    """A capture/camera id as JSON text (an int, or an ASCII-escaped string)."""
    return _encode_str(v) if isinstance(v, str) else str(v)


def _floats(values: list[float]) -> str:
    """A list of finite floats (checked by the caller) as the encoder writes them."""
    return "[" + ", ".join(map(float.__repr__, values)) + "]"


def _key_order(known: tuple[str, ...], extra: dict, order: tuple[str, ...]) -> list[str]:
    """The key order :func:`.interhand_layout._ordered` gives."""
    out = [k for k in order if k in known or k in extra]
    out += [k for k in known if k not in out]
    out += [k for k in extra if k not in out]
    return out


def is_clean(p: str) -> bool:
    """Whether relative path ``p`` is already in the normal form os.path.relpath returns."""
    return not (
        p.startswith(("/", "./", "../"))
        or p in (".", "..")
        or "//" in p
        or "/./" in p
        or "/../" in p
        or p.endswith(("/", "/.", "/.."))
        or "\\" in p
    )


def file_names(
    paths: list[str | None],
    fallbacks: Callable[[int], str],
    root: Path,
    clean: list[bool] | None = None,
) -> list[str]:
    """Export file names of stored relative paths (``relative_image_name`` semantics).

    ``clean[k]``: path ``k`` is known to be in normal form already (else it is checked).
    """
    out = []
    for k, p in enumerate(paths):
        if p is not None and (clean[k] if clean is not None else is_clean(p)):
            out.append(p)
        else:
            out.append(relative_image_name(root / (p or ""), root, fallbacks(k)))
    return out


def _atomic_text(path: Path, write: Callable[[Any], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        write(fh)


def _write_list(fh, blocks: Iterator[list[str]]) -> None:
    fh.write("[")
    first = True
    for block in blocks:
        if not block:
            continue
        fh.write(("" if first else ", ") + ", ".join(block))
        first = False
    fh.write("]")


def write_data_json(
    path: Path,
    rows: ExportRows,
    *,
    style: JsonStyle,
    image_fields: Callable[[np.ndarray], tuple],
    image_extra: dict[str, dict],
    annotation_extra: dict[str, dict],
    data_extra: dict[str, Any],
    progress: Callable[[int, int], None] | None = None,
    after_block: Callable[[list[str], list], None] | None = None,
) -> None:
    """Write ``{"images": [...], "annotations": [...]}`` of ``rows`` to ``path``.

    ``after_block(file_names, source_paths)`` runs after each block of images is encoded.

    ``image_fields(sel)`` returns, for the images ``sel`` (indices into ``rows``), the
    lists file_name, width, height, capture (JSON value), subject, seq_name, camera
    (JSON value), frame_idx, and the images' source paths.
    """
    st = style
    n = rows.image_id.size
    image_default = tuple(st.image_keys) == IMAGE_KEYS
    ann_default = tuple(st.annotation_keys) == ANN_KEYS
    cache: dict[bytes, list] = {}
    text_cache: dict[bytes, str] = {}

    def images() -> Iterator[list[str]]:
        for lo in range(0, n, _BLOCK):
            sel = np.arange(lo, min(n, lo + _BLOCK))
            fields = image_fields(sel)
            names, width, height, capture, subject, seq, camera, frame, sources = fields
            ids = rows.image_id[sel].tolist()
            out = []
            for k, iid in enumerate(ids):
                extra = image_extra.get(str(iid)) if image_extra else None
                if image_default and not extra:
                    # the encoder's own text, spliced: ints, ASCII-escaped strings
                    out.append(
                        f'{{"id": {iid}, "file_name": {_str(names[k])}, "width": {width[k]}, '
                        f'"height": {height[k]}, "capture": {_val(capture[k])}, '
                        f'"subject": {subject[k]}, "seq_name": {_str(seq[k])}, '
                        f'"camera": {_val(camera[k])}, "frame_idx": {frame[k]}}}'
                    )
                    continue
                known = {
                    "id": iid,
                    "file_name": names[k],
                    "width": width[k],
                    "height": height[k],
                    "capture": capture[k],
                    "subject": subject[k],
                    "seq_name": seq[k],
                    "camera": camera[k],
                    "frame_idx": frame[k],
                }
                if extra or not image_default:
                    known = _ordered(known, extra or {}, st.image_keys)
                out.append(_encode(known))
            if after_block is not None:
                after_block(names, sources)
            if progress is not None:
                progress(lo + len(ids), 2 * n)
            yield out

    def annotations() -> Iterator[list[str]]:
        for lo in range(0, n, _BLOCK):
            hi = min(n, lo + _BLOCK)
            ids = rows.image_id[lo:hi].tolist()
            ann = rows.annotation_id[lo:hi].tolist()
            box_a = rows.bbox[lo:hi]
            finite = np.isfinite(box_a).all(axis=1)
            if not finite.all():
                bad = box_a[~finite][0].tolist()
                raise ValueError(f"Out of range float values are not JSON compliant: {bad}")
            box = box_a.tolist()
            jv = rows.joint_valid[lo:hi]
            ht = rows.hand_type[lo:hi].tolist()
            htv = rows.type_valid[lo:hi].tolist()
            out = []
            for k, iid in enumerate(ids):
                extra = annotation_extra.get(str(iid)) if annotation_extra else None
                if ann_default and not extra:
                    out.append(
                        f'{{"id": {ann[k]}, "image_id": {iid}, "bbox": {_floats(box[k])}, '
                        f'"joint_valid": {_valid_text(jv[k], st, text_cache)}, '
                        f'"hand_type": "{HAND_TYPES[ht[k]]}", '
                        f'"hand_type_valid": {_flag_text(htv[k], st.image_flag_bool)}}}'
                    )
                    continue
                known = {
                    "id": ann[k],
                    "image_id": iid,
                    "bbox": box[k],
                    "joint_valid": _valid_json(
                        jv[k], st.image_valid_nested, st.image_valid_bool, cache
                    ),
                    "hand_type": HAND_TYPES[ht[k]],
                    "hand_type_valid": _flag(htv[k], st.image_flag_bool),
                }
                if extra or not ann_default:
                    known = _ordered(known, extra or {}, st.annotation_keys)
                out.append(_encode(known))
            if progress is not None:
                progress(n + hi, 2 * n)
            yield out

    def write(fh) -> None:
        fh.write("{")
        keys = _key_order(("images", "annotations"), data_extra, tuple(st.data_keys))
        for k, key in enumerate(keys):
            fh.write(("" if k == 0 else ", ") + _encode(key) + ": ")
            if key == "images":
                _write_list(fh, images())
            elif key == "annotations":
                _write_list(fh, annotations())
            else:
                fh.write(_encode(data_extra[key]))
        fh.write("}")

    _atomic_text(path, write)


def write_joint_3d_json(
    path: Path,
    rows: ExportRows,
    *,
    style: JsonStyle,
    capture_out: list[str],
    frame_out: list[str],
    frame_extra: list[dict | None],
) -> None:
    """Write ``{capture: {frame: {...}}}``; frames grouped by capture in ``rows`` order.

    Per frame row m: ``capture_out[m]`` and ``frame_out[m]`` its keys, ``frame_extra[m]``
    keys the format does not define (or None).
    """
    st = style
    default = tuple(st.frame_keys) == FRAME_KEYS
    cache: dict[bytes, list] = {}

    def write(fh) -> None:
        fh.write("{")
        current = None
        for m in range(rows.frame_instant.size):
            cap = capture_out[m]
            if cap != current:
                fh.write(("" if current is None else "}, ") + _encode(cap) + ": {")
                sep = ""
                current = cap
            known = {
                "world_coord": rows.world_mm[m].tolist(),
                "joint_valid": _valid_json(
                    rows.frame_valid[m], st.frame_valid_nested, st.frame_valid_bool, cache
                ),
                "hand_type": HAND_TYPES[int(rows.frame_hand_type[m])],
                "hand_type_valid": _flag(bool(rows.frame_type_valid[m]), st.frame_flag_bool),
            }
            extra = frame_extra[m]
            if extra or not default:
                known = _ordered(known, extra or {}, st.frame_keys)
            fh.write(sep + _encode(frame_out[m]) + ": " + _encode(known))
            sep = ", "
        fh.write("}" if current is None else "}}")

    _atomic_text(path, write)


def json_value(name: str, as_int: bool) -> str | int:
    """A capture or camera id as the style writes it (an int where it is one)."""
    return int(name) if as_int and _is_int_str(name) else name
