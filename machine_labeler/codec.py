"""Heatmap encode/decode: joint positions in crop pixels <-> per-joint Gaussian heatmaps.

Convention (pixel centres at integers, as OpenCV): heatmap pixel ``k`` covers crop pixels
``[k*s - 0.5, (k+1)*s - 0.5]`` for stride ``s = crop_px / heatmap_px``, so
``u_heat = (u_crop + 0.5) / s - 0.5``. A target is an unnormalised Gaussian (peak 1 at the
joint) of ``sigma_px`` heatmap pixels.

Decoding is argmax + one Newton step on the log heatmap (the "distribution-aware" refinement,
Zhang et al., CVPR 2020): the log of a Gaussian is a quadratic, so a 3x3 finite-difference
gradient and Hessian around the peak give its centre exactly. Network outputs are first
smoothed by a Gaussian of the target's sigma, which makes them closer to that model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["HeatmapCodec", "Keypoints2D"]


@dataclass(frozen=True)
class Keypoints2D:
    """Decoded detections.

    uv_crop_px: (B, J, 2) float64 joint positions in crop pixels (or image pixels once mapped
        by :func:`machine_labeler.crops.crop_to_image`).
    confidence: (B, J) float32 peak heatmap value (about 1 for a sure joint, 0 for none).
    """

    uv_crop_px: np.ndarray
    confidence: np.ndarray


class HeatmapCodec:
    """Encode joint positions as heatmaps and decode heatmaps back to sub-pixel positions."""

    def __init__(self, crop_px: int, heatmap_px: int, sigma_px: float, blur: bool = True) -> None:
        if crop_px <= 0 or heatmap_px <= 0 or crop_px % heatmap_px:
            raise ValueError("heatmap_px must be positive and divide crop_px")
        if not sigma_px > 0:
            raise ValueError("sigma_px must be > 0")
        self.crop_px = int(crop_px)
        self.heatmap_px = int(heatmap_px)
        self.sigma_px = float(sigma_px)
        self.stride = self.crop_px // self.heatmap_px
        self.blur = bool(blur)
        r = max(1, int(math.ceil(2.0 * self.sigma_px)))
        x = np.arange(-r, r + 1, dtype=np.float64)
        k = np.exp(-0.5 * (x / self.sigma_px) ** 2)
        self._kernel_1d = torch.tensor(k / k.sum(), dtype=torch.float32)

    @classmethod
    def from_config(cls, config) -> HeatmapCodec:  # noqa: ANN001 (LabelerConfig; no cycle)
        return cls(config.crop_px, config.heatmap_px, config.sigma_px)

    # -- coordinates ----------------------------------------------------------------------
    def crop_to_heat(self, uv_crop_px: np.ndarray) -> np.ndarray:
        return (np.asarray(uv_crop_px, dtype=np.float64) + 0.5) / self.stride - 0.5

    def heat_to_crop(self, uv_heat: np.ndarray) -> np.ndarray:
        return (np.asarray(uv_heat, dtype=np.float64) + 0.5) * self.stride - 0.5

    # -- encode ---------------------------------------------------------------------------
    def encode(self, uv_crop_px: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """Target heatmaps.

        uv_crop_px: (..., J, 2) joint positions in crop pixels (NaN = no joint).
        valid: (..., J) bool; False (or a NaN position) gives an all-zero heatmap.
        Returns (..., J, h, w) float32 with h = w = heatmap_px.
        """
        uv = np.asarray(uv_crop_px, dtype=np.float64)
        if uv.ndim < 2 or uv.shape[-1] != 2:
            raise ValueError(f"uv_crop_px must have shape (..., J, 2), got {uv.shape}")
        ok = np.all(np.isfinite(uv), axis=-1)
        if valid is not None:
            valid = np.asarray(valid, dtype=bool)
            if valid.shape != uv.shape[:-1]:
                raise ValueError(f"valid must have shape {uv.shape[:-1]}, got {valid.shape}")
            ok &= valid
        m = self.crop_to_heat(np.where(ok[..., None], uv, 0.0))
        grid = np.arange(self.heatmap_px, dtype=np.float64)
        inv = 1.0 / (2.0 * self.sigma_px**2)
        gx = np.exp(-((grid - m[..., 0:1]) ** 2) * inv)  # (..., J, w)
        gy = np.exp(-((grid - m[..., 1:2]) ** 2) * inv)  # (..., J, h)
        heat = gy[..., :, None] * gx[..., None, :]
        heat *= ok[..., None, None]
        return heat.astype(np.float32)

    def target_distribution(self, heat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised spatial distributions of target heatmaps (B, J, h, w) and a (B, J)
        mask of the joints whose Gaussian lies mostly inside the map (peak > 0.5)."""
        mass = heat.sum(dim=(2, 3), keepdim=True)
        inside = heat.amax(dim=(2, 3)) > 0.5
        return heat / mass.clamp_min(1e-12), inside

    # -- decode ---------------------------------------------------------------------------
    def decode(
        self, heatmaps: torch.Tensor | np.ndarray, logits: torch.Tensor | None = None
    ) -> Keypoints2D:
        """Sub-pixel joint positions and confidences.

        heatmaps: (B, J, h, w) tensor (any device/dtype) or array.
        logits: optional (B, J, h, w) location logits (log of an unnormalised spatial
            distribution); when given the position comes from them (argmax + Newton step on
            the logits themselves) and the confidence is the heatmap's peak near it.
        Returns Keypoints2D with uv in crop pixels (B, J, 2) and confidence (B, J).
        """
        h = torch.as_tensor(heatmaps).detach().float()
        if h.ndim != 4:
            raise ValueError(f"heatmaps must have shape (B, J, h, w), got {tuple(h.shape)}")
        b, j, hh, ww = h.shape
        if logits is not None:
            lg = torch.as_tensor(logits).detach().float()
            if lg.shape != h.shape:
                raise ValueError(f"logits {tuple(lg.shape)} must match heatmaps {tuple(h.shape)}")
            idx = lg.reshape(b, j, -1).argmax(dim=-1)
            # Confidence: the heatmap's highest value within one pixel of the location peak
            # (9 gathers: a 3x3 max-pool over every map costs ~10x more on CPU).
            hp = F.pad(h, (1, 1, 1, 1), mode="replicate").reshape(b, j, -1)
            cx, cy = (idx % ww).long() + 1, (idx // ww).long() + 1
            conf = torch.stack(
                [
                    torch.gather(hp, 2, ((cy + dy) * (ww + 2) + cx + dx).unsqueeze(-1))[..., 0]
                    for dy in (-1, 0, 1)
                    for dx in (-1, 0, 1)
                ]
            ).amax(dim=0)
            logh = lg
        else:
            conf, idx = h.reshape(b, j, -1).max(dim=-1)
            sm = self._smooth(h) if self.blur else h
            # Log of the (smoothed) heatmap, floored so that empty maps stay finite.
            logh = torch.log(sm.clamp_min(1e-10))
        ix = (idx % ww).long()
        iy = (idx // ww).long()
        logh = F.pad(logh, (1, 1, 1, 1), mode="replicate").reshape(b, j, -1)
        w2 = ww + 2

        def at(dx: int, dy: int) -> torch.Tensor:
            return torch.gather(logh, 2, ((iy + 1 + dy) * w2 + (ix + 1 + dx)).unsqueeze(-1))[..., 0]

        c = at(0, 0)
        dx = 0.5 * (at(1, 0) - at(-1, 0))
        dy = 0.5 * (at(0, 1) - at(0, -1))
        dxx = at(1, 0) - 2 * c + at(-1, 0)
        dyy = at(0, 1) - 2 * c + at(0, -1)
        dxy = 0.25 * (at(1, 1) - at(-1, 1) - at(1, -1) + at(-1, -1))
        det = dxx * dyy - dxy * dxy
        # A Newton step only where the log map is a proper maximum (negative definite).
        ok = (det > 1e-12) & (dxx < 0)
        safe = torch.where(ok, det, torch.ones_like(det))
        ox = torch.where(ok, -(dyy * dx - dxy * dy) / safe, torch.zeros_like(det))
        oy = torch.where(ok, -(dxx * dy - dxy * dx) / safe, torch.zeros_like(det))
        ox = ox.clamp(-1.0, 1.0)
        oy = oy.clamp(-1.0, 1.0)
        uv_heat = torch.stack([ix.double() + ox.double(), iy.double() + oy.double()], dim=-1)
        uv = self.heat_to_crop(uv_heat.cpu().numpy())
        return Keypoints2D(uv_crop_px=uv, confidence=conf.cpu().numpy().astype(np.float32))

    def _smooth(self, h: torch.Tensor) -> torch.Tensor:
        """Separable Gaussian blur (sigma of the targets), replicate-padded, max preserved."""
        b, j, hh, ww = h.shape
        k = self._kernel_1d.to(h.device)
        r = k.numel() // 2
        x = h.reshape(b * j, 1, hh, ww)
        x = F.pad(x, (r, r, 0, 0), mode="replicate")
        x = F.conv2d(x, k.view(1, 1, 1, -1))
        x = F.pad(x, (0, 0, r, r), mode="replicate")
        x = F.conv2d(x, k.view(1, 1, -1, 1))
        return x.reshape(b, j, hh, ww)
