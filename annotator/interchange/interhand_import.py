"""InterHand2.6M → project: one capture per InterHand capture, one instant per
(capture, seq_name, frame_idx); streamed, in memory that grows by ~170 bytes per image.

Everything needed to write the same three files back is kept in ``frames.h5``
(:mod:`.interhand_export` reads it):

- image attrs (F, C, ...): ``image_id``, ``annotation_id`` (int64, -1 = none), ``bbox``
  (4,) px, ``joint_valid`` (J,) int8, ``hand_type`` int8 (index into ``HAND_TYPES``),
  ``hand_type_valid`` int8, ``ih_order`` int64 (position in the file's image list);
- instant attrs (F, ...): ``subject``, ``ih_world_coord`` (J, 3) mm as released (also the
  placeholder coordinates of invalid joints), ``ih_joint_valid`` (J,), ``ih_hand_type``,
  ``ih_hand_type_valid``, ``ih_frame_order`` (position of the frame in its capture),
  ``ih_imported_at`` (unix seconds; NaN for instants not imported this way);
- ``metadata["interhand"]``: the files' :class:`JsonStyle`, the exact released ``campos``
  per capture and camera (``-Rᵀt`` does not give the float32 values back bit for bit),
  capture order, and any keys the format does not define.

The released 3D joints are the *imported layer* of the labels: ``store.labels(i)`` shows
``ih_world_coord`` where ``ih_joint_valid`` (source ``"imported"``) unless labels.h5 holds
a row for that joint (an edit, or a cleared joint), and hand presence from the hand type.
So an import writes no label rows, labels.h5 stays as small as the human work, and saving
an edit stays cheap at 2.6M images.

Every check (JSON content, cross references, image files, clashes with the project) runs
before the first write; a failed import leaves the project as it was.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annotator.interchange.interhand_rigs import rigs_with_sizes
from annotator.interchange.interhand_stream import StreamedSplit, read_interhand_stream
from annotator.skeleton import NUM_JOINTS
from annotator.store.layout import is_project
from annotator.store.paths import EncodedPaths
from triangulation.camera import CameraRig

__all__ = [
    "InterHandImport",
    "import_interhand",
    "IMPORT_SOURCE",
    "IMPORT_ANNOTATOR",
]

logger = logging.getLogger(__name__)

IMPORT_SOURCE = "imported"
IMPORT_ANNOTATOR = "interhand2.6m"
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class InterHandImport:
    """What an import added: ``instants`` (F',) store indices, counts, captures.

    ``missing_images``: image files not found (only with ``allow_missing_images``);
    ``reader_worker_peak_rss_mb``: peak memory of the process that read the annotations
    alongside this one (large files only; 0 when none ran).
    """

    instants: np.ndarray
    images: int
    captures: tuple[str, ...]
    skipped_frames: int
    missing_images: int = 0
    reader_worker_peak_rss_mb: float = 0.0  # the second reader process (large files), if any


def _rigs(split: StreamedSplit, camera_json: Path) -> dict[str, CameraRig]:
    """capture -> rig; image sizes from the images, the most common size where none."""
    im = split.images
    caps = list(split.cameras)
    n_cam = max(1, len(split.camera_names))
    cap_code = np.array([caps.index(c) for c in split.instant_capture], np.int64)
    key = cap_code[im.instant] * n_cam + im.camera
    uniq, first = np.unique(key, return_index=True)
    sizes = {
        (caps[k // n_cam], split.camera_names[k % n_cam]): (int(im.width[p]), int(im.height[p]))
        for k, p in zip(uniq.tolist(), first.tolist(), strict=True)
    }
    wh = im.width.astype(np.int64) << 32 | im.height.astype(np.int64)
    values, first_at, counts = np.unique(wh, return_index=True, return_counts=True)
    best = np.flatnonzero(counts == counts.max())
    pick = values[best[np.argmin(first_at[best])]]  # ties: the size seen first
    fallback = (int(pick >> 32), int(pick & 0xFFFFFFFF))
    return rigs_with_sizes(
        split.cameras, sizes, fallback, lambda c: f"camera json {camera_json}: capture {c}"
    )


def _open_store(path: Path, split: StreamedSplit, rigs: dict, image_root: Path):
    """Open (or create) the project and check it can take the import; returns (store, created)."""
    from annotator.store import ProjectStore

    if not is_project(path):
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise ValueError(f"{path}: exists and is not a project; give a new or empty folder")
        store = ProjectStore.create(path, name=path.name, rigs=rigs, image_root=str(image_root))
        return store, True
    store = ProjectStore.open(path, mode="w")
    try:
        _check_existing(store, split, rigs, image_root)
    except BaseException:
        store.close(save=False)
        raise
    return store, False


def _check_existing(store, split: StreamedSplit, rigs: dict, image_root: Path) -> None:
    where = f"project {store.path}"
    if Path(store.image_root).resolve() != image_root:
        raise ValueError(
            f"{where}: its image root {store.image_root} is not the import's image "
            f"folder {image_root}; import into a new project instead"
        )
    for capture, rig in rigs.items():
        if capture not in store.captures:
            raise ValueError(
                f"{where}: has no capture {capture}; captures can only be added to a new project"
            )
        have = store.rig(capture)
        if have.names != rig.names or not np.allclose(have.P, rig.P, rtol=1e-9, atol=1e-9):
            raise ValueError(f"{where}: capture {capture} has other cameras than the camera json")
    for c, s, f in zip(
        split.instant_capture, split.instant_sequence, split.instant_frame.tolist(), strict=True
    ):
        try:
            store.find_instant(c, s, int(f))
        except KeyError:
            continue
        raise ValueError(f"{where}: capture {c} sequence {s} frame {f} is already in the project")


def _attr(store, kind: str, name: str, shape: tuple[int, ...], fill, dtype) -> np.ndarray:
    """The full attribute array, or a filled one of ``shape`` if the project lacks it."""
    getter = store.image_attr if kind == "image" else store.instant_attr
    names = store.image_attr_names() if kind == "image" else store.instant_attr_names()
    out = np.full(shape, fill, dtype=dtype)
    if name in names:
        have = np.asarray(getter(name))
        out[: have.shape[0]] = have
    return out


def _write(store, split: StreamedSplit) -> np.ndarray:
    im, fr = split.images, split.frames
    C, J = len(store.camera_names), NUM_JOINTS
    col = np.array([store.camera_index(n) for n in split.camera_names], np.int64)
    n_new = len(split.instant_capture)
    template = np.full((n_new, C), -1, np.int32)
    number = np.full((n_new, C), -1, np.int64)
    cols = col[im.camera]
    template[im.instant, cols] = im.paths.template
    number[im.instant, cols] = im.paths.number
    idx = np.asarray(
        store.add_instants(
            capture=split.instant_capture,
            sequence=split.instant_sequence,
            frame=split.instant_frame,
            image_paths=EncodedPaths(im.paths.templates, template, number),
        ),
        dtype=np.int64,
    )
    del template, number
    F = store.num_instants
    rows = idx[im.instant]
    image_values = {
        "image_id": (np.int64, -1, (), im.image_id),
        "annotation_id": (np.int64, -1, (), im.annotation_id),
        "bbox": (np.float64, np.nan, (4,), im.bbox),
        "joint_valid": (np.int8, -1, (J,), im.joint_valid),
        "hand_type": (np.int8, -1, (), im.hand_type),
        "hand_type_valid": (np.int8, -1, (), im.hand_type_valid),
        "ih_order": (np.int64, -1, (), np.arange(im.image_id.size)),
    }
    for name, (dtype, fill, tail, values) in image_values.items():
        arr = _attr(store, "image", name, (F, C, *tail), fill, dtype)
        arr[rows, cols] = np.asarray(values, dtype=dtype)
        store.set_image_attr(name, arr)
        del arr
    fr_rows = split.instant_frame_row
    instant_values = {
        "subject": (np.int64, -1, (), split.instant_subject),
        "ih_world_coord": (np.float64, np.nan, (J, 3), fr.world_mm[fr_rows]),
        "ih_joint_valid": (np.int8, -1, (J,), fr.valid[fr_rows]),
        "ih_hand_type": (np.int8, -1, (), fr.hand_type[fr_rows]),
        "ih_hand_type_valid": (np.int8, -1, (), fr.hand_type_valid[fr_rows]),
        "ih_frame_order": (np.int64, -1, (), fr.order[fr_rows]),
        "ih_imported_at": (np.float64, np.nan, (), np.full(n_new, time.time())),
    }
    for name, (dtype, fill, tail, values) in instant_values.items():
        arr = _attr(store, "instant", name, (F, *tail), fill, dtype)
        arr[idx] = np.asarray(values, dtype=dtype)
        store.set_instant_attr(name, arr)
    _update_metadata(store, split)
    store.save()
    return idx


def _update_metadata(store, split: StreamedSplit) -> None:
    fr = split.frames
    meta = dict(store.metadata.get("interhand", {}))
    meta["style"] = {k: list(v) if isinstance(v, tuple) else v for k, v in split.style.items()}
    campos = dict(meta.get("campos", {}))
    for capture, cams in split.cameras.items():
        campos[capture] = {n: c.campos_mm.tolist() for n, c in cams.items()}
    meta["campos"] = campos
    meta["capture_order"] = list(dict.fromkeys([*meta.get("capture_order", []), *split.cameras]))
    meta["joint_3d_capture_order"] = list(
        dict.fromkeys([*meta.get("joint_3d_capture_order", []), *fr.captures])
    )
    extras = {
        "image_extra": {str(k): v for k, v in split.images.image_extra.items()},
        "annotation_extra": {str(k): v for k, v in split.images.annotation_extra.items()},
        "frame_extra": {
            f"{fr.captures[int(fr.capture[row])]}/{fr.frame_key[row]}": ex
            for row, ex in fr.extra.items()
        },
    }
    for key, value in extras.items():
        if value:  # kept as JSON text: TOML cannot hold nulls or mixed arrays
            old = json.loads(meta.get(key, "{}"))
            meta[key] = json.dumps({**old, **value})
    store.metadata["interhand"] = meta


def import_interhand(
    store_path: str | os.PathLike[str],
    *,
    data: str | os.PathLike[str],
    camera: str | os.PathLike[str],
    joint_3d: str | os.PathLike[str],
    images: str | os.PathLike[str],
    allow_missing_images: bool = False,
    progress: Progress | None = None,
) -> InterHandImport:
    """Import one InterHand2.6M split into the project at ``store_path`` (created if absent).

    ``images`` is the folder the data json's ``file_name`` entries are relative to (kept
    verbatim as the project's image paths). Missing image files are an error unless
    ``allow_missing_images`` (annotations first, images later): then they are counted in
    the result, and the project shows them as missing until they arrive. Raises
    ``ValueError`` (file format, clashes with the project) or ``FileNotFoundError`` (files,
    images) before writing anything. ``progress(done, total)`` counts data json entries.
    """
    image_root = Path(images).resolve()
    if not image_root.is_dir() and not allow_missing_images:
        raise FileNotFoundError(f"image folder {image_root}: no such folder")
    split = read_interhand_stream(data, camera, joint_3d, images=image_root, progress=progress)
    im = split.images
    if im.missing and not allow_missing_images:
        shown = ", ".join(im.missing_examples) + (", …" if im.missing > 3 else "")
        raise FileNotFoundError(
            f"{im.missing} image(s) missing under {image_root}: {shown} "
            f"(--allow-missing-images imports them anyway)"
        )
    rigs = _rigs(split, Path(camera))
    path = Path(store_path)
    existed = path.exists()
    store, created = _open_store(path, split, rigs, image_root)
    try:
        idx = _write(store, split)
    except BaseException:
        store.close(save=False)  # pending edits live in working copies: dropped
        if created:  # a half-made new project is removed, not left behind
            shutil.rmtree(path, ignore_errors=True)
            if existed:
                path.mkdir(exist_ok=True)
        raise
    store.close()
    skipped = len(split.frames.frame_key) - idx.size
    if skipped:
        logger.warning(
            "%d joint_3d frame(s) have no image in the data json and are not imported", skipped
        )
    if im.missing:
        logger.warning(
            "%d image file(s) missing under %s (imported anyway)", im.missing, image_root
        )
    logger.info("imported %d images into %d instants of %s", im.image_id.size, idx.size, path)
    return InterHandImport(
        idx,
        int(im.image_id.size),
        tuple(split.cameras),
        skipped,
        im.missing,
        split.worker_peak_rss_mb,
    )
