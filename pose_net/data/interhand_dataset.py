"""Samples from an InterHand2.6M root in the official layout (as downloaded, and as
``annotator export-interhand`` writes it)::

    ROOT/annotations/S/InterHand2.6M_S_{data,camera,joint_3d}.json
    ROOT/images/S/<file_name>

Conventions of the public InterNet loader, kept here:

- camera: ``x_cam = camrot · (X_world − campos)``; pixels ``u = fx·x/z + cx``,
  ``v = fy·y/z + cy`` (the format has no lens distortion);
- the joints of an image are its frame's ``world_coord`` (``joint_3d`` json, keyed by capture
  and frame); their validity is the image annotation's ``joint_valid``, cleared for a hand
  whose root is not valid;
- ``hand_type`` ("right" / "left" / "interacting") and ``hand_type_valid`` from the image
  annotation; the box is the annotation's ``bbox`` (x, y, w, h).

An annotation with no valid joint or an empty box gives no sample. The samples come as
columns (:class:`~pose_net.data.sample_table.SampleTable`): 2.6M images fit in a few hundred
MB, shared by DataLoader workers without copies.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from annotator.interchange import (
    InterHandLayout,
    StreamedSplit,
    read_interhand_stream,
    rig_from_interhand,
)
from annotator.interchange.interhand_records import HAND_TYPES
from annotator.store.paths import EncodedPaths
from pose_net.data.sample import root_gated_valid
from pose_net.data.sample_table import ImagePaths, SampleTable

__all__ = ["interhand_splits", "interhand_samples", "is_interhand_root"]

logger = logging.getLogger(__name__)

_PRESENT = {"right": (True, False), "left": (False, True), "interacting": (True, True)}
#: [right, left] presence per stored hand-type code (``HAND_TYPES`` order)
_HAND_PRESENT = [_PRESENT[t] for t in HAND_TYPES]


def interhand_splits(root: str | os.PathLike[str]) -> list[str]:
    """Split names S under ``ROOT/annotations`` that hold ``InterHand2.6M_S_data.json``."""
    ann = Path(root) / "annotations"
    if not ann.is_dir():
        return []
    return sorted(
        d.name for d in ann.iterdir() if (d / f"InterHand2.6M_{d.name}_data.json").is_file()
    )


def is_interhand_root(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` looks like an InterHand2.6M root (has at least one split)."""
    return bool(interhand_splits(path))


def interhand_samples(
    root: str | os.PathLike[str],
    split: str | None = None,
    *,
    subjects: Sequence[str] | None = None,
    exclude_subjects: Sequence[str] | None = None,
) -> SampleTable:
    """The samples of one split of an InterHand2.6M root, in the data json's image order.

    ``split`` may be omitted when the root holds exactly one. ``subjects`` /
    ``exclude_subjects``: subject ids (the images' ``subject``) to keep / drop.

    The data json is streamed (:func:`~annotator.interchange.read_interhand_stream`, the
    importer's reader, with its checks and words) into columns: a
    :class:`~pose_net.data.sample_table.SampleTable` of ~100 bytes per image, whose items are
    the :class:`HandSample` of each image. The image files are not looked at.
    """
    splits = interhand_splits(root)
    if split is None:
        if len(splits) != 1:
            raise ValueError(
                f"{root}: choose a split with --split ({', '.join(splits) or 'none found'})"
            )
        split = splits[0]
    layout = InterHandLayout(Path(root), split)
    if split not in splits:
        raise FileNotFoundError(f"{layout.data}: no such file (splits: {', '.join(splits)})")
    ih = read_interhand_stream(layout.data, layout.camera, layout.joint_3d)
    table = _table(ih, layout, subjects, exclude_subjects)
    logger.info("%d samples from %s split %s", len(table), root, split)
    return table


def _table(ih: StreamedSplit, layout: InterHandLayout, subjects, exclude_subjects) -> SampleTable:
    im = ih.images
    cap_names = list(ih.cameras)
    # capture code (camera json order) per instant, then per image
    code_of = {c: k for k, c in enumerate(cap_names)}
    inst_code = np.array([code_of[c] for c in ih.instant_capture], dtype=np.int64)
    img_code = inst_code[im.instant]
    img_subject = ih.instant_subject[im.instant]
    known = {str(int(s)) for s in np.unique(img_subject)}
    for name, wanted in (("--subjects", subjects), ("--exclude-subjects", exclude_subjects)):
        missing = sorted(set(wanted or ()) - known)
        if missing:
            raise ValueError(
                f"{layout.data}: {name}: no image of subject {', '.join(missing)} "
                f"(subjects: {', '.join(sorted(known))})"
            )
    # image size per (capture, camera): the last image's, as a dict filled in order would
    n_names = len(ih.camera_names)
    pair = img_code * n_names + im.camera
    rev_pair = pair[::-1]
    pairs, first_rev = np.unique(rev_pair, return_index=True)
    last = pair.size - 1 - first_rev
    sizes: dict[str, dict[str, tuple[int, int]]] = {}
    for pr, k in zip(pairs.tolist(), last.tolist(), strict=True):
        cap, cam = cap_names[pr // n_names], ih.camera_names[pr % n_names]
        sizes.setdefault(cap, {})[cam] = (int(im.width[k]), int(im.height[k]))
    captures = [c for c in cap_names if c in sizes]
    rigs = [
        rig_from_interhand(
            {n: c for n, c in ih.cameras[cap].items() if n in sizes[cap]},
            sizes[cap],
            where=str(layout.camera),
        )
        for cap in captures
    ]
    # camera position in its capture's rig, per (capture code, camera name code)
    position = np.full((len(cap_names), n_names), -1, dtype=np.int32)
    name_code = {n: k for k, n in enumerate(ih.camera_names)}
    for cap, rig in zip(captures, rigs, strict=True):
        for k, n in enumerate(rig.names):
            position[code_of[cap], name_code[n]] = k
    valid = root_gated_valid(im.joint_valid)
    keep = valid.any(axis=1) & (im.bbox[:, 2] > 0) & (im.bbox[:, 3] > 0)
    if subjects:
        keep &= np.isin(img_subject, [int(s) for s in subjects])
    if exclude_subjects:
        keep &= ~np.isin(img_subject, [int(s) for s in exclude_subjects])
    idx = np.nonzero(keep)[0]
    table_code = np.full(len(cap_names), -1, dtype=np.int32)
    table_code[[code_of[c] for c in captures]] = np.arange(len(captures), dtype=np.int32)
    present = np.array(_HAND_PRESENT, dtype=bool)
    return SampleTable(
        captures=tuple(captures),
        rigs=tuple(rigs),
        pinhole=True,
        row_capture=table_code[inst_code],
        row_frame=np.asarray(ih.instant_frame, dtype=np.int64),
        row_subject=np.asarray(ih.instant_subject, dtype=np.int64),
        row_world_mm=ih.frames.world_mm[ih.instant_frame_row],
        row=im.instant[idx].astype(np.int64),
        camera=position[img_code[idx], im.camera[idx]],
        joint_valid=valid[idx],
        hand_present=present[im.hand_type[idx]],
        hand_type_valid=im.hand_type_valid[idx].astype(bool),
        bbox_xywh=np.asarray(im.bbox[idx], dtype=np.float64),
        paths=ImagePaths(
            layout.images_dir,
            EncodedPaths(im.paths.templates, im.paths.template[idx], im.paths.number[idx]),
        ),
        info={"reader_worker_peak_rss_mb": float(ih.worker_peak_rss_mb)},
    )
