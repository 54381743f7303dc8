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

An annotation with no valid joint or an empty box gives no sample.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from annotator.interchange import InterHandLayout, read_interhand, rig_from_interhand
from pose_net.data.sample import HandSample, root_gated_valid

__all__ = ["interhand_splits", "interhand_samples", "is_interhand_root"]

logger = logging.getLogger(__name__)

_HAND_TYPE = {"right": (1.0, 0.0), "left": (0.0, 1.0), "interacting": (1.0, 1.0)}


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
) -> list[HandSample]:
    """The samples of one split of an InterHand2.6M root, in the data json's image order.

    ``split`` may be omitted when the root holds exactly one. ``subjects`` /
    ``exclude_subjects``: subject ids (the images' ``subject``) to keep / drop.
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
    ih = read_interhand(layout.data, layout.camera, layout.joint_3d)
    known = {str(im.subject) for im in ih.images}
    for name, wanted in (("--subjects", subjects), ("--exclude-subjects", exclude_subjects)):
        missing = sorted(set(wanted or ()) - known)
        if missing:
            raise ValueError(
                f"{layout.data}: {name}: no image of subject {', '.join(missing)} "
                f"(subjects: {', '.join(sorted(known))})"
            )
    sizes: dict[str, dict[str, tuple[int, int]]] = {}
    for im in ih.images:
        sizes.setdefault(im.capture, {})[im.camera] = (im.width, im.height)
    rigs = {
        cap: rig_from_interhand(
            {n: c for n, c in cams.items() if n in sizes.get(cap, {})},
            sizes.get(cap, {}),
            where=str(layout.camera),
        )
        for cap, cams in ih.cameras.items()
        if cap in sizes
    }
    out: list[HandSample] = []
    for im, an in zip(ih.images, ih.annotations, strict=True):
        subject = str(im.subject)
        if subjects and subject not in subjects:
            continue
        if exclude_subjects and subject in exclude_subjects:
            continue
        frame = ih.frames[im.capture][str(im.frame_idx)]
        valid = root_gated_valid(np.asarray(an.joint_valid, dtype=bool))
        bbox = np.asarray(an.bbox_xywh, dtype=np.float64)
        if not valid.any() or bbox[2] <= 0 or bbox[3] <= 0:
            continue
        cam = rigs[im.capture][im.camera]
        xyz = np.asarray(frame.world_coord_mm, dtype=np.float64)
        joints_cam = xyz @ cam.R.T + cam.t  # = camrot (X - campos)
        K = cam.K
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = joints_cam[:, :2] / joints_cam[:, 2:3] * K[[0, 1], [0, 1]] + K[:2, 2]
        out.append(
            HandSample(
                image_path=layout.images_dir / im.file_name,
                camera=cam,
                joints_cam_mm=joints_cam,
                joints_uv_px=uv,
                joint_valid=valid,
                hand_type=np.array(_HAND_TYPE[an.hand_type], dtype=np.float32),
                hand_type_valid=bool(an.hand_type_valid),
                bbox_xywh=bbox,
                key=f"{im.capture}/{im.frame_idx}/{im.camera}",
                subject=int(im.subject),
            )
        )
    logger.info("%d samples from %s split %s", len(out), root, split)
    return out
