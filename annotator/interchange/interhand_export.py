"""Project → InterHand2.6M official layout (the three JSON files, skeleton.txt, images).

What an image or frame imported from InterHand2.6M stored (:mod:`.interhand_import`) is
written back as it was: ids, boxes, per-image joint_valid, hand types, order, exact campos.
World coordinates always come from the project's 3D joints (any source), so corrections
made after an import are exported; a joint without 3D is ``joint_valid = 0`` and keeps its
released placeholder coordinates (else 0, 0, 0). Per-image joint_valid is also forced to 0
for a joint without 3D.

An imported image whose instant's 3D joints were edited since the import gets its box
recomputed from the edited joints, the same rule as below (:mod:`.interhand_export_rows`).

The export streams: whole-project numpy arrays (~150 bytes per image) decide what to write
and in which order, then the JSON text is written block by block
(:mod:`.interhand_jsonwrite`), byte for byte what writing the whole object gives.

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

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annotator.interchange._jsonio import write_json_atomic, write_text_atomic
from annotator.interchange.frame_files import frame_file_name, write_frame_jpeg
from annotator.interchange.interhand_export_rows import export_rows
from annotator.interchange.interhand_jsonwrite import (
    file_names,
    is_clean,
    json_value,
    write_data_json,
    write_joint_3d_json,
)
from annotator.interchange.interhand_layout import (
    InterHandLayout,
    _is_int_str,
    interhand_camera,
    place_image,
)
from annotator.interchange.interhand_records import JsonStyle
from annotator.skeleton import skeleton_txt
from annotator.store.paths import parse_video_locator
from annotator.store.store_instants import VIDEO_PTS_ATTR
from annotator.video import VideoFrame

__all__ = ["InterHandExport", "export_interhand"]

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


class _ImageFields:
    """Per-image JSON fields of blocks of export rows (decoded a block at a time)."""

    def __init__(self, store, rows, style: JsonStyle, cap_out, cam_out, frame_out, table):
        self.rows = rows
        self.enc = rows.paths
        self.C = len(store.camera_names)
        self.root = Path(store.image_root)
        caps = list(store.captures)
        self.cap_index = np.array([caps.index(c) for c in table.capture.tolist()], np.int64)
        self.cap_json = [json_value(cap_out[c], style.capture_is_int) for c in caps]
        names = store.camera_names
        self.cam_json = [json_value(cam_out[n], style.camera_is_int) for n in names]
        self.cam_names = names
        size = np.zeros((len(caps), self.C, 2), np.int64)
        for k, c in enumerate(caps):
            rig = store.rig(c)
            size[k, store.camera_positions(c)] = rig.sizes
        self.size = size
        self.capture = table.capture
        self.sequence = table.sequence
        self.frame_out = frame_out
        self.table_frame = table.frame
        self.video = bool(store.is_video_project)
        # the timestamps init found, so exporting a frame never demuxes its video again
        self.pts = store.image_attr(VIDEO_PTS_ATTR) if self.video else None
        self.subject = rows.subject
        # whether a template's paths are already in relpath's normal form (digits never
        # change that, so one representative per template decides)
        self.clean = np.array(
            [is_clean(p + "0" * max(w, 1) + s) for p, w, s in self.enc.templates] + [False]
        )
        self.clean_plain = np.array([is_clean(p + s) for p, _, s in self.enc.templates] + [False])

    def _flat(self, sel: np.ndarray) -> np.ndarray:
        return self.rows.instant[sel] * self.C + self.rows.camera[sel]

    def source_paths(self, sel: np.ndarray) -> list[str | None]:
        return self.enc.decode_all(self._flat(sel))

    def __call__(self, sel: np.ndarray):
        """JSON fields of images ``sel``, and their source paths (relative to the root)."""
        r = self.rows
        inst, cam = r.instant[sel], r.camera[sel]
        flat = self._flat(sel)
        paths = self.enc.decode_all(flat)
        seqs = self.sequence[inst].tolist()
        t = self.enc.template.ravel()[flat]
        n = self.enc.number.ravel()[flat]
        clean = np.where(n < 0, self.clean_plain[t], self.clean[t]).tolist()

        def fallback(k: int) -> str:
            name = Path(paths[k] or "").name
            return f"{self.capture[inst[k]]}/{seqs[k]}/cam{self.cam_names[cam[k]]}/{name}"

        names = file_names(paths, fallback, self.root, clean)
        sources: list = paths
        if self.video:  # frames of videos become image files named like a capture's
            sources = list(paths)
            for k, p in enumerate(paths):
                frame = None if p is None else parse_video_locator(p)
                if frame is None:
                    continue
                names[k] = frame_file_name(
                    self.capture[inst[k]], seqs[k], self.cam_names[cam[k]],
                    self.table_frame[inst[k]],
                )
                pts = int(self.pts[inst[k], cam[k]])
                sources[k] = VideoFrame(self.root / frame[0], frame[1], pts if pts >= 0 else None)
        ci = self.cap_index[inst]
        wh = self.size[ci, cam]
        return (
            names,
            wh[:, 0].tolist(),
            wh[:, 1].tolist(),
            [self.cap_json[c] for c in ci.tolist()],
            self.subject[inst].tolist(),
            [s or "sequence" for s in seqs],
            [self.cam_json[c] for c in cam.tolist()],
            self.frame_out[inst].tolist(),
            sources,
        )


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
    only). A project read from videos has its exported frames decoded and written as JPEG
    files (``<capture>/<sequence>/cam<camera>/image<frame>.jpg``) in either of the first
    two. Missing image files raise ``FileNotFoundError`` before anything is written.
    ``progress(done, total)`` counts JSON entries written (images and annotations).
    """
    if images not in ("link", "copy", "none"):
        raise ValueError(f"images must be 'link', 'copy' or 'none', got {images!r}")
    layout = InterHandLayout(Path(out_root), split)
    meta = store.metadata.get("interhand", {})
    style = JsonStyle.from_dict(meta["style"]) if "style" in meta else JsonStyle()
    table = store.instants()
    cap_out, cam_out = _id_map(store.captures), _id_map(store.camera_names)
    frame_out = _frame_numbers(table, store)
    extras = {
        k: json.loads(meta.get(k, "{}"))
        for k in ("image_extra", "annotation_extra", "frame_extra", "data_extra")
    }
    rows = export_rows(store, list(meta.get("joint_3d_capture_order", [])))
    fields = _ImageFields(store, rows, style, cap_out, cam_out, frame_out, table)
    n = int(rows.image_id.size)
    root = str(store.image_root) + os.sep
    placer = None
    if images != "none":
        _check_images(fields, n, root)
        placer = _Placer(str(layout.images_dir) + os.sep, root, images)
    write_data_json(
        layout.data,
        rows,
        style=style,
        image_fields=fields,
        image_extra=extras["image_extra"],
        annotation_extra=extras["annotation_extra"],
        data_extra=extras["data_extra"],
        progress=progress,
        after_block=placer,  # images are placed block by block as their entries are written
    )
    _write_camera_json(layout, store, meta, cap_out, cam_out, style)
    fi = rows.frame_instant
    write_joint_3d_json(
        layout.joint_3d,
        rows,
        style=style,
        capture_out=[cap_out[c] for c in table.capture[fi].tolist()],
        frame_out=[str(int(f)) for f in frame_out[fi].tolist()],
        frame_extra=[
            extras["frame_extra"].get(f"{c}/{f}")
            for c, f in zip(table.capture[fi].tolist(), table.frame[fi].tolist(), strict=True)
        ],
    )
    write_text_atomic(layout.skeleton, skeleton_txt())
    _write_id_map(layout, store, table, cap_out, cam_out, frame_out)
    frames = int(fi.size)
    logger.info("exported %d images, %d frames to %s", n, frames, layout.root)
    return InterHandExport(layout, n, frames, rows.skipped_instants, rows.skipped_images)


