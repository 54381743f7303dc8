"""Finding the hands of an unlabelled instant without any label (the coarse pass).

The detector is trained on two kinds of crops: a square box around the hands, and (a share
``whole_view_fraction`` of samples) the whole view letterboxed into the crop. So for an
instant nobody labelled:

1. **coarse pass**: every whole view, letterboxed (:func:`letterbox_crop`) to ``crop_px``,
   goes through the detector; its 42 joints, mapped back to image pixels, are rough (one
   heatmap pixel is ~20 image pixels for 96 px crops of 512 px views) but many views agree;
2. **hand centres**: per view and hand, the confidence-weighted mean of its 21 detections
   (:func:`hand_centres_2d`; steadier than any single joint), triangulated by
   ``triangulate_ransac`` with a threshold scaled to the coarse roughness
   (:func:`coarse_threshold_px`). A hand is found when its centre has inliers in at least
   ``min_views`` and ``min_view_fraction`` of the views, and its median confidence is at
   least half the surer hand's. Confidences are floored relative to
   each joint's best view (:func:`confidence_mask`), so an under-trained detector whose
   confidences are low everywhere still finds hands;
3. **3D box -> crops**: each joint is also triangulated; when at least half of a found
   hand's joints have a coarse 3D position, they are projected into every camera and the
   square box around them, padded by ``box_pad`` (a little more than training's 1.25 to
   absorb the coarse error), is that view's crop (:func:`hand_boxes`); otherwise the box of
   a ``hand_radius_mm`` sphere around the 3D centre (:func:`sphere_boxes`). The boxes of the
   two hands are joined (one crop of both, as in training). Views the hands do not reach get
   no crop. The **fine pass** runs on these crops at full resolution; its RANSAC lifting
   decides, per hand, whether the hand is really there.

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
    "hand_centres_2d",
    "confidence_mask",
    "sphere_boxes",
]


@dataclass(frozen=True)
class HandFindingSettings:
    min_confidence: float = 0.02  # coarse detections below this are ignored
    relative_confidence: float = 0.3  # ... and those below this x the joint's best view
    coarse_threshold_heatmap_px: float = 1.5  # RANSAC threshold, in coarse heatmap pixels
    coarse_threshold_px: float | None = None  # in image pixels; overrides the line above
    min_views: int = 3  # inlier views for a coarse joint / hand centre to count
    min_view_fraction: float = 0.2  # ... and this share of the views with an image
    min_joint_fraction: float = 0.5  # share of a hand's joints for a joint-based box
    box_pad: float = 1.4  # fine crop = square box of the projected coarse joints x this
    hand_radius_mm: float = 100.0  # box from the hand centre when the joints are too few
    relative_hand_confidence: float = 0.5  # a hand's median confidence vs the surer hand's


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
    centres_world_mm: np.ndarray | None = None  # (2, 3) hand centres (NaN: not found)


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
    use = np.zeros(skeleton.NUM_JOINTS, bool)
    for h, name in enumerate(skeleton.HANDS):
        if hand_present[h]:
            use[skeleton.hand_joints(name)] = True
    use &= np.isfinite(joints_world_mm).all(axis=1)
    return _boxes_of_points(joints_world_mm[use], rig, pad)


def confidence_mask(confidence: np.ndarray, absolute: float, relative: float) -> np.ndarray:
    """(C, J) confidences with the unusable ones zeroed: below ``absolute``, or below
    ``relative`` x the best view of that joint (a floor that follows how sure the detector
    is overall, so an under-trained one with low confidences everywhere still works)."""
    conf = np.where(np.isfinite(confidence), confidence, 0.0)
    best = conf.max(axis=0, keepdims=True)
    return np.where((conf >= absolute) & (conf >= relative * best), conf, 0.0)


def hand_centres_2d(uv_px: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per view and hand: the confidence-weighted mean of the hand's joint detections.

    Averaging 21 rough detections is far steadier than any one of them. Returns centres
    (C, 2, 2) px (NaN where no usable detection) and their weights (C, 2) (mean confidence).
    """
    C = uv_px.shape[0]
    centres = np.full((C, len(skeleton.HANDS), 2), np.nan)
    weights = np.zeros((C, len(skeleton.HANDS)))
    for h, name in enumerate(skeleton.HANDS):
        sel = skeleton.hand_joints(name)
        w = np.where(np.isfinite(uv_px[:, sel]).all(-1), confidence[:, sel], 0.0)
        total = w.sum(axis=1)
        ok = total > 0
        num = (np.nan_to_num(uv_px[:, sel]) * w[..., None]).sum(axis=1)
        centres[ok, h] = num[ok] / total[ok, None]
        weights[:, h] = w.mean(axis=1)
    return centres, weights


def sphere_boxes(centre_world_mm: np.ndarray, radius_mm: float, rig: CameraRig) -> np.ndarray:
    """(C, 3) square boxes around the projection of a sphere (NaN: behind / off-image)."""
    d = radius_mm / np.sqrt(3.0)
    offsets = np.array(
        [[radius_mm, 0, 0], [-radius_mm, 0, 0], [0, radius_mm, 0], [0, -radius_mm, 0],
         [0, 0, radius_mm], [0, 0, -radius_mm]]
        + [[sx * d, sy * d, sz * d] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]
    )
    pts = centre_world_mm[None] + offsets
    return _boxes_of_points(pts, rig, pad=1.0)


