"""The in-memory import plan of an :class:`InterHandSet` (kept for callers of the
in-memory reader; the import itself streams, see :mod:`.interhand_import`)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from annotator.interchange.interhand_layout import rig_from_interhand
from annotator.interchange.interhand_records import InterHandCamera, InterHandSet
from triangulation.camera import CameraRig

__all__ = ["ImportPlan", "plan_import"]

logger = logging.getLogger(__name__)


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


def rigs_with_sizes(
    cameras: Mapping[str, Mapping[str, InterHandCamera]],
    sizes: Mapping[tuple[str, str], tuple[int, int]],
    fallback: tuple[int, int],
    where: Callable[[str], str],
) -> dict[str, CameraRig]:
    """capture -> rig, each camera sized by ``sizes[(capture, camera)]`` (width, height px).

    Cameras without images get ``fallback`` (the most common size; logged). ``where(capture)``
    names the capture's source in errors.
    """
    rigs = {}
    for capture, cams in cameras.items():
        unsized = [n for n in cams if (capture, n) not in sizes]
        if unsized:
            logger.info(
                "capture %s: %d camera(s) without images get size %dx%d",
                capture,
                len(unsized),
                *fallback,
            )
        rigs[capture] = rig_from_interhand(
            cams,
            {n: sizes.get((capture, n), fallback) for n in cams},
            where=where(capture),
        )
    return rigs


def plan_import(ih: InterHandSet) -> ImportPlan:
    """Instants, rigs and the image → instant mapping of a validated set (pure)."""
    sizes = Counter((im.width, im.height) for im in ih.images)
    fallback = sizes.most_common(1)[0][0]
    sizes_of = {(im.capture, im.camera): (im.width, im.height) for im in ih.images}
    rigs = rigs_with_sizes(ih.cameras, sizes_of, fallback, lambda c: f"camera json capture {c}")
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
