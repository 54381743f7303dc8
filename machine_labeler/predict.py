"""Batched inference: crops -> heatmaps -> sub-pixel joints with confidences.

With ``flip=True`` each crop is also run mirrored (test-time augmentation): the mirrored
outputs are mirrored back, their hands' channels swapped (the training's flips swap the
hands, so the network is trained to be mirror-equivariant), and averaged with the plain
outputs before decoding. Where the network's two channel sets hold the two hands by its own
choice (two-hand crops trained with ``two_hand_channels="either"``), the mirrored pass may
put the hands the other way round: per crop, the pairing of the two passes' hand channels
with the smaller disagreement is the one averaged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from annotator import skeleton
from machine_labeler.codec import HeatmapCodec, Keypoints2D

__all__ = ["predict_crops", "crops_to_tensor", "merge_passes"]


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
    model: torch.nn.Module | Sequence[torch.nn.Module],
    codec: HeatmapCodec,
    crops: np.ndarray | torch.Tensor,
    device: str | torch.device = "cpu",
    amp: bool = False,
    flip: bool = False,
) -> Keypoints2D:
    """Detect joints in crops.

    crops: (N, S, S, 3) uint8 RGB or a float (N, 3, S, S) tensor in [0, 1].
    Returns Keypoints2D: uv in crop pixels (N, J, 2), confidence (N, J).
    The model must already be on ``device`` and in eval mode. ``amp`` runs the forward in
    bfloat16/float16 autocast on CUDA (ignored on CPU). ``flip`` adds the mirrored pass;
    several models (one codec) are an ensemble (module docstring).
    """
    models = [model] if isinstance(model, torch.nn.Module) else list(model)
    if not models:
        raise ValueError("predict_crops: no model")
    x = crops_to_tensor(crops, device)
    dev = torch.device(device)
    if x.shape[0] == 0:
        j = getattr(models[0], "num_joints", 0)
        return Keypoints2D(np.zeros((0, j, 2)), np.zeros((0, j), np.float32))
    x = x.contiguous(memory_format=torch.channels_last)
    if flip:
        x = torch.cat([x, x.flip(-1)])
    b = x.shape[0] // 2 if flip else x.shape[0]
    index = _flip_index(x.device)
    passes: list[tuple[torch.Tensor, torch.Tensor | None]] = []
    for m in models:
        with torch.autocast("cuda", dtype=torch.float16, enabled=amp and dev.type == "cuda"):
            heat, logits = m(x, with_logits=True)
        heat = heat.float()
        logits = None if logits is None else logits.float()
        passes.append((heat[:b], None if logits is None else logits[:b]))
        if flip:  # the mirrored half, mirrored back with its joints relabelled
            passes.append((heat[b:].flip(-1)[:, index],
                           None if logits is None else logits[b:].flip(-1)[:, index]))
    heat, logits = merge_passes(codec, passes) if len(passes) > 1 else passes[0]
    return codec.decode(heat, logits)


def _flip_index(device: torch.device) -> torch.Tensor:
    """``skeleton.FLIP_INDEX`` as a tensor: each joint's counterpart in the other hand."""
    return torch.as_tensor(skeleton.FLIP_INDEX.copy(), device=device)


def merge_passes(
    codec: HeatmapCodec, passes: Sequence[tuple[torch.Tensor, torch.Tensor | None]]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Average several (B, J, h, w) heatmap (and logit) outputs for the same crops.

    Each pass after the first is aligned to the first per crop: its two hands' channel sets
    are kept as they are or crossed, whichever puts its decoded joints nearer the first
    pass's (the sum over the two hands of the median joint distance; a hand the crop does
    not hold decodes far from everything either way).
    """
    ref_heat, ref_logits = passes[0]
    ref = codec.decode(ref_heat, ref_logits).uv_crop_px
    n = skeleton.JOINTS_PER_HAND
    cross_index = _flip_index(ref_heat.device)  # right joint j <-> left joint j

    def hand_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        return np.median(np.linalg.norm(p - q, axis=-1), axis=-1)

    heat_sum = ref_heat.clone()
    logit_sum = None if ref_logits is None else ref_logits.clone()
    for heat, logits in passes[1:]:
        uv = codec.decode(heat, logits).uv_crop_px
        same = hand_distance(ref[:, :n], uv[:, :n]) + hand_distance(ref[:, n:], uv[:, n:])
        crossed = hand_distance(ref[:, :n], uv[:, n:]) + hand_distance(ref[:, n:], uv[:, :n])
        cross = torch.as_tensor(crossed < same, device=heat.device)[:, None, None, None]
        heat_sum += torch.where(cross, heat[:, cross_index], heat)
        if logit_sum is not None and logits is not None:
            logit_sum += torch.where(cross, logits[:, cross_index], logits)
    k = float(len(passes))
    return heat_sum / k, None if logit_sum is None else logit_sum / k
