"""Square crops around the hands and their pixel mappings.

A box is ``(x0, y0, size)`` in image pixels: its left/top *edge* (pixel centres are at
integers, so the image's own left edge is at -0.5) and its side. A crop of ``crop_px``
pixels maps the box onto ``[-0.5, crop_px - 0.5]``: ``u_crop = (u - x0) * crop_px / size - 0.5``.
The same affine drives ``cv2.warpAffine``, so crop pixels and crop coordinates agree exactly.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from annotator.images import apply_affine, invert_affine

__all__ = [
    "square_box",
    "letterbox_box",
    "crop_affine",
    "crop_image",
    "warp_image",
    "pre_shrink_factor",
    "crop_to_image",
    "image_to_crop",
]


def square_box(uv_px: np.ndarray, pad: float = 1.25, min_size_px: float = 8.0) -> np.ndarray:
    """Square box around points: centred on their tight box, side = longer side x ``pad``.

    uv_px: (N, 2) image pixels; NaN rows are ignored. Returns (3,) float64 ``x0, y0, size``.
    """
    uv = np.asarray(uv_px, dtype=np.float64).reshape(-1, 2)
    ok = np.all(np.isfinite(uv), axis=1)
    if not ok.any():
        raise ValueError("square_box needs at least one finite point")
    if not pad > 0:
        raise ValueError("pad must be > 0")
    lo = uv[ok].min(axis=0)
    hi = uv[ok].max(axis=0)
    centre = 0.5 * (lo + hi)
    size = max(float((hi - lo).max()) * pad, float(min_size_px))
    return np.array([centre[0] - 0.5 * size, centre[1] - 0.5 * size, size])


def letterbox_box(width: int, height: int) -> np.ndarray:
    """Box holding a whole ``width`` x ``height`` image, centred (the coarse pass input)."""
    size = float(max(width, height))
    return np.array([-0.5 - 0.5 * (size - width), -0.5 - 0.5 * (size - height), size])


def _check_box(box: np.ndarray) -> np.ndarray:
    b = np.asarray(box, dtype=np.float64).reshape(-1)
    if b.shape != (3,) or not np.all(np.isfinite(b)) or b[2] <= 0:
        raise ValueError(f"box must be finite (x0, y0, size) with size > 0, got {b}")
    return b


def crop_affine(box: np.ndarray, crop_px: int) -> np.ndarray:
    """(2, 3) affine taking image pixels to crop pixels for ``box`` and ``crop_px``."""
    x0, y0, size = _check_box(box)
    s = crop_px / size
    return np.array([[s, 0.0, -x0 * s - 0.5], [0.0, s, -y0 * s - 0.5]])


def crop_to_image(uv_crop_px: np.ndarray, box: np.ndarray, crop_px: int) -> np.ndarray:
    """Crop pixels (..., 2) -> image pixels for ``box``."""
    x0, y0, size = _check_box(box)
    uv = np.asarray(uv_crop_px, dtype=np.float64)
    return (uv + 0.5) * (size / crop_px) + np.array([x0, y0])


def image_to_crop(uv_px: np.ndarray, box: np.ndarray, crop_px: int) -> np.ndarray:
    """Image pixels (..., 2) -> crop pixels for ``box``."""
    x0, y0, size = _check_box(box)
    uv = np.asarray(uv_px, dtype=np.float64)
    return (uv - np.array([x0, y0])) * (crop_px / size) - 0.5


def pre_shrink_factor(scale: float) -> int:
    """The power of 2 :func:`warp_image` box-shrinks by before its anti-aliasing blur, for an
    affine of ``scale`` output pixels per image pixel: the largest that stays below 0.8
    output pixel (1: no pre-shrink)."""
    return 1 << max(int(math.log2(0.8 / scale)), 0)


def warp_image(image: np.ndarray, m: np.ndarray, crop_px: int) -> np.ndarray:
    """Warp ``image`` (H, W, 3) uint8 by the (2, 3) image->crop affine ``m`` into a
    (crop_px, crop_px, 3) crop; outside the image is black.

    When the affine shrinks the image by more than 1.5x the source region is first blurred
    (a Gaussian of ~0.5 output pixel) so the bilinear sample does not alias; a symmetric blur
    leaves positions unbiased.
    """
    m = np.asarray(m, dtype=np.float64)
    scale = math.sqrt(abs(np.linalg.det(m[:, :2])))
    src = image
    if scale < 1.0 / 1.5:
        # Blur only the source region the crop reads (plus the kernel's reach).
        inv = invert_affine(m)
        corners = apply_affine(
            inv, np.array([[-1, -1], [crop_px, -1], [-1, crop_px], [crop_px, crop_px]])
        )
        sigma = 0.5 / scale
        r = int(math.ceil(3 * sigma)) + 2
        h, w = image.shape[:2]
        xa = max(int(math.floor(corners[:, 0].min())) - r, 0)
        ya = max(int(math.floor(corners[:, 1].min())) - r, 0)
        xb = min(int(math.ceil(corners[:, 0].max())) + r + 1, w)
        yb = min(int(math.ceil(corners[:, 1].max())) + r + 1, h)
        if xb <= xa or yb <= ya:
            return np.zeros((crop_px, crop_px, 3), dtype=np.uint8)
        region = image[ya:yb, xa:xb]
        m = m.copy()
        m[:, 2] += m[:, :2] @ np.array([xa, ya], dtype=np.float64)
        # Shrinking by a factor k = 2^n first (exact k x k box means) leaves a k^2 smaller
        # image to blur: the box already holds (k^2 - 1) / 12 of the variance. Halving n
        # times (OpenCV's fast 2x2 INTER_AREA path, ~5x quicker than one odd-factor
        # INTER_AREA) gives exactly the k x k means.
        k = pre_shrink_factor(scale)
        # a box far larger than the image (e.g. around a wildly wrong hand) wants a shrink
        # beyond the region's size: shrink as far as the region allows (the blur left on the
        # few pixels that remain is cheap; a huge blur of the whole image is not)
        fits = min(region.shape[0], region.shape[1]) // 2
        if fits >= 2:
            k = min(k, 1 << int(math.log2(fits)))
        if k >= 2 and region.shape[0] >= 2 * k and region.shape[1] >= 2 * k:
            hk, wk = region.shape[0] // k, region.shape[1] // k
            region = region[: hk * k, : wk * k]
            while region.shape[0] > hk:
                h2, w2 = region.shape[0] // 2, region.shape[1] // 2
                region = cv2.resize(region, (w2, h2), interpolation=cv2.INTER_AREA)
            # small pixel j covers source pixels k j .. k j + k - 1: its centre is k j + (k-1)/2
            m[:, 2] += m[:, :2] @ np.full(2, (k - 1) / 2.0)
            m[:, :2] *= k
            sigma = math.sqrt(max(sigma**2 - (k * k - 1) / 12.0, 0.0)) / k
        # a blur wider than the region is its mean already; a kernel of ~6 sigma taps for a
        # box thousands of times the image would not fit in memory
        sigma = min(sigma, float(max(region.shape[0], region.shape[1])))
        src = cv2.GaussianBlur(region, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REPLICATE)
    return cv2.warpAffine(
        src,
        m,
        (crop_px, crop_px),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )


def crop_image(image: np.ndarray, box: np.ndarray, crop_px: int) -> np.ndarray:
    """The (crop_px, crop_px, 3) uint8 crop of ``image`` (H, W, 3) for ``box``."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    return warp_image(image, crop_affine(box, crop_px), crop_px)
