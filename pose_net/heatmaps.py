"""The 2.5D heatmap codec of InterNet: crop pixels + relative depth <-> voxels <-> heatmaps.

Conventions (those of the public InterNet code, stated here once):

- A joint is ``(u, v, d)``: ``u, v`` pixels in the input crop (column, row), ``d`` its depth
  relative to its own hand's root (wrist), in mm. Voxel coordinates are ``(x, y, z)`` in that
  order, while a heatmap tensor is indexed ``[..., z, y, x]`` (D, H, W).
- ``x = u / input_px · W`` and ``y = v / input_px · H`` (a plain rescale: voxel ``i`` is the
  Gaussian centred at coordinate ``i``; no half-pixel shift, as the public code);
  ``z = (d / (R/2) + 1) / 2 · D`` with ``R = depth_range_mm``, so ``d = 0`` is ``z = D/2``.
- The right-relative left root depth (left wrist depth minus right wrist depth, mm) maps the
  same way onto ``rel_root_bins`` bins over ``rel_root_range_mm``.
- A target is ``heatmap_peak · exp(-‖p − voxel‖² / (2σ²))`` (σ in voxels, peak 255 as the
  public code), rendered separably (one 1D Gaussian per axis, multiplied).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pose_net.config import InterNetConfig

__all__ = [
    "HeatmapPeaks",
    "joints_to_voxels",
    "voxels_to_joints",
    "in_volume",
    "rel_root_mm_to_bins",
    "rel_root_bins_to_mm",
    "render_gaussian_targets",
    "decode_heatmaps",
    "soft_argmax_1d",
    "soft_argmax_3d",
    "decode_output",
]


@dataclass(frozen=True)
class HeatmapPeaks:
    """Decoded heatmaps: ``voxels`` (..., J, 3) as (x, y, z); ``confidence`` (..., J) peak value."""

    voxels: torch.Tensor
    confidence: torch.Tensor


def _check_last3(t: torch.Tensor, name: str) -> None:
    if t.ndim < 1 or t.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (..., 3), got {tuple(t.shape)}")


def joints_to_voxels(uvd: torch.Tensor, config: InterNetConfig) -> torch.Tensor:
    """(..., 3) crop px + root-relative depth mm -> (..., 3) voxel coordinates (x, y, z)."""
    _check_last3(uvd, "uvd")
    scale = config.heatmap_px / config.input_px
    half = config.depth_range_mm / 2.0
    x = uvd[..., 0] * scale
    y = uvd[..., 1] * scale
    z = (uvd[..., 2] / half + 1.0) / 2.0 * config.depth_bins
    return torch.stack((x, y, z), dim=-1)


def voxels_to_joints(voxels: torch.Tensor, config: InterNetConfig) -> torch.Tensor:
    """Inverse of :func:`joints_to_voxels`: (..., 3) voxels -> crop px and relative depth mm."""
    _check_last3(voxels, "voxels")
    scale = config.input_px / config.heatmap_px
    half = config.depth_range_mm / 2.0
    u = voxels[..., 0] * scale
    v = voxels[..., 1] * scale
    d = (voxels[..., 2] / config.depth_bins * 2.0 - 1.0) * half
    return torch.stack((u, v, d), dim=-1)


def in_volume(voxels: torch.Tensor, config: InterNetConfig) -> torch.Tensor:
    """(..., 3) -> (...,) bool: the voxel lies in [0, W) × [0, H) × [0, D).

    The public code drops a joint from the loss when it leaves the crop or the depth range;
    datasets AND this mask into ``joint_valid``.
    """
    _check_last3(voxels, "voxels")
    hw = config.heatmap_px
    return (
        (voxels[..., 0] >= 0) & (voxels[..., 0] < hw)
        & (voxels[..., 1] >= 0) & (voxels[..., 1] < hw)
        & (voxels[..., 2] >= 0) & (voxels[..., 2] < config.depth_bins)
    )


def rel_root_mm_to_bins(depth_mm: torch.Tensor, config: InterNetConfig) -> torch.Tensor:
    """Right-relative left root depth in mm -> continuous bin coordinate in [0, bins)."""
    half = config.rel_root_range_mm / 2.0
    return (depth_mm / half + 1.0) / 2.0 * config.rel_root_bins


def rel_root_bins_to_mm(bins: torch.Tensor, config: InterNetConfig) -> torch.Tensor:
    """Inverse of :func:`rel_root_mm_to_bins`."""
    half = config.rel_root_range_mm / 2.0
    return (bins / config.rel_root_bins * 2.0 - 1.0) * half


def render_gaussian_targets(voxels: torch.Tensor, valid: torch.Tensor | None,
                            config: InterNetConfig) -> torch.Tensor:
    """Gaussian heatmap targets.

    voxels: (B, J, 3) (x, y, z); valid: (B, J) or None. Returns (B, J, D, H, W) with
    ``heatmap_peak`` at the voxel position; invalid joints are all zero (the loss masks them
    anyway). Rendered separably: exp(a+b+c) = exp(a)·exp(b)·exp(c).
    """
    if voxels.ndim != 3 or voxels.shape[-1] != 3:
        raise ValueError(f"voxels must be (B, J, 3), got {tuple(voxels.shape)}")
    dev, dt = voxels.device, torch.float32
    hw, dd, s = config.heatmap_px, config.depth_bins, float(config.sigma_voxels)
    v = voxels.to(dt)

    def axis(n: int, c: torch.Tensor) -> torch.Tensor:  # (B, J) -> (B, J, n)
        grid = torch.arange(n, device=dev, dtype=dt)
        return torch.exp(-0.5 * ((grid - c[..., None]) / s) ** 2)

    gx, gy, gz = axis(hw, v[..., 0]), axis(hw, v[..., 1]), axis(dd, v[..., 2])
    peak = torch.full(v.shape[:2], float(config.heatmap_peak), device=dev, dtype=dt)
    if valid is not None:
        if valid.shape != v.shape[:2]:
            raise ValueError(f"valid must be {tuple(v.shape[:2])}, got {tuple(valid.shape)}")
        peak = peak * valid.to(dt)
    gz = gz * peak[..., None]
    return gz[..., :, None, None] * gy[..., None, :, None] * gx[..., None, None, :]


def _parabola_offset(lm: torch.Tensor, l0: torch.Tensor, lp: torch.Tensor) -> torch.Tensor:
    """Vertex of the parabola through (-1, lm), (0, l0), (1, lp); 0 where it is not a maximum."""
    denom = lm - 2.0 * l0 + lp
    ok = torch.isfinite(denom) & (denom < 0)
    off = 0.5 * (lm - lp) / torch.where(ok, denom, torch.ones_like(denom))
    return torch.where(ok, off.clamp(-0.5, 0.5), torch.zeros_like(off))


def decode_heatmaps(heatmaps: torch.Tensor, subvoxel: bool = False) -> HeatmapPeaks:
    """Peak of each joint's 3D heatmap.

    heatmaps: (..., J, D, H, W). Returns voxels (..., J, 3) as float (x, y, z) and the peak
    value. ``subvoxel=False`` is the public code's integer argmax (used for evaluation);
    ``subvoxel=True`` adds, per axis, the vertex of the parabola through the logarithms of the
    peak and its two neighbours, which is exact for a sampled Gaussian (positive values only;
    elsewhere, or at the border, the offset is 0).
    """
    if heatmaps.ndim < 4:
        raise ValueError(f"heatmaps must be (..., J, D, H, W), got {tuple(heatmaps.shape)}")
    d, h, w = heatmaps.shape[-3:]
    flat = heatmaps.reshape(*heatmaps.shape[:-3], d * h * w)
    conf, idx = flat.max(dim=-1)
    z = torch.div(idx, h * w, rounding_mode="floor")
    y = torch.div(idx, w, rounding_mode="floor") % h
    x = idx % w
    vox = torch.stack((x, y, z), dim=-1).to(torch.float32)
    if not subvoxel:
        return HeatmapPeaks(vox, conf)

    def value_at(dz: int, dy: int, dx: int) -> tuple[torch.Tensor, torch.Tensor]:
        zz, yy, xx = z + dz, y + dy, x + dx
        inside = (zz >= 0) & (zz < d) & (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        lin = zz.clamp(0, d - 1) * h * w + yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)
        val = flat.gather(-1, lin[..., None])[..., 0].to(torch.float32)
        return val, inside

    c = conf.to(torch.float32)
    offsets = []
    for delta in ((0, 0, 1), (0, 1, 0), (1, 0, 0)):  # x, y, z
        vm, im = value_at(*(-k for k in delta))
        vp, ip = value_at(*delta)
        good = im & ip & (vm > 0) & (vp > 0) & (c > 0)
        tiny = torch.finfo(torch.float32).tiny
        off = _parabola_offset(vm.clamp_min(tiny).log(), c.clamp_min(tiny).log(),
                               vp.clamp_min(tiny).log())
        offsets.append(torch.where(good, off, torch.zeros_like(off)))
    return HeatmapPeaks(vox + torch.stack(offsets, dim=-1), conf)


def soft_argmax_1d(logits: torch.Tensor) -> torch.Tensor:
    """(B, K) logits -> (B,) expected bin index Σ softmax(logits)_k · k, in [0, K-1]."""
    if logits.ndim != 2:
        raise ValueError(f"logits must be (B, K), got {tuple(logits.shape)}")
    prob = F.softmax(logits.float(), dim=1)
    bins = torch.arange(logits.shape[1], device=logits.device, dtype=prob.dtype)
    return (prob * bins).sum(dim=1)


def soft_argmax_3d(heatmaps: torch.Tensor) -> torch.Tensor:
    """(..., J, D, H, W) logits -> (..., J, 3) expected voxel (x, y, z) under the softmax
    over each joint's whole volume (integral regression, Sun et al. 2018); differentiable.

    Each coordinate lies in [0, size - 1]: the expectation of the voxel index per axis.
    """
    if heatmaps.ndim < 4:
        raise ValueError(f"heatmaps must be (..., J, D, H, W), got {tuple(heatmaps.shape)}")
    d, h, w = heatmaps.shape[-3:]
    lead = heatmaps.shape[:-3]
    prob = F.softmax(heatmaps.float().reshape(*lead, d * h * w), dim=-1).reshape(*lead, d, h, w)
    dev = heatmaps.device

    def expect(marginal: torch.Tensor, n: int) -> torch.Tensor:
        return (marginal * torch.arange(n, device=dev, dtype=marginal.dtype)).sum(dim=-1)

    x = expect(prob.sum(dim=(-3, -2)), w)
    y = expect(prob.sum(dim=(-3, -1)), h)
    z = expect(prob.sum(dim=(-2, -1)), d)
    return torch.stack((x, y, z), dim=-1)


def decode_output(heatmaps: torch.Tensor, config: InterNetConfig,
                  subvoxel: bool = False) -> HeatmapPeaks:
    """Joint voxels of a model's heatmaps (..., J, D, H, W) as its config decodes them.

    ``config.decoding == "argmax"`` (``paper``): :func:`decode_heatmaps` (integer argmax, the
    public code; ``subvoxel`` refines it). ``"soft-argmax"``: :func:`soft_argmax_3d`, with the
    largest softmax probability of each joint as its confidence (``subvoxel`` is moot).
    """
    if config.decoding == "argmax":
        return decode_heatmaps(heatmaps, subvoxel=subvoxel)
    d, h, w = heatmaps.shape[-3:]
    flat = heatmaps.float().reshape(*heatmaps.shape[:-3], d * h * w)
    conf = F.softmax(flat, dim=-1).amax(dim=-1)
    return HeatmapPeaks(soft_argmax_3d(heatmaps), conf)
