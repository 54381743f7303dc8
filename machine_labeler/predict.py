"""Batched inference: crops -> heatmaps -> sub-pixel joints with confidences."""

from __future__ import annotations

import numpy as np
import torch

from machine_labeler.codec import HeatmapCodec, Keypoints2D

__all__ = ["predict_crops", "crops_to_tensor"]


def crops_to_tensor(
    crops: np.ndarray | torch.Tensor, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """(N, S, S, 3) uint8 RGB -> (N, 3, S, S) float in [0, 1] on ``device`` (channels-last
    memory); a float (N, 3, S, S) tensor passes through (moved to ``device``)."""
    if isinstance(crops, torch.Tensor) and crops.dtype.is_floating_point:
        if crops.ndim != 4 or crops.shape[1] != 3:
            raise ValueError(f"float crops must be (N, 3, S, S), got {tuple(crops.shape)}")
        return crops.to(device)
    t = torch.as_tensor(crops)
    if t.ndim != 4 or t.shape[-1] != 3 or t.dtype != torch.uint8:
        raise ValueError(f"crops must be (N, S, S, 3) uint8, got {tuple(t.shape)} {t.dtype}")
    t = t.to(device, non_blocking=True).permute(0, 3, 1, 2)  # a channels-last view
    return t.float().div_(255.0)


@torch.no_grad()
def predict_crops(
    model: torch.nn.Module,
    codec: HeatmapCodec,
    crops: np.ndarray | torch.Tensor,
    device: str | torch.device = "cpu",
    amp: bool = False,
) -> Keypoints2D:
    """Detect joints in crops.

    crops: (N, S, S, 3) uint8 RGB or a float (N, 3, S, S) tensor in [0, 1].
    Returns Keypoints2D: uv in crop pixels (N, J, 2), confidence (N, J).
    The model must already be on ``device`` and in eval mode. ``amp`` runs the forward in
    bfloat16/float16 autocast on CUDA (ignored on CPU).
    """
    x = crops_to_tensor(crops, device)
    dev = torch.device(device)
    if x.shape[0] == 0:
        j = getattr(model, "num_joints", 0)
        return Keypoints2D(np.zeros((0, j, 2)), np.zeros((0, j), np.float32))
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast("cuda", dtype=torch.float16, enabled=amp and dev.type == "cuda"):
        heat, logits = model(x, with_logits=True)
    return codec.decode(heat.float(), None if logits is None else logits.float())
