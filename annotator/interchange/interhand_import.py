"""InterHand2.6M → project: one capture per InterHand capture, one instant per
(capture, seq_name, frame_idx), world_coord as 3D joints with source ``"imported"``.

Everything needed to write the same three files back is kept in the project
(:mod:`.interhand_export` reads it):

- image attrs (F, C, ...): ``image_id``, ``annotation_id`` (int64, -1 = none), ``bbox``
  (4,) px, ``joint_valid`` (J,) int8, ``hand_type`` int8 (index into ``HAND_TYPES``),
  ``hand_type_valid`` int8, ``ih_order`` int64 (position in the file's image list);
- instant attrs (F, ...): ``subject``, ``ih_world_coord`` (J, 3) mm as released (also the
  placeholder coordinates of invalid joints), ``ih_joint_valid`` (J,), ``ih_hand_type``,
  ``ih_hand_type_valid``, ``ih_frame_order`` (position of the frame in its capture);
- ``metadata["interhand"]``: the files' :class:`JsonStyle`, the exact released ``campos``
  per capture and camera (``-Rᵀt`` does not give the float32 values back bit for bit),
  capture order, and any keys the format does not define.

Every check (JSON content, cross references, image files, clashes with the project) runs
before the first write; a failed import leaves the project as it was.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annotator.interchange.interhand import HAND_TYPES, InterHandSet, read_interhand
from annotator.interchange.interhand_layout import rig_from_interhand
from annotator.skeleton import HANDS, NUM_JOINTS
from triangulation.camera import CameraRig

__all__ = ["InterHandImport", "ImportPlan", "plan_import", "import_interhand", "IMPORT_SOURCE"]

logger = logging.getLogger(__name__)

IMPORT_SOURCE = "imported"
IMPORT_ANNOTATOR = "interhand2.6m"
Progress = Callable[[int, int], None]
_PRESENCE = {"right": (1, 0), "left": (0, 1), "interacting": (1, 1)}


@dataclass(frozen=True)
class InterHandImport:
    """What an import added: ``instants`` (F',) store indices, counts, captures."""

    instants: np.ndarray
    images: int
    captures: tuple[str, ...]
    skipped_frames: int


@dataclass(frozen=True, eq=False)
class ImportPlan:
    """An import worked out in memory, before anything is written.

    Per instant (F'): ``capture``, ``sequence``, ``frame``, ``subject``, ``frame_order``.
    Per image (N): ``image_row`` (its instant), ``image_camera`` (camera name).
    ``rigs``: capture → rig, cameras in the camera file's order.
    """

    ih: InterHandSet
    rigs: dict[str, CameraRig]
    capture: list[str]
    sequence: list[str]
    frame: np.ndarray
    subject: np.ndarray
    frame_order: np.ndarray
    image_row: np.ndarray
    image_camera: list[str]
    skipped_frames: int


def plan_import(ih: InterHandSet) -> ImportPlan:
    """Instants, rigs and the image → instant mapping of a validated set (pure)."""
    sizes = Counter((im.width, im.height) for im in ih.images)
    fallback = sizes.most_common(1)[0][0]
    sizes_of: dict[str, dict[str, tuple[int, int]]] = {}  # one pass, not one per capture
    for im in ih.images:
        sizes_of.setdefault(im.capture, {})[im.camera] = (im.width, im.height)
    rigs = {}
    for capture, cams in ih.cameras.items():
        cam_size = sizes_of.get(capture, {})
        unsized = [n for n in cams if n not in cam_size]
        if unsized:
            logger.info(
                "capture %s: %d camera(s) without images get size %dx%d",
                capture,
                len(unsized),
                *fallback,
            )
        rigs[capture] = rig_from_interhand(
            cams,
            {n: cam_size.get(n, fallback) for n in cams},
            where=f"camera json capture {capture}",
        )
    row_of: dict[tuple[str, int], int] = {}
    capture_l: list[str] = []
    seq_l: list[str] = []
    frame_l: list[int] = []
    subject_l: list[int] = []
    image_row = np.empty(len(ih.images), dtype=np.int64)
    for k, im in enumerate(ih.images):
        key = (im.capture, im.frame_idx)
        row = row_of.get(key)
        if row is None:
            row = row_of[key] = len(capture_l)
            capture_l.append(im.capture)
            seq_l.append(im.seq_name)
            frame_l.append(im.frame_idx)
            subject_l.append(im.subject)
        image_row[k] = row
    frame_pos = {(c, f): n for c, frames in ih.frames.items() for n, f in enumerate(frames)}
    order = np.array(
        [frame_pos[(c, str(f))] for c, f in zip(capture_l, frame_l, strict=True)], dtype=np.int64
    )
    skipped = sum(len(f) for f in ih.frames.values()) - len(capture_l)
    if skipped:
        logger.warning(
            "%d joint_3d frame(s) have no image in the data json and are not imported", skipped
        )
    return ImportPlan(
        ih,
        rigs,
        capture_l,
        seq_l,
        np.array(frame_l, dtype=np.int64),
        np.array(subject_l, dtype=np.int64),
        order,
        image_row,
        [im.camera for im in ih.images],
        skipped,
    )


def _check_images(ih: InterHandSet, root: Path) -> None:
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root}: no such folder")
    missing = [im.file_name for im in ih.images if not (root / im.file_name).is_file()]
    if missing:
        shown = ", ".join(missing[:3]) + (", …" if len(missing) > 3 else "")
        raise FileNotFoundError(f"{len(missing)} image(s) missing under {root}: {shown}")


