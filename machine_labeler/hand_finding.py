"""Finding the hands of an unlabelled instant without any label (the coarse pass).

The detector is trained on two kinds of crops: a square box around the hands, and (a share
``whole_view_fraction`` of samples) the whole view letterboxed into the crop. So for an
instant nobody labelled:

1. **coarse pass**: every whole view, letterboxed (:func:`letterbox_crop`) to ``crop_px``,
   goes through the detector; its 42 joints, mapped back to image pixels, are rough (one
   heatmap pixel is ~20 image pixels for 96 px crops of 512 px views) but many views agree;
2. **coarse 3D**: ``triangulate_ransac`` of each joint over all views with a threshold scaled
   to that roughness (:func:`coarse_threshold_px`). A hand is present when at least
   ``min_joint_fraction`` of its joints triangulate with ``min_views`` inlier views;
3. **3D box -> crops** (:func:`hand_boxes`): the coarse 3D joints of the present hands are
   projected into every camera; the square box around them, padded by ``box_pad`` (a little
   more than training's 1.25 to absorb the coarse error), is that view's crop for the
   **fine pass** at full resolution. Views the hands do not reach get no crop.

Pure numpy / OpenCV: the detector is passed in as a callable, so this module is tested
without torch and reused by the batch labeller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from annotator import skeleton
from machine_labeler.crops import crop_image, letterbox_box, square_box
from triangulation import CameraRig, in_front, project, triangulate_ransac

__all__ = [
    "HandFindingSettings",
    "FoundHands",
    "letterbox_crop",
    "coarse_threshold_px",
    "locate_hands",
    "hand_boxes",
    "hand_presence",
]


@dataclass(frozen=True)
class HandFindingSettings:
    min_confidence: float = 0.15  # coarse detections below this are ignored
    coarse_threshold_heatmap_px: float = 1.5  # RANSAC threshold, in coarse heatmap pixels
    coarse_threshold_px: float | None = None  # in image pixels; overrides the line above
    min_views: int = 3  # inlier views for a coarse joint to count
    min_joint_fraction: float = 0.5  # share of a hand's joints needed to call it present
    box_pad: float = 1.4  # fine crop = square box of the projected coarse joints x this


@dataclass(frozen=True)
class FoundHands:
    """Result of the coarse pass for one instant (C = the capture's cameras).

    joints_world_mm (J, 3) coarse 3D joints (NaN where not found); hand_present (2,) bool in
    skeleton.HANDS order; n_views (J,) inlier views per joint; boxes (C, 3) fine crop boxes
    ``x0, y0, size`` in image pixels (NaN rows: no crop in that view).
    """

    joints_world_mm: np.ndarray
    hand_present: np.ndarray
    n_views: np.ndarray
    boxes: np.ndarray


def letterbox_crop(image: np.ndarray, crop_px: int) -> tuple[np.ndarray, np.ndarray]:
    """The whole (H, W, 3) uint8 view letterboxed to (crop_px, crop_px, 3), and its box."""
    h, w = image.shape[:2]
    box = letterbox_box(int(w), int(h))
    return crop_image(image, box, crop_px), box


def coarse_threshold_px(
    rig: CameraRig, crop_px: int, heatmap_px: int, heatmap_threshold: float
) -> float:
    """The coarse RANSAC threshold in image pixels: ``heatmap_threshold`` heatmap pixels of
    the letterboxed view (the longest image side / heatmap_px image pixels each)."""
    longest = float(np.max(rig.sizes))
    return heatmap_threshold * longest / heatmap_px


def hand_presence(n_views: np.ndarray, min_views: int, min_joint_fraction: float) -> np.ndarray:
    """(2,) bool: per hand, whether enough of its joints have ``min_views`` inlier views."""
    out = np.zeros(len(skeleton.HANDS), bool)
    for h, name in enumerate(skeleton.HANDS):
        sel = skeleton.hand_joints(name)
        out[h] = np.mean(n_views[sel] >= min_views) >= min_joint_fraction
    return out


def hand_boxes(
    joints_world_mm: np.ndarray,
    hand_present: np.ndarray,
    rig: CameraRig,
    pad: float,
) -> np.ndarray:
    """(C, 3) square crop boxes around the projected joints of the present hands.

    A view gets NaN when no such joint is in front of it or the box misses its image.
    """
    C = len(rig)
    boxes = np.full((C, 3), np.nan)
    use = np.zeros(skeleton.NUM_JOINTS, bool)
    for h, name in enumerate(skeleton.HANDS):
        if hand_present[h]:
            use[skeleton.hand_joints(name)] = True
    use &= np.isfinite(joints_world_mm).all(axis=1)
    if not use.any():
        return boxes
    pts = joints_world_mm[use]
    uv = project(pts, rig)  # (N, C, 2)
    front = in_front(pts, rig)  # (N, C)
    sizes = rig.sizes
    for c in range(C):
        ok = front[:, c] & np.isfinite(uv[:, c]).all(-1)
        if ok.sum() < 2:
            continue
        box = square_box(uv[ok, c], pad=pad)
        x0, y0, s = box
        w, h = sizes[c]
        if x0 + s < -0.5 or y0 + s < -0.5 or x0 > w - 0.5 or y0 > h - 0.5:
            continue
        boxes[c] = box
    return boxes


def locate_hands(
    uv_px: np.ndarray,
    confidence: np.ndarray,
    rig: CameraRig,
    threshold_px: float,
    settings: HandFindingSettings,
) -> FoundHands:
    """Coarse 3D hands from coarse per-view detections.

    Args:
        uv_px: (C, J, 2) coarse detections in image pixels (NaN: no image).
        confidence: (C, J) their confidences.
        rig: the capture's C cameras.
        threshold_px: RANSAC inlier threshold for the coarse detections (image pixels).
    """
    conf = np.where(
        np.isfinite(confidence) & (confidence >= settings.min_confidence), confidence, 0.0
    )
    uv = np.where((conf > 0)[..., None], uv_px, np.nan)
    tri = triangulate_ransac(
        np.swapaxes(uv, 0, 1), rig, confidence=conf.T, threshold_px=threshold_px, min_inliers=2
    )
    n_views = np.where(tri.valid, tri.n_views, 0)
    present = hand_presence(n_views, settings.min_views, settings.min_joint_fraction)
    joints = np.where((n_views >= settings.min_views)[:, None], tri.points_world_mm, np.nan)
    boxes = hand_boxes(joints, present, rig, settings.box_pad)
    return FoundHands(joints_world_mm=joints, hand_present=present, n_views=n_views, boxes=boxes)


def fine_crops(
    images: Sequence[np.ndarray | None], boxes: np.ndarray, crop_px: int
) -> tuple[np.ndarray, np.ndarray]:
    """Crops (N, S, S, 3) uint8 of the views with an image and a box, and their view indices."""
    views = [c for c, img in enumerate(images) if img is not None and np.isfinite(boxes[c]).all()]
    if not views:
        return np.zeros((0, crop_px, crop_px, 3), np.uint8), np.zeros(0, np.int64)
    crops = np.stack([crop_image(images[c], boxes[c], crop_px) for c in views])
    return crops, np.asarray(views, np.int64)
