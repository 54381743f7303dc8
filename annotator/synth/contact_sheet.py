"""A contact sheet: a grid of rendered views, optionally with the ground-truth skeleton."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from annotator.images import read_image_bgr
from annotator.skeleton import BONES, joint_color_bgr

__all__ = ["draw_skeleton", "contact_sheet", "write_contact_sheet"]


def draw_skeleton(image: np.ndarray, uv_px: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """A copy of ``image`` with the (J, 2) joints drawn: filled dots visible, rings occluded."""
    out = image.copy()
    ok = np.all(np.isfinite(uv_px), axis=1)
    pts = np.round(np.nan_to_num(uv_px)).astype(int)
    for j, p in BONES:
        if ok[j] and ok[p]:
            cv2.line(out, tuple(pts[j]), tuple(pts[p]), joint_color_bgr(j), 1, cv2.LINE_AA)
    for j in np.flatnonzero(ok):
        cv2.circle(out, tuple(pts[j]), 2, joint_color_bgr(j), -1 if visible[j] else 1, cv2.LINE_AA)
    return out


def contact_sheet(
    images: Sequence[np.ndarray],
    *,
    columns: int = 6,
    tile: tuple[int, int] = (200, 200),
    captions: Sequence[str] | None = None,
) -> np.ndarray:
    """(rows * th, columns * tw, 3) uint8 grid of ``images``, each letterboxed into a tile."""
    if not images:
        raise ValueError("contact_sheet: no images")
    tw, th = tile
    rows = (len(images) + columns - 1) // columns
    sheet = np.full((rows * th, columns * tw, 3), 255, np.uint8)
    for k, img in enumerate(images):
        h, w = img.shape[:2]
        s = min(tw / w, th / h)
        size = (max(1, int(w * s)), max(1, int(h * s)))
        small = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        r, c = divmod(k, columns)
        y = r * th + (th - small.shape[0]) // 2
        x = c * tw + (tw - small.shape[1]) // 2
        sheet[y : y + small.shape[0], x : x + small.shape[1]] = small
        if captions is not None:
            cv2.putText(sheet, captions[k], (c * tw + 3, r * th + 12), cv2.FONT_HERSHEY_SIMPLEX,
                        0.35, (0, 200, 255), 1, cv2.LINE_AA)
    return sheet


def write_contact_sheet(
    project, out, *, tiles: int = 18, columns: int = 6, tile: tuple[int, int] = (160, 160),
    skeleton: bool = False,
) -> Path:
    """Write a grid of views of a synthetic project (PNG or JPEG by ``out``'s suffix).

    Instants are spread over the capture; from each, the views that see the most joints
    (from the ground truth) are shown. ``skeleton`` overlays the ground-truth joints.
    """
    from annotator.store import ProjectStore

    out = Path(out)
    with ProjectStore.open(project, mode="r") as store:
        if not store.has_ground_truth:
            raise ValueError(f"{project}: no ground truth (not a synthetic studio project)")
        F = store.num_instants
        per = 2
        picks = np.unique(np.linspace(0, F - 1, max(1, tiles // per)).round().astype(int))
        images, captions = [], []
        for i in picks:
            gt = store.ground_truth(int(i))
            order = np.argsort(-gt.visible.sum(axis=1), kind="stable")
            paths = store.image_paths(int(i))
            for c in order[:per]:
                img = read_image_bgr(paths[c])
                if skeleton:
                    img = draw_skeleton(img, gt.uv_px[c], gt.visible[c])
                images.append(img)
                captions.append(store.instant(int(i)).sequence[:26])
    sheet = contact_sheet(images, columns=columns, tile=tile, captions=captions)
    out.parent.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, 85] if out.suffix.lower() in (".jpg", ".jpeg") else []
    if not cv2.imwrite(str(out), sheet, params):
        raise OSError(f"could not write {out}")
    return out