def _boxes_of_points(pts: np.ndarray, rig: CameraRig, pad: float) -> np.ndarray:
    C = len(rig)
    boxes = np.full((C, 3), np.nan)
    if len(pts) == 0:
        return boxes
    uv = project(pts, rig)  # (N, C, 2)
    front = in_front(pts, rig)  # (N, C)
    sizes = rig.sizes
    for c in range(C):
        ok = front[:, c] & np.isfinite(uv[:, c]).all(-1)
        if ok.sum() < 2:
            continue
        x0, y0, size = square_box(uv[ok, c], pad=pad)
        w, h = sizes[c]
        if x0 + size < -0.5 or y0 + size < -0.5 or x0 > w - 0.5 or y0 > h - 0.5:
            continue
        boxes[c] = (x0, y0, size)
    return boxes


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Square boxes covering both (C, 3) box sets (NaN rows ignored)."""
    out = a.copy()
    both = np.isfinite(a).all(1) & np.isfinite(b).all(1)
    only_b = ~np.isfinite(a).all(1) & np.isfinite(b).all(1)
    out[only_b] = b[only_b]
    if both.any():
        lo = np.minimum(a[both, :2], b[both, :2])
        hi = np.maximum(a[both, :2] + a[both, 2:], b[both, :2] + b[both, 2:])
        size = (hi - lo).max(axis=1)
        centre = 0.5 * (lo + hi)
        out[both] = np.column_stack([centre - 0.5 * size[:, None], size])
    return out


def locate_hands(
    uv_px: np.ndarray,
    confidence: np.ndarray,
    rig: CameraRig,
    threshold_px: float,
    settings: HandFindingSettings,
) -> FoundHands:
    """Coarse 3D hands from coarse per-view detections.

    A hand is found when its per-view centres (:func:`hand_centres_2d`) triangulate with
    at least ``min_views`` and ``min_view_fraction`` of the views as inliers. Its fine crop
    is the box of its coarse 3D joints when at least ``min_joint_fraction`` of them
    triangulate, else the box of a ``hand_radius_mm`` sphere around its centre. An absent
    hand's detections agree on no point (or duplicate the other hand: the fine pass decides).

    Args:
        uv_px: (C, J, 2) coarse detections in image pixels (NaN: no image).
        confidence: (C, J) their confidences.
        rig: the capture's C cameras.
        threshold_px: RANSAC inlier threshold for the coarse detections (image pixels).
    """
    conf = confidence_mask(confidence, settings.min_confidence, settings.relative_confidence)
    uv = np.where((conf > 0)[..., None], uv_px, np.nan)
    have = np.isfinite(uv_px).all(-1).any(-1).sum()
    need = max(settings.min_views, int(np.ceil(settings.min_view_fraction * have)))
    tri = triangulate_ransac(np.swapaxes(uv, 0, 1), rig, confidence=conf.T,
                             threshold_px=threshold_px, min_inliers=2)
    n_views = np.where(tri.valid, tri.n_views, 0)
    joints = np.where((n_views >= settings.min_views)[:, None], tri.points_world_mm, np.nan)
    centres, weights = hand_centres_2d(uv, conf)
    ctri = triangulate_ransac(np.swapaxes(centres, 0, 1), rig, confidence=weights.T,
                              threshold_px=threshold_px, min_inliers=2)
    present = ctri.valid & (ctri.n_views >= need)
    # An absent hand's detections are diffuse and their centroids sit near each image's
    # centre, which the dome's cameras all aim at: they can agree on a point. A trained
    # detector is much less sure of them, so a hand must also be about as confident as the
    # surer hand (with an under-trained detector both pass; the fine pass decides).
    raw = np.where(np.isfinite(confidence), confidence, 0.0)
    seen = np.isfinite(uv_px).all(-1).any(-1)
    hand_conf = np.array([
        np.median(raw[seen][:, skeleton.hand_joints(name)].mean(axis=1)) if seen.any() else 0.0
        for name in skeleton.HANDS
    ])
    present &= hand_conf >= settings.relative_hand_confidence * hand_conf.max()
    boxes = np.full((len(rig), 3), np.nan)
    for h, name in enumerate(skeleton.HANDS):
        if not present[h]:
            continue
        sel = skeleton.hand_joints(name)
        ok = np.isfinite(joints[sel]).all(1)
        if ok.mean() >= settings.min_joint_fraction:
            hb = _boxes_of_points(joints[sel][ok], rig, settings.box_pad)
        else:
            hb = sphere_boxes(ctri.points_world_mm[h], settings.hand_radius_mm, rig)
        boxes = _union(boxes, hb)
    return FoundHands(joints_world_mm=joints, hand_present=present, n_views=n_views,
                      boxes=boxes, centres_world_mm=ctri.points_world_mm)


def fine_crops(
    images: Sequence[np.ndarray | None], boxes: np.ndarray, crop_px: int
) -> tuple[np.ndarray, np.ndarray]:
    """Crops (N, S, S, 3) uint8 of the views with an image and a box, and their view indices."""
    views = [c for c, img in enumerate(images) if img is not None and np.isfinite(boxes[c]).all()]
    if not views:
        return np.zeros((0, crop_px, crop_px, 3), np.uint8), np.zeros(0, np.int64)
    crops = np.stack([crop_image(images[c], boxes[c], crop_px) for c in views])
    return crops, np.asarray(views, np.int64)
