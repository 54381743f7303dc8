"""Crops, the paper's augmentation, and InterNet targets from one :class:`HandSample`.

The crop follows the public InterNet loader: the hand box is padded to a square and enlarged
×1.25 about its centre, shifted by the augmentation's translation (a fraction of that
square), scaled and rotated about its centre, optionally mirrored, and warped to the config's
``input_px`` with ``cv2.warpAffine`` (bilinear, black outside the image). One 2×3 affine
``crop_from_image`` carries all of it, the mirror included (``x -> W - 1 - x``), so the
joints go through the very matrix the pixels do and its inverse brings predictions back.

Pixel convention (docs/formats.md, "Conventions"): pixel centres at integers, the top-left
one at (0, 0). The square's centre lands on the crop's centre ``((S - 1) / 2, (S - 1) / 2)``
and its edges on the crop's edges (-0.5 and S - 0.5).

Augmentation (InterHand2.6M paper §5 and its public code): translation uniform ±15 % of the
box in x and y; scale 1 + 0.25·clip(N(0, 1), -1, 1) (±25 %); rotation 45°·clip(N(0, 1), -2, 2)
(±90°) with probability 0.6, else 0; horizontal flip with probability 0.5, which swaps the
hands (joint ``j`` becomes ``skeleton.FLIP_INDEX[j]`` and the hand types swap); colour: each
RGB channel multiplied by U(0.8, 1.2) (±20 %), clipped to [0, 255].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from annotator.images import apply_affine, invert_affine
from annotator.skeleton import FLIP_INDEX, HANDS, LEFT_ROOT, RIGHT_ROOT, ROOT_INDEX, hand_slice
from pose_net.data.sample import HandSample

__all__ = [
    "Augmentation",
    "IDENTITY",
    "BOX_PAD",
    "sample_augmentation",
    "crop_affine",
    "crop_image",
    "CropTargets",
    "make_crop",
]

#: The public loader enlarges the (squared) box by this factor before cropping.
BOX_PAD = 1.25


@dataclass(frozen=True)
class Augmentation:
    """One draw of the augmentation; :data:`IDENTITY` is the evaluation crop.

    ``shift``: (2,) fraction of the padded square the crop centre moves by; ``scale``: the
    square grows by this factor (the hand looks smaller above 1); ``rotation_deg``: the crop
    window turns by this angle (the hand turns the other way); ``flip``: mirror
    horizontally and swap hands; ``color``: (3,) RGB channel gains.
    """

    shift: tuple[float, float] = (0.0, 0.0)
    scale: float = 1.0
    rotation_deg: float = 0.0
    flip: bool = False
    color: tuple[float, float, float] = field(default=(1.0, 1.0, 1.0))


IDENTITY = Augmentation()


def sample_augmentation(rng: np.random.Generator) -> Augmentation:
    """A random augmentation with the paper's ranges (see the module docstring)."""
    shift = tuple(float(v) for v in rng.uniform(-0.15, 0.15, size=2))
    scale = 1.0 + 0.25 * float(np.clip(rng.standard_normal(), -1.0, 1.0))
    rotate = rng.random() <= 0.6
    rotation = 45.0 * float(np.clip(rng.standard_normal(), -2.0, 2.0)) if rotate else 0.0
    flip = bool(rng.random() <= 0.5)
    color = tuple(float(v) for v in rng.uniform(0.8, 1.2, size=3))
    return Augmentation(shift, scale, rotation, flip, color)  # type: ignore[arg-type]


def crop_affine(
    bbox_xywh, out_px: int, image_width: int, aug: Augmentation = IDENTITY, pad: float = BOX_PAD
) -> np.ndarray:
    """(2, 3) float64 affine taking image px to crop px.

    Args:
        bbox_xywh: (4,) hand box x, y, w, h in image px (w, h > 0).
        out_px: side S of the square crop.
        image_width: W of the image, for the mirror ``x -> W - 1 - x``.
        aug: the augmentation to build in.
        pad: the squared box is enlarged by this factor (1.25, as the public loader).
    """
    x, y, w, h = (float(v) for v in np.asarray(bbox_xywh, dtype=np.float64).reshape(4))
    if not (np.isfinite([x, y, w, h]).all() and w > 0 and h > 0):
        raise ValueError(f"bbox must be finite with positive width and height, got {bbox_xywh}")
    side = max(w, h) * pad
    centre = np.array([x + w / 2, y + h / 2]) + side * np.asarray(aug.shift)
    mirror = np.eye(3)
    if aug.flip:
        mirror[0, 0], mirror[0, 2] = -1.0, image_width - 1.0
        centre[0] = image_width - 1.0 - centre[0]  # the same window, seen in the mirrored image
    side *= aug.scale
    s = out_px / side
    a = np.deg2rad(aug.rotation_deg)
    # Rotating the window by +a rotates the content by -a in the crop.
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    lin = s * rot
    half = (out_px - 1) / 2
    to_crop = np.eye(3)
    to_crop[:2, :2] = lin
    to_crop[:2, 2] = np.array([half, half]) - lin @ centre
    return (to_crop @ mirror)[:2]