def _check_images(fields: _ImageFields, n: int, root: str) -> None:
    """Every image file exists (before anything is written), or FileNotFoundError."""
    missing, shown = 0, []
    stat = os.stat
    for lo in range(0, n, 1 << 15):
        for p in fields.source_paths(np.arange(lo, min(n, lo + (1 << 15)))):
            frame = parse_video_locator(p) if fields.video else None
            if frame is not None:
                p = frame[0]  # a frame of a video: the video must be there
            src = p if p[:1] == "/" else root + p
            try:
                stat(src)
            except OSError:
                missing += 1
                if len(shown) < 3:
                    shown.append(src)
    if missing:
        raise FileNotFoundError(
            f"{missing} image(s) of the project are missing: "
            f"{', '.join(shown)}{', …' if missing > 3 else ''}"
        )


class _Placer:
    """Links (or copies) a block of images into the export; one mkdir per folder."""

    def __init__(self, out_dir: str, root: str, mode: str):
        self.out_dir, self.root, self.mode = out_dir, root, mode
        self.made: set[str] = set()

    def __call__(self, names: list[str], sources: list) -> None:
        made, link, out_dir, root = self.made, os.link, self.out_dir, self.root
        for p, name in zip(sources, names, strict=True):
            dst = out_dir + name
            if isinstance(p, VideoFrame):  # a frame of a video project: decoded and written
                write_frame_jpeg(p, dst)
                continue
            src = p if p[:1] == "/" else root + p
            folder = dst.rpartition("/")[0]
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            if self.mode == "link":
                try:
                    link(src, dst)
                    continue
                except OSError:
                    pass  # exists already, or another file system: the careful way
            with contextlib.suppress(shutil.SameFileError):
                place_image(src, dst, mode=self.mode)


def _write_camera_json(layout, store, meta, cap_out, cam_out, style: JsonStyle) -> None:
    cams = _cameras(store, meta, cap_out, cam_out)
    camera: dict = {}
    for capture, cs in cams.items():
        params = {
            "campos": {n: c.campos_mm.tolist() for n, c in cs.items()},
            "camrot": {n: c.camrot.tolist() for n, c in cs.items()},
            "focal": {n: c.focal.tolist() for n, c in cs.items()},
            "princpt": {n: c.princpt.tolist() for n, c in cs.items()},
        }
        camera[capture] = {k: params[k] for k in style.camera_keys if k in params} | params
    write_json_atomic(layout.camera, camera)


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
