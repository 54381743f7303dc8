"""Whole-split checks of a streamed InterHand2.6M data json, on numpy columns.

The streaming reader (:mod:`.interhand_stream`) cannot keep a set of every id it has
seen as Python objects at 2.6M images; these checks find the same problems (duplicate
ids, images without annotations, one camera with two image sizes, two images of one
capture/camera/frame) by sorting the columns, and report the first one in file order in
the words of the in-memory reader.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from annotator.interchange._jsonio import InterchangeFormatError

__all__ = ["first_repeat_rows", "pair_annotations", "check_images"]


def first_repeat_rows(*cols: np.ndarray) -> tuple[int, int]:
    """(p, q): ``p`` the first position whose row equals an earlier row, ``q`` the first
    position holding that row; (-1, -1) when all rows (tuples over ``cols``) differ."""
    n = len(cols[0])
    if n < 2:
        return -1, -1
    order = np.lexsort((np.arange(n), *reversed(cols)))
    same = np.ones(n - 1, bool)
    for c in cols:
        cs = np.asarray(c)[order]
        same &= cs[1:] == cs[:-1]
    if not same.any():
        return -1, -1
    later = order[1:][same]
    p = int(later.min())
    k = int(np.flatnonzero(order == p)[0])
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    q = int(order[starts[np.searchsorted(starts, k, side="right") - 1]])
    return p, q


def pair_annotations(
    image_id: np.ndarray,
    ann_id: np.ndarray,
    ann_image_id: np.ndarray,
    where: str,
    image_name: Callable[[int], str],
) -> np.ndarray:
    """(N,) the annotation position of each image; errors as the in-memory reader's.

    ``image_name(k)`` is the file name of image ``k`` (for the message).
    """
    p1, _ = first_repeat_rows(ann_id)
    p2, _ = first_repeat_rows(ann_image_id)
    if p1 >= 0 and (p2 < 0 or p1 <= p2):
        raise InterchangeFormatError(f"{where}: duplicate annotation id {int(ann_id[p1])}")
    if p2 >= 0:
        raise InterchangeFormatError(
            f"{where}: image id {int(ann_image_id[p2])} has more than one annotation"
        )
    p3, _ = first_repeat_rows(image_id)
    order = np.argsort(ann_image_id, kind="stable")
    sorted_ids = ann_image_id[order]
    if sorted_ids.size:
        idx = np.minimum(np.searchsorted(sorted_ids, image_id), sorted_ids.size - 1)
        found = sorted_ids[idx] == image_id
    else:
        idx = np.zeros(image_id.shape, np.int64)
        found = np.zeros(image_id.shape, bool)
    lacking = np.flatnonzero(~found)
    p4 = int(lacking[0]) if lacking.size else -1
    if p3 >= 0 and (p4 < 0 or p3 <= p4):
        raise InterchangeFormatError(f"{where}: duplicate image id {int(image_id[p3])}")
    if p4 >= 0:
        raise InterchangeFormatError(
            f"{where}: image id {int(image_id[p4])} ({image_name(p4)}) has no annotation"
        )
    if ann_image_id.size > image_id.size:
        orphans = ann_image_id[~np.isin(ann_image_id, image_id)]
        raise InterchangeFormatError(
            f"{where}: annotation for unknown image id {int(orphans.min())}"
        )
    return order[idx]


def check_images(
    capture: np.ndarray,
    instant: np.ndarray,
    camera: np.ndarray,
    width: np.ndarray,
    height: np.ndarray,
    image_id: np.ndarray,
    camera_names: list[str],
    where: Callable[[int], str],
) -> None:
    """One size per (capture, camera); one image per (instant, camera).

    ``capture``, ``instant``, ``camera``, sizes and ids are (N,) per image; ``where(k)``
    names image ``k`` in a message.
    """
    n_cam = max(1, len(camera_names))
    group = capture.astype(np.int64) * n_cam + camera
    _, first, inverse = np.unique(group, return_index=True, return_inverse=True)
    w0, h0 = width[first][inverse], height[first][inverse]
    bad = np.flatnonzero((w0 != width) | (h0 != height))
    p_size = int(bad[0]) if bad.size else -1
    p_dup, q_dup = first_repeat_rows(instant, camera)
    if p_size >= 0 and (p_dup < 0 or p_size <= p_dup):
        k = p_size
        raise InterchangeFormatError(
            f"{where(k)}: camera {camera_names[camera[k]]} has images of sizes "
            f"{(int(w0[k]), int(h0[k]))} and {(int(width[k]), int(height[k]))}"
        )
    if p_dup >= 0:
        raise InterchangeFormatError(
            f"{where(p_dup)}: same capture/camera/frame as image id {int(image_id[q_dup])}"
        )