def crop_image(image: np.ndarray, affine: np.ndarray, out_px: int) -> np.ndarray:
    """(H, W, 3) uint8 image -> (S, S, 3) uint8 crop (bilinear; black outside the image)."""
    return cv2.warpAffine(
        image,
        np.asarray(affine, dtype=np.float64),
        (int(out_px), int(out_px)),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )


@dataclass(frozen=True, eq=False)
class CropTargets:
    """One network input and its targets (numpy; the DataLoader's collate makes tensors).

    Attributes:
        image: (3, S, S) float32 RGB in [0, 1].
        uvd: (J, 3) float32: u, v in crop px and depth relative to the joint's own hand root,
            mm (what ``pose_net.heatmaps.joints_to_voxels`` takes).
        joint_valid: (J,) float32 1/0: annotated, inside the crop and inside the depth range.
        hand_type: (2,) float32 [right, left] presence (swapped by a flip).
        hand_type_valid: () float32.
        rel_root_depth_mm: () float32, left root depth minus right root depth (camera z).
        rel_root_valid: () float32: both hands present, both roots valid, inside the range.
        crop_from_image, image_from_crop: (2, 3) float64 affines.
    """

    image: np.ndarray
    uvd: np.ndarray
    joint_valid: np.ndarray
    hand_type: np.ndarray
    hand_type_valid: np.ndarray
    rel_root_depth_mm: np.ndarray
    rel_root_valid: np.ndarray
    crop_from_image: np.ndarray
    image_from_crop: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def make_crop(
    sample: HandSample,
    image_rgb: np.ndarray,
    *,
    input_px: int,
    depth_range_mm: float,
    rel_root_range_mm: float,
    aug: Augmentation = IDENTITY,
) -> CropTargets:
    """The crop of ``sample`` under ``aug`` and its InterNet targets (see :class:`CropTargets`).

    Joints keep their own hand's root as depth origin (``skeleton.ROOT_INDEX``); a joint is
    valid when annotated, its root annotated, its pixel inside the crop (0 <= u, v < S) and
    its relative depth inside [-R/2, R/2), as the public loader decides.
    """
    h_img, w_img = image_rgb.shape[:2]
    affine = crop_affine(sample.bbox_xywh, input_px, w_img, aug)
    crop = crop_image(image_rgb, affine, input_px).astype(np.float32)
    crop = np.clip(crop * np.asarray(aug.color, dtype=np.float32), 0.0, 255.0) / 255.0

    uv = apply_affine(affine, sample.joints_uv_px)
    z = np.asarray(sample.joints_cam_mm, dtype=np.float64)[:, 2].copy()
    valid = np.asarray(sample.joint_valid, dtype=bool).copy()
    hand_type = np.asarray(sample.hand_type, dtype=np.float32).copy()
    if aug.flip:  # the mirrored right hand is a left hand: swap the joint blocks
        uv, z, valid = uv[FLIP_INDEX], z[FLIP_INDEX], valid[FLIP_INDEX]
        hand_type = hand_type[::-1].copy()
    rel = np.full_like(z, np.nan)
    for hand in HANDS:
        sl = hand_slice(hand)
        rel[sl] = z[sl] - z[ROOT_INDEX[hand]]
    with np.errstate(invalid="ignore"):
        inside = np.all((uv >= 0) & (uv < input_px), axis=1)
        in_depth = (rel >= -depth_range_mm / 2) & (rel < depth_range_mm / 2)
    valid &= inside & in_depth & np.isfinite(rel)
    rel_root = z[LEFT_ROOT] - z[RIGHT_ROOT]
    both = bool(hand_type[0] > 0.5 and hand_type[1] > 0.5)
    root_ok = (
        both
        and bool(valid[LEFT_ROOT] and valid[RIGHT_ROOT])
        and np.isfinite(rel_root)
        and -rel_root_range_mm / 2 <= rel_root < rel_root_range_mm / 2
    )
    uvd = np.concatenate([uv, rel[:, None]], axis=1)
    uvd = np.where(np.isfinite(uvd), uvd, 0.0).astype(np.float32)
    return CropTargets(
        image=np.ascontiguousarray(crop.transpose(2, 0, 1)),
        uvd=uvd,
        joint_valid=valid.astype(np.float32),
        hand_type=hand_type,
        hand_type_valid=np.float32(sample.hand_type_valid),
        rel_root_depth_mm=np.float32(rel_root if root_ok else 0.0),
        rel_root_valid=np.float32(root_ok),
        crop_from_image=affine,
        image_from_crop=invert_affine(affine),
    )
