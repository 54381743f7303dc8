"""InterNet's training losses L_h + L_pose + L_rel (reductions as the public code).

- ``handedness`` (L_h): binary cross-entropy of the two handedness outputs against
  [right present, left present], averaged over the two, times ``hand_type_valid``, averaged
  over the batch. Computed from the logits (BCE-with-logits equals BCE of the sigmoid and is
  stable and allowed under autocast).
- ``pose`` (L_pose): squared error between predicted and Gaussian target heatmaps (peak
  ``config.heatmap_peak``), each joint multiplied by ``joint_valid``, averaged over every
  element (B · 42 · D · H · W), as the public code's ``.mean()``.
- ``rel_root`` (L_rel): |predicted − target| of the right-relative left root depth **in bin
  units** (the public code's scale), times ``rel_root_valid``, averaged over the batch.

Averages include masked entries as zeros (the public code's reduction), so a batch with few
valid joints gives a smaller loss; the weights of the three terms are 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pose_net.config import InterNetConfig
from pose_net.heatmaps import rel_root_mm_to_bins, render_gaussian_targets, soft_argmax_3d
from pose_net.internet import InterNetOutput

__all__ = ["InterNetTargets", "internet_losses", "coordinate_loss", "total_loss"]


@dataclass(frozen=True)
class InterNetTargets:
    """Targets of one batch (float tensors on the model's device).

    voxels: (B, 42, 3) joint positions in heatmap voxels (x, y, z), see ``pose_net.heatmaps``.
    joint_valid: (B, 42) 1 where the joint is annotated and inside the crop and depth range.
    hand_type: (B, 2) [right present, left present] in {0, 1}.
    hand_type_valid: (B,) 1 where the hand type is known.
    rel_root_depth_mm: (B,) left root depth minus right root depth, mm.
    rel_root_valid: (B,) 1 for interacting samples with both roots valid and in range.
    """

    voxels: torch.Tensor
    joint_valid: torch.Tensor
    hand_type: torch.Tensor
    hand_type_valid: torch.Tensor
    rel_root_depth_mm: torch.Tensor
    rel_root_valid: torch.Tensor

    def to(self, device: torch.device | str) -> InterNetTargets:
        fields = self.__dataclass_fields__
        return InterNetTargets(**{k: getattr(self, k).to(device) for k in fields})


def _check(targets: InterNetTargets, out: InterNetOutput) -> None:
    b, j = out.heatmaps.shape[:2]
    want = {
        "voxels": (b, j, 3), "joint_valid": (b, j), "hand_type": (b, 2),
        "hand_type_valid": (b,), "rel_root_depth_mm": (b,), "rel_root_valid": (b,),
    }
    for name, shape in want.items():
        got = tuple(getattr(targets, name).shape)
        if got != shape:
            raise ValueError(f"targets.{name} must be {shape}, got {got}")


def internet_losses(output: InterNetOutput, targets: InterNetTargets,
                    config: InterNetConfig) -> dict[str, torch.Tensor]:
    """The three scalar losses {"handedness", "pose", "rel_root"} (see the module docstring)."""
    _check(targets, output)
    f32 = torch.float32
    joint_valid = targets.joint_valid.to(f32)
    voxels = targets.voxels.to(f32)
    pose = output.heatmaps.new_zeros((), dtype=f32)
    if config.heatmap_loss_weight > 0:
        target_hm = render_gaussian_targets(voxels, None, config)
        sq = (output.heatmaps.to(f32) - target_hm) ** 2
        pose = pose + config.heatmap_loss_weight * (sq * joint_valid[:, :, None, None, None]).mean()
    if config.coord_loss_weight > 0:
        pose = pose + config.coord_loss_weight * coordinate_loss(output.heatmaps, voxels,
                                                                 joint_valid)

    bce = F.binary_cross_entropy_with_logits(
        output.handedness_logits.to(f32), targets.hand_type.to(f32), reduction="none"
    ).mean(dim=1)
    handedness = config.handedness_loss_weight * (bce * targets.hand_type_valid.to(f32)).mean()

    target_bin = rel_root_mm_to_bins(targets.rel_root_depth_mm.to(f32), config)
    rel = (output.rel_root_bin.to(f32) - target_bin).abs() * targets.rel_root_valid.to(f32)
    return {"handedness": handedness, "pose": pose, "rel_root": rel.mean()}


def coordinate_loss(heatmaps: torch.Tensor, voxels: torch.Tensor,
                    joint_valid: torch.Tensor) -> torch.Tensor:
    """Integral-regression loss: |soft-argmax(heatmaps) − voxels| in voxels, per coordinate,
    × joint_valid, averaged over B · J · 3 (masked entries count as zeros, like L_pose).

    heatmaps (B, J, D, H, W) logits; voxels (B, J, 3) (x, y, z); joint_valid (B, J).
    """
    valid = joint_valid.to(torch.float32)[..., None]
    target = torch.where(valid > 0, voxels.to(torch.float32), torch.zeros_like(voxels))
    err = (soft_argmax_3d(heatmaps) - target).abs()
    return (torch.where(valid > 0, err, torch.zeros_like(err)) * valid).mean()


def total_loss(losses: dict[str, torch.Tensor]) -> torch.Tensor:
    """L_h + L_pose + L_rel (unit weights, as the paper)."""
    return losses["handedness"] + losses["pose"] + losses["rel_root"]