def _open_store(path: Path, plan: ImportPlan, image_root: Path):
    """Open (or create) the project and check it can take the import; returns (store, created)."""
    from annotator.store import ProjectStore

    if not (path / "project.toml").exists():
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise ValueError(f"{path}: exists and is not a project; give a new or empty folder")
        store = ProjectStore.create(
            path, name=path.name, rigs=plan.rigs, image_root=str(image_root)
        )
        return store, True
    store = ProjectStore.open(path, mode="w")
    try:
        _check_existing(store, plan, image_root)
    except BaseException:
        store.close(save=False)
        raise
    return store, False


def _check_existing(store, plan: ImportPlan, image_root: Path) -> None:
    where = f"project {store.path}"
    if Path(store.image_root).resolve() != image_root:
        raise ValueError(
            f"{where}: its image root {store.image_root} is not the import's image "
            f"folder {image_root}; import into a new project instead"
        )
    for capture, rig in plan.rigs.items():
        if capture not in store.captures:
            raise ValueError(
                f"{where}: has no capture {capture}; captures can only be added to a new project"
            )
        have = store.rig(capture)
        if have.names != rig.names or not np.allclose(have.P, rig.P, rtol=1e-9, atol=1e-9):
            raise ValueError(f"{where}: capture {capture} has other cameras than the camera json")
    for c, s, f in zip(plan.capture, plan.sequence, plan.frame, strict=True):
        try:
            store.find_instant(c, s, int(f))
        except KeyError:
            continue
        raise ValueError(f"{where}: capture {c} sequence {s} frame {f} is already in the project")


def _attr(store, kind: str, name: str, shape: tuple[int, ...], fill, dtype) -> np.ndarray:
    """The full attribute array, or a filled one of ``shape`` if the project lacks it."""
    getter = store.image_attr if kind == "image" else store.instant_attr
    try:
        have = np.asarray(getter(name))
    except KeyError:
        return np.full(shape, fill, dtype=dtype)
    out = np.full(shape, fill, dtype=dtype)
    out[: have.shape[0]] = have
    return out


