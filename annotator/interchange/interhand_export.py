"""Project → InterHand2.6M official layout (the three JSON files, skeleton.txt, images).

What an image or frame imported from InterHand2.6M stored (:mod:`.interhand_import`) is
written back as it was: ids, boxes, per-image joint_valid, hand types, order, exact campos.
World coordinates always come from the project's 3D joints (any source), so corrections
made after an import are exported; a joint without 3D is ``joint_valid = 0`` and keeps its
released placeholder coordinates (else 0, 0, 0). Per-image joint_valid is also forced to 0
for a joint without 3D.

Everything else is derived (e.g. a project labelled here):

- ids continue after the largest stored id; annotation id = image id;
- joint_valid: the joint has a 3D position; hand_type from the hand-present flags, or from
  which hand has 3D joints where the flag is unknown; instants with no hand are skipped;
- bbox: the tight box of the valid joints projected with the full camera model
  (``triangulation.project``, distortion included), enlarged 1.2× about its centre; an
  image where no valid joint lands inside the picture is skipped;
- camera json: campos = ``center_world``, camrot = R, focal and princpt from K. The format
  has no lens distortion: cameras with distortion are written without it and a warning is
  logged (undistort the images for exact reprojection);
- capture and camera ids must be integers for the public loader (it calls ``int()`` on
  them); projects with other names get integer ids in project order and
  ``annotations/S/id_map.json`` maps them back; frame numbers repeated across sequences of
  one capture (the joint_3d file is keyed by capture and frame only) are renumbered
  per capture in instant order, also recorded there.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annotator.interchange._jsonio import write_json_atomic
from annotator.interchange.interhand import (
    HAND_TYPES,
    InterHandAnnotation,
    InterHandFrame,
    InterHandImage,
    InterHandSet,
    JsonStyle,
)
from annotator.interchange.interhand_layout import (
    InterHandLayout,
    _is_int_str,
    enlarged_bbox_xywh,
    interhand_camera,
    place_image,
    write_interhand,
)
from annotator.skeleton import HANDS, hand_slice

__all__ = ["InterHandExport", "export_interhand", "relative_image_name"]

logger = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class InterHandExport:
    """What an export wrote: its ``layout`` and counts of images, frames, skipped items."""

    layout: InterHandLayout
    images: int
    frames: int
    skipped_instants: int
    skipped_images: int


def _id_map(names: list[str]) -> dict[str, str]:
    if all(_is_int_str(n) for n in names):
        return {n: n for n in names}
    return {n: str(k) for k, n in enumerate(names)}


def relative_image_name(path: Path, root: Path, fallback: str) -> str:
    """``path`` relative to ``root`` in POSIX form, or ``fallback`` if it lies outside."""
    try:
        return Path(os.path.relpath(path, root)).as_posix() if _inside(path, root) else fallback
    except ValueError:  # other drive (Windows)
        return fallback


def _inside(path: Path, root: Path) -> bool:
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    return not rel.startswith("..")


class _Attrs:
    """Optional stored attributes: whole arrays, or None if the project lacks them."""

    def __init__(self, store):
        img, inst = set(store.image_attr_names()), set(store.instant_attr_names())
        self.image = {
            n: store.image_attr(n)
            for n in (
                "image_id",
                "annotation_id",
                "bbox",
                "joint_valid",
                "hand_type",
                "hand_type_valid",
                "ih_order",
            )
            if n in img
        }
        self.instant = {
            n: store.instant_attr(n)
            for n in (
                "subject",
                "ih_world_coord",
                "ih_joint_valid",
                "ih_hand_type",
                "ih_hand_type_valid",
                "ih_frame_order",
            )
            if n in inst
        }

    def img(self, name: str, i: int, c: int):
        a = self.image.get(name)
        return None if a is None else a[i, c]

    def inst(self, name: str, i: int):
        a = self.instant.get(name)
        return None if a is None else a[i]


def _frame_numbers(table, store) -> np.ndarray:
    """Frame numbers unique per capture (renumbered per capture where sequences clash)."""
    out = table.frame.astype(np.int64).copy()
    for cap in store.captures:
        sel = np.nonzero(table.capture == cap)[0]
        if np.unique(out[sel]).size != sel.size:
            logger.warning(
                "capture %s repeats frame numbers across sequences; frames are "
                "renumbered 0..%d in the export (see id_map.json)",
                cap,
                sel.size - 1,
            )
            out[sel] = np.arange(sel.size)
    return out


def _hand_type(hand_present: np.ndarray, has3d: np.ndarray) -> str | None:
    present = []
    for h, hand in enumerate(HANDS):
        flag = int(hand_present[h])
        present.append(flag == 1 or (flag == -1 and bool(has3d[hand_slice(hand)].any())))
    if all(present):
        return "interacting"
    if any(present):
        return HANDS[present.index(True)]
    return None


def export_interhand(
    store,
    out_root: str | os.PathLike[str],
    split: str,
    *,
    images: str = "link",
    progress: Progress | None = None,
) -> InterHandExport:
    """Write the project as InterHand2.6M split ``split`` under ``out_root``.

    ``images``: "link" (hard links, copies across file systems), "copy", or "none" (JSON
    only). Missing image files raise ``FileNotFoundError`` before anything is written.
    ``progress(done, total)`` counts instants.
    """
    from triangulation.projection import in_front, in_image, project

    if images not in ("link", "copy", "none"):
        raise ValueError(f"images must be 'link', 'copy' or 'none', got {images!r}")
    layout = InterHandLayout(Path(out_root), split)
    meta = store.metadata.get("interhand", {})
    style = JsonStyle.from_dict(meta["style"]) if "style" in meta else JsonStyle()
    attrs = _Attrs(store)
    table = store.instants()
    F = len(table)
    cap_out, cam_out = _id_map(store.captures), _id_map(store.camera_names)
    frame_out = _frame_numbers(table, store)
    stored_ids = [a[a >= 0] for n, a in attrs.image.items() if n in ("image_id", "annotation_id")]
    next_id = int(max([0, *(int(a.max()) + 1 for a in stored_ids if a.size)]))
    root = Path(store.image_root)
    extras = {
        k: json.loads(meta.get(k, "{}"))
        for k in ("image_extra", "annotation_extra", "frame_extra", "data_extra")
    }
    entries: list[tuple[tuple, InterHandImage, InterHandAnnotation, Path]] = []
    frames: dict[str, list[tuple[tuple, str, InterHandFrame]]] = {}
    skipped_inst = skipped_img = 0
    for i in range(F):
        cap = str(table.capture[i])
        lab = store.labels(i)
        xyz = lab.joints_world_mm
        has3d = np.all(np.isfinite(xyz), axis=1)
        stored_frame = (
            attrs.inst("ih_joint_valid", i) is not None and attrs.inst("ih_joint_valid", i)[0] >= 0
        )
        if stored_frame:
            hand_type = HAND_TYPES[int(attrs.inst("ih_hand_type", i))]
            ht_valid = bool(attrs.inst("ih_hand_type_valid", i))
            raw = attrs.inst("ih_world_coord", i)
        else:
            hand_type, ht_valid, raw = _hand_type(lab.hand_present, has3d), True, None
            if hand_type is None:
                skipped_inst += 1
                continue
        placeholder = raw if raw is not None and np.all(np.isfinite(raw)) else np.zeros_like(xyz)
        world = np.where(has3d[:, None], xyz, placeholder)
        c_out, f_out = cap_out[cap], str(int(frame_out[i]))
        fkey = f"{cap}/{table.frame[i]}"
        order = int(attrs.inst("ih_frame_order", i)) if stored_frame else -1
        frames.setdefault(cap, []).append(
            (
                (order < 0, order, i),
                f_out,
                InterHandFrame(
                    world, has3d, hand_type, ht_valid, extras["frame_extra"].get(fkey, {})
                ),
            )
        )
        rig = store.rig(cap)
        cols = store.camera_positions(cap)
        paths = store.image_paths(i)
        uv = front = inimg = None
        subject = attrs.inst("subject", i)
        subject = int(subject) if subject is not None and subject >= 0 else 0
        for k, c in enumerate(cols.tolist()):
            path = paths[c]
            if path is None:
                continue
            cam = store.camera_names[c]
            image_id = attrs.img("image_id", i, c)
            stored = image_id is not None and image_id >= 0
            if stored:
                ann_id = int(attrs.img("annotation_id", i, c))
                bbox = tuple(float(v) for v in attrs.img("bbox", i, c))
                jv = (attrs.img("joint_valid", i, c) > 0) & has3d
                ht = HAND_TYPES[int(attrs.img("hand_type", i, c))]
                htv = bool(attrs.img("hand_type_valid", i, c))
                key = (0, int(attrs.img("ih_order", i, c)), i, c)
            else:
                if uv is None:
                    uv = project(xyz, rig)  # (J, C', 2)
                    front = in_front(xyz, rig)
                    inimg = in_image(uv, rig)
                ok = has3d & front[:, k]
                if not (ok & inimg[:, k]).any():
                    skipped_img += 1
                    continue
                image_id = ann_id = next_id
                next_id += 1
                bbox = tuple(float(v) for v in enlarged_bbox_xywh(uv[:, k], ok))
                jv, ht, htv = has3d, hand_type, ht_valid
                key = (1, 0, i, c)
            fallback = f"{cap}/{table.sequence[i]}/cam{cam}/{path.name}"
            name = relative_image_name(path, root, fallback)
            w, h = rig[k].size
            im = InterHandImage(
                int(image_id),
                name,
                w,
                h,
                c_out,
                subject,
                str(table.sequence[i]) or "sequence",
                cam_out[cam],
                int(f_out),
                extras["image_extra"].get(str(image_id), {}),
            )
            an = InterHandAnnotation(
                ann_id,
                int(image_id),
                bbox,
                jv,
                ht,
                htv,
                extras["annotation_extra"].get(str(image_id), {}),
            )
            entries.append((key, im, an, path))
        if progress is not None and (i % 256 == 255 or i == F - 1):
            progress(i + 1, F)
    entries.sort(key=lambda e: e[0])
    if images != "none":
        missing = [str(e[3]) for e in entries if not e[3].is_file()]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} image(s) of the project are missing: "
                f"{', '.join(missing[:3])}{', …' if len(missing) > 3 else ''}"
            )
    ih = InterHandSet(
        images=tuple(e[1] for e in entries),
        annotations=tuple(e[2] for e in entries),
        cameras=_cameras(store, meta, cap_out, cam_out),
        frames=_frames_in_order(frames, meta, cap_out),
        data_extra=extras["data_extra"],
        style=style,
    )
    write_interhand(ih, layout.root, split)
    _write_id_map(layout, store, table, cap_out, cam_out, frame_out)
    if images != "none":
        for _, im, _, path in entries:
            place_image(path, layout.images_dir / im.file_name, mode=images)
    logger.info(
        "exported %d images, %d frames to %s",
        len(entries),
        sum(len(v) for v in frames.values()),
        layout.root,
    )
    return InterHandExport(
        layout, len(entries), sum(len(v) for v in frames.values()), skipped_inst, skipped_img
    )


def _ordered_captures(captures: list[str], preferred: list[str]) -> list[str]:
    return [c for c in preferred if c in captures] + [c for c in captures if c not in preferred]


def _cameras(store, meta: dict, cap_out: dict, cam_out: dict) -> dict:
    campos_meta = meta.get("campos", {})
    lossy = sorted(
        {
            c.name
            for rig in store.rigs.values()
            for c in rig
            if c.K[0, 1] != 0 or np.any(c.dist != 0)
        }
    )
    if lossy:
        logger.warning(
            "%d camera(s) (%s%s) have lens distortion or skew, which the "
            "InterHand2.6M camera format cannot hold: the exported camera json "
            "ignores them (boxes are computed with the full model)",
            len(lossy),
            ", ".join(lossy[:3]),
            ", …" if len(lossy) > 3 else "",
        )
    out = {}
    for cap in _ordered_captures(store.captures, meta.get("capture_order", [])):
        cams = {}
        for cam in store.rig(cap):
            stored = campos_meta.get(cap, {}).get(cam.name)
            # The exact released campos, unless the camera was recalibrated since the import.
            use = stored is not None and np.allclose(-cam.R @ np.asarray(stored), cam.t, atol=1e-6)
            cams[cam_out[cam.name]] = interhand_camera(cam, np.asarray(stored) if use else None)
        out[cap_out[cap]] = cams
    return out


def _frames_in_order(frames: dict, meta: dict, cap_out: dict) -> dict:
    out = {}
    for cap in _ordered_captures(list(frames), meta.get("joint_3d_capture_order", [])):
        out[cap_out[cap]] = {f: fr for _, f, fr in sorted(frames[cap], key=lambda e: e[0])}
    return out


def _write_id_map(layout, store, table, cap_out, cam_out, frame_out) -> None:
    renamed = {
        "capture": {o: n for n, o in cap_out.items() if o != n},
        "camera": {o: n for n, o in cam_out.items() if o != n},
        "frame": {
            f"{cap_out[c]}/{int(fo)}": [s, int(f)]
            for c, s, f, fo in zip(
                table.capture.tolist(),
                table.sequence.tolist(),
                table.frame.tolist(),
                frame_out.tolist(),
                strict=True,
            )
            if int(fo) != int(f)
        },
    }
    path = layout.annotations_dir / "id_map.json"
    if any(renamed.values()):
        write_json_atomic(path, renamed)
    elif path.exists():
        path.unlink()
