"""``frames.h5``: the instant index and the image path of every (instant, camera).

Layout (schema 1)::

    instant_id (F,) int64     capture (F,) int16 -> captures (project.toml / cameras.toml)
    sequence (F,) int32 -> sequence_names (S,) str      frame (F,) int64
    image_template (F, C) int32 -> path_prefix / path_suffix / path_width (T,), -1 = no image
    image_number (F, C) int64   the number substituted into the template, -1 = none
    image_attrs/<name> (F, C, ...)     instant_attrs/<name> (F, ...)

A path is stored as ``prefix + zero-padded number + suffix`` where the number is the
path's last run of digits; ``cap/seq/cam400262/image0123.jpg`` becomes the template
(``cap/seq/cam400262/image``, 4 digits, ``.jpg``) plus 123. Templates repeat across instants,
so 2.6M paths cost 12 bytes each before compression and a handful of strings per camera.
All (F, ...) datasets are chunked along F so one instant is one small chunk read.

Edits go to a working copy (a sibling temporary file). ``ProjectStore.save()`` closes and
fsyncs it (:meth:`FramesIndex.stage`) and moves it over ``frames.h5`` together with the
other changed files in one journaled commit (:func:`annotator.store.atomic.commit_files`);
a killed writer leaves the old index untouched, or a journal that completes the new one.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from annotator.store.atomic import fsync_path, temp_sibling
from annotator.store.errors import ProjectFormatError
from annotator.store.layout import FRAMES_NAME
from annotator.store.paths import EncodedPaths, PathEncoder, encode_paths, remap_paths

__all__ = ["FramesIndex", "encode_paths", "EncodedPaths", "PathEncoder", "FRAMES_NAME"]

logger = logging.getLogger(__name__)

_STR = h5py.string_dtype()
_ATTR_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COLUMNS = ("instant_id", "capture", "sequence", "frame")


def _chunk_rows(row_cells: int) -> int:
    """Rows per chunk so a chunk is roughly 8k cells (one instant = one small chunk)."""
    return int(max(16, 8192 // max(1, row_cells)))


def _fill_value(dtype: np.dtype):
    if dtype.kind == "f":
        return np.nan
    if dtype.kind in "iu":
        return -1 if dtype.kind == "i" else 0
    if dtype.kind == "b":
        return False
    return None


class FramesIndex:
    """Lazy reader (and, in write mode, appender) of ``frames.h5``."""

    def __init__(self, path: Path, num_cameras: int, writable: bool):
        self.path = Path(path)
        self.num_cameras = int(num_cameras)
        self.writable = writable
        self._h5: h5py.File | None = None
        self._working: Path | None = None
        self._columns: dict[str, np.ndarray] | None = None
        self._templates: tuple[list[str], list[int], list[str]] | None = None
        self._template_table: dict[tuple[str, int, str], int] | None = None
        self._sequence_names: list[str] | None = None
        self._attr_cache: dict[tuple[str, str], np.ndarray | None] = {}
        self._num_instants: int | None = None

    # -- file handling -------------------------------------------------------------------
    @staticmethod
    def create_empty(path: Path, num_cameras: int) -> None:
        """Write an empty index file at ``path`` (caller makes it atomic)."""
        rows = _chunk_rows(num_cameras)
        with h5py.File(path, "w", libver="latest") as f:
            f.attrs["schema_version"] = 1
            f.attrs["num_cameras"] = num_cameras
            for name, dtype in (
                ("instant_id", "i8"),
                ("capture", "i2"),
                ("sequence", "i4"),
                ("frame", "i8"),
            ):
                f.create_dataset(name, (0,), dtype=dtype, maxshape=(None,), chunks=(4096,))
            for name, dtype in (("image_template", "i4"), ("image_number", "i8")):
                f.create_dataset(
                    name,
                    (0, num_cameras),
                    dtype=dtype,
                    maxshape=(None, num_cameras),
                    chunks=(rows, num_cameras),
                    compression="lzf",
                    shuffle=True,
                    fillvalue=-1,
                )
            for name, dtype in (
                ("path_prefix", _STR),
                ("path_suffix", _STR),
                ("path_width", "i1"),
                ("sequence_names", _STR),
            ):
                f.create_dataset(name, (0,), dtype=dtype, maxshape=(None,), chunks=(1024,))
            f.create_group("image_attrs")
            f.create_group("instant_attrs")
            f.attrs["num_images"] = 0

    @property
    def h5(self) -> h5py.File:
        if self._h5 is None:
            try:
                self._h5 = h5py.File(self.path, "r")
            except (OSError, FileNotFoundError) as exc:
                raise ProjectFormatError(
                    f"{self.path}: cannot read the frame index ({exc})"
                ) from None
            self._check(self._h5)
        return self._h5

    def _check(self, f: h5py.File) -> None:
        missing = [
            n for n in (*_COLUMNS, "image_template", "image_number", "path_prefix") if n not in f
        ]
        if missing:
            raise ProjectFormatError(
                f"{self.path}: not a frame index (missing {', '.join(missing)})"
            )
        c = f["image_template"].shape[1]
        if c != self.num_cameras:
            raise ProjectFormatError(
                f"{self.path}: frame index has {c} cameras, cameras.toml has {self.num_cameras}"
            )

    def _writable_h5(self) -> h5py.File:
        """Open (once per save cycle) the working copy that edits go to."""
        if not self.writable:
            raise ProjectFormatError(f"{self.path}: opened read-only")
        if self._working is None:
            src = self.h5
            src.close()
            self._h5 = None
            tmp = temp_sibling(self.path)
            shutil.copyfile(self.path, tmp)
            self._working = tmp
            self._h5 = h5py.File(tmp, "r+")
        return self._h5

    @property
    def dirty(self) -> bool:
        return self._working is not None

    def stage(self) -> Path | None:
        """Close and fsync the working copy; returns it (None without edits).

        The caller then moves it over :attr:`path` and calls :meth:`committed`, or calls
        :meth:`unstage` to keep editing.
        """
        if self._working is None:
            return None
        if self._h5 is not None:
            self._h5.flush()
            self._h5.close()
            self._h5 = None
        fsync_path(self._working)
        return self._working

    def unstage(self) -> None:
        """Reopen a staged working copy for further edits (its commit did not happen)."""
        if self._working is not None and self._h5 is None:
            self._h5 = h5py.File(self._working, "r+")

    def committed(self) -> None:
        """The staged working copy is now :attr:`path`; read from there from now on."""
        self._working = None
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def forget_working(self) -> None:
        """Close without deleting the working copy (a pending commit journal names it)."""
        self.committed()

    def discard(self) -> None:
        """Drop uncommitted edits."""
        if self._working is not None:
            if self._h5 is not None:
                self._h5.close()
            self._h5 = None
            with contextlib.suppress(OSError):
                self._working.unlink()
            self._working = None
            self._invalidate()

    def close(self) -> None:
        self.discard()
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def _invalidate(self) -> None:
        self._num_instants = None
        self._attr_cache = {}
        self._columns = None
        self._templates = None
        self._template_table = None
        self._sequence_names = None

    # -- reading -------------------------------------------------------------------------
    @property
    def num_instants(self) -> int:
        # cached: checked on every per-instant lookup; only appends and discards change it
        n = self._num_instants
        if n is None:
            n = self._num_instants = int(self.h5["instant_id"].shape[0])
        return n

    @property
    def num_images(self) -> int:
        return int(self.h5.attrs.get("num_images", 0))

    def sequence_names(self) -> list[str]:
        if self._sequence_names is None:
            self._sequence_names = list(self.h5["sequence_names"].asstr()[...])
        return self._sequence_names

    def columns(self) -> dict[str, np.ndarray]:
        """instant_id, capture (int index), sequence (int index), frame: (F,) arrays."""
        if self._columns is None:
            self._columns = {name: self.h5[name][...] for name in _COLUMNS}
        return self._columns

    def row(self, i: int) -> tuple[int, int, int, int]:
        """(instant_id, capture index, sequence index, frame) of instant ``i``."""
        if self._columns is not None:
            c = self._columns
            return (
                int(c["instant_id"][i]),
                int(c["capture"][i]),
                int(c["sequence"][i]),
                int(c["frame"][i]),
            )
        f = self.h5
        return tuple(int(f[name][i]) for name in _COLUMNS)  # type: ignore[return-value]

    def _template_lists(self) -> tuple[list[str], list[int], list[str]]:
        if self._templates is None:
            f = self.h5
            self._templates = (
                list(f["path_prefix"].asstr()[...]),
                f["path_width"][...].astype(np.int64).tolist(),
                list(f["path_suffix"].asstr()[...]),
            )
        return self._templates

    def paths(self, i: int) -> list[str | None]:
        """The C relative image paths of instant ``i`` (None where there is no image)."""
        f = self.h5
        tmpl = f["image_template"][i]
        num = f["image_number"][i]
        prefix, width, suffix = self._template_lists()
        out: list[str | None] = []
        for t, n in zip(tmpl.tolist(), num.tolist(), strict=True):
            if t < 0:
                out.append(None)
            elif n < 0:
                out.append(prefix[t] + suffix[t])
            else:
                out.append(f"{prefix[t]}{n:0{width[t]}d}{suffix[t]}")
        return out

    def encoded_paths(self) -> EncodedPaths:
        """Every (instant, camera) path, encoded: template/number arrays of shape (F, C)."""
        prefix, width, suffix = self._template_lists()
        return EncodedPaths(
            list(zip(prefix, width, suffix, strict=True)),
            self.h5["image_template"][...],
            self.h5["image_number"][...],
        )

    def has_image(self) -> np.ndarray:
        """(F, C) bool: which cells have an image (reads the whole template column)."""
        return self.h5["image_template"][...] >= 0

    def attr_names(self, group: str) -> list[str]:
        return list(self.h5[group].keys()) if group in self.h5 else []

    def read_attr(self, group: str, name: str, i: int | None) -> np.ndarray:
        if group not in self.h5 or name not in self.h5[group]:
            raise KeyError(f"{self.path}: no {group[:-1].replace('_', ' ')} {name!r}")
        ds = self.h5[group][name]
        if ds.dtype.kind == "O":
            ds = ds.asstr()
        return np.asarray(ds[...] if i is None else ds[i])

    # -- writing -------------------------------------------------------------------------
    def append(
        self,
        instant_id: np.ndarray,
        capture: np.ndarray,
        sequence: Sequence[str],
        frame: np.ndarray,
        image_paths: Sequence[str] | EncodedPaths,
    ) -> tuple[int, int]:
        """Append rows; ``image_paths`` is the flattened (n, C) path list, or
        :class:`EncodedPaths` of shape (n, C). Returns (start, stop)."""
        n = int(instant_id.shape[0])
        C = self.num_cameras
        if self._template_table is None:
            prefix, width, suffix = self._template_lists()
            self._template_table = {
                (p, int(w), s): k
                for k, (p, w, s) in enumerate(zip(prefix, width, suffix, strict=True))
            }
        seq_names = self.sequence_names()
        seq_table = {s: k for k, s in enumerate(seq_names)}
        seq_idx = np.empty(n, dtype=np.int32)
        new_seqs: list[str] = []
        for k, s in enumerate(sequence):
            idx = seq_table.get(s)
            if idx is None:
                idx = seq_table[s] = len(seq_names) + len(new_seqs)
                new_seqs.append(s)
            seq_idx[k] = idx
        n_tmpl_before = len(self._template_table)
        table = dict(self._template_table)
        if isinstance(image_paths, EncodedPaths):
            template, number = remap_paths(image_paths, table)
        else:
            template, number = encode_paths(image_paths, table)
        f = self._writable_h5()
        start = int(f["instant_id"].shape[0])
        stop = start + n
        for name, values in (
            ("instant_id", instant_id),
            ("capture", capture),
            ("sequence", seq_idx),
            ("frame", frame),
        ):
            f[name].resize((stop,))
            f[name][start:stop] = values
        for name, values in (("image_template", template), ("image_number", number)):
            f[name].resize((stop, C))
            f[name][start:stop] = values.reshape(n, C)
        if new_seqs:
            ds = f["sequence_names"]
            ds.resize((len(seq_names) + len(new_seqs),))
            ds[len(seq_names) :] = new_seqs
        new_keys = list(table)[n_tmpl_before:]
        if new_keys:
            t0 = n_tmpl_before
            t1 = t0 + len(new_keys)
            for name, col in (
                ("path_prefix", [k[0] for k in new_keys]),
                ("path_width", [k[1] for k in new_keys]),
                ("path_suffix", [k[2] for k in new_keys]),
            ):
                f[name].resize((t1,))
                f[name][t0:t1] = col
        f.attrs["num_images"] = int(f.attrs.get("num_images", 0)) + int(
            np.count_nonzero(template >= 0)
        )
        for group in ("image_attrs", "instant_attrs"):
            for ds in f[group].values():
                ds.resize((stop, *ds.shape[1:]))
        self._invalidate()
        self._template_table = table
        return start, stop

    def cached_attr(self, group: str, name: str) -> np.ndarray | None:
        """The whole attr ``group/name`` (None if absent), read once and kept: for small
        per-instant columns read on every instant (a read costs ~0.1 ms of h5py calls)."""
        key = (group, name)
        if key not in self._attr_cache:
            ok = group in self.h5 and name in self.h5[group]
            self._attr_cache[key] = self.read_attr(group, name, None) if ok else None
        return self._attr_cache[key]

    def write_attr(self, group: str, name: str, values: np.ndarray) -> None:
        """Create or replace ``group/name`` with ``values`` (first axis F)."""
        self._attr_cache.pop((group, name), None)
        if not _ATTR_NAME_RE.match(name):
            raise ProjectFormatError(f"attribute name {name!r} must be an identifier")
        f = self._writable_h5()
        g = f[group]
        if name in g:
            del g[name]
        if values.dtype.kind in "OUS":
            values = values.astype(object)
            dtype = _STR
            fill = None
        else:
            dtype = values.dtype
            fill = _fill_value(values.dtype)
        cells = int(np.prod(values.shape[1:])) if values.ndim > 1 else 1
        g.create_dataset(
            name,
            data=values,
            dtype=dtype,
            maxshape=(None, *values.shape[1:]),
            chunks=(_chunk_rows(cells), *values.shape[1:]),
            fillvalue=fill,
            compression="lzf" if cells > 1 and dtype is not _STR else None,
        )