def _write(store, plan: ImportPlan, progress: Progress | None) -> np.ndarray:
    ih = plan.ih
    cams = store.camera_names
    col = {n: k for k, n in enumerate(cams)}
    n_new, C, J = len(plan.capture), len(cams), NUM_JOINTS
    paths = np.full((n_new, C), "", dtype=object)
    img_cols = np.array([col[c] for c in plan.image_camera], dtype=np.int64)
    paths[plan.image_row, img_cols] = [im.file_name for im in ih.images]
    idx = np.asarray(
        store.add_instants(
            capture=plan.capture, sequence=plan.sequence, frame=plan.frame, image_paths=paths
        ),
        dtype=np.int64,
    )
    F = store.num_instants
    rows, cols = idx[plan.image_row], img_cols
    anns = ih.annotations
    image_values = {
        "image_id": (np.int64, -1, (), [im.image_id for im in ih.images]),
        "annotation_id": (np.int64, -1, (), [a.annotation_id for a in anns]),
        "bbox": (np.float64, np.nan, (4,), [a.bbox_xywh for a in anns]),
        "joint_valid": (np.int8, -1, (J,), [a.joint_valid for a in anns]),
        "hand_type": (np.int8, -1, (), [HAND_TYPES.index(a.hand_type) for a in anns]),
        "hand_type_valid": (np.int8, -1, (), [a.hand_type_valid for a in anns]),
        "ih_order": (np.int64, -1, (), np.arange(len(ih.images))),
    }
    for name, (dtype, fill, tail, values) in image_values.items():
        arr = _attr(store, "image", name, (F, C, *tail), fill, dtype)
        arr[rows, cols] = np.asarray(values, dtype=dtype)
        store.set_image_attr(name, arr)
    frames = [ih.frames[c][str(f)] for c, f in zip(plan.capture, plan.frame, strict=True)]
    instant_values = {
        "subject": (np.int64, -1, (), plan.subject),
        "ih_world_coord": (np.float64, np.nan, (J, 3), [fr.world_coord_mm for fr in frames]),
        "ih_joint_valid": (np.int8, -1, (J,), [fr.joint_valid for fr in frames]),
        "ih_hand_type": (np.int8, -1, (), [HAND_TYPES.index(fr.hand_type) for fr in frames]),
        "ih_hand_type_valid": (np.int8, -1, (), [fr.hand_type_valid for fr in frames]),
        "ih_frame_order": (np.int64, -1, (), plan.frame_order),
    }
    for name, (dtype, fill, tail, values) in instant_values.items():
        arr = _attr(store, "instant", name, (F, *tail), fill, dtype)
        arr[idx] = np.asarray(values, dtype=dtype)
        store.set_instant_attr(name, arr)
    for k, (i, fr) in enumerate(zip(idx, frames, strict=True)):
        xyz = np.where(fr.joint_valid[:, None], fr.world_coord_mm, np.nan)
        store.set_joints_3d(int(i), xyz, source=IMPORT_SOURCE, annotator=IMPORT_ANNOTATOR)
        if fr.hand_type_valid:
            for hand, present in zip(HANDS, _PRESENCE[fr.hand_type], strict=True):
                store.set_hand_present(int(i), hand, bool(present))
        if progress is not None and (k % 256 == 255 or k == n_new - 1):
            progress(k + 1, n_new)
    _update_metadata(store, plan)
    store.save()
    return idx


def _update_metadata(store, plan: ImportPlan) -> None:
    ih = plan.ih
    meta = dict(store.metadata.get("interhand", {}))
    meta["style"] = ih.style.to_dict()
    campos = dict(meta.get("campos", {}))
    for capture, cams in ih.cameras.items():
        campos[capture] = {n: c.campos_mm.tolist() for n, c in cams.items()}
    meta["campos"] = campos
    meta["capture_order"] = list(dict.fromkeys([*meta.get("capture_order", []), *ih.cameras]))
    meta["joint_3d_capture_order"] = list(
        dict.fromkeys([*meta.get("joint_3d_capture_order", []), *ih.frames])
    )
    extras = {
        "data_extra": ih.data_extra,
        "image_extra": {str(im.image_id): im.extra for im in ih.images if im.extra},
        "annotation_extra": {str(a.image_id): a.extra for a in ih.annotations if a.extra},
        "frame_extra": {
            f"{c}/{f}": fr.extra
            for c, frames in ih.frames.items()
            for f, fr in frames.items()
            if fr.extra
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
    progress: Progress | None = None,
) -> InterHandImport:
    """Import one InterHand2.6M split into the project at ``store_path`` (created if absent).

    ``images`` is the folder the data json's ``file_name`` entries are relative to (kept
    verbatim as the project's image paths). Raises ``ValueError`` (file format, clashes
    with the project) or ``FileNotFoundError`` (files, images) before writing anything.
    ``progress(done, total)`` is called as instants are written.
    """
    ih = read_interhand(data, camera, joint_3d)
    image_root = Path(images).resolve()
    _check_images(ih, image_root)
    plan = plan_import(ih)
    path = Path(store_path)
    existed = path.exists()
    store, created = _open_store(path, plan, image_root)
    try:
        idx = _write(store, plan, progress)
    except BaseException:
        store.close(save=False)  # pending edits live in working copies: dropped
        if created:  # a half-made new project is removed, not left behind
            shutil.rmtree(path, ignore_errors=True)
            if existed:
                path.mkdir(exist_ok=True)
        raise
    store.close()
    logger.info("imported %d images into %d instants of %s", len(ih.images), idx.size, path)
    return InterHandImport(idx, len(ih.images), tuple(ih.cameras), plan.skipped_frames)
