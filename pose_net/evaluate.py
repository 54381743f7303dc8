"""Evaluation of InterNet (and RootNet) the way the public InterHand2.6M code does it.

Per sample (an image with its ground-truth box, no augmentation):

1. the network's heatmaps are decoded by integer argmax (``heatmaps.decode_heatmaps``; a
   config declaring ``decoding = "soft-argmax"`` takes the expected voxel instead) and
   mapped to crop px and root-relative depth mm (``heatmaps.voxels_to_joints``);
2. crop px go back to image px through the inverse of the crop affine;
3. each hand's joints get the ground-truth depth of their own root added and are
   back-projected with the camera: ``x_cam = z · undistort(u, v)`` (with no distortion,
   ``((u - cx) / fx, (v - cy) / fy)`` as the public ``pixel2cam``);
4. for MRRPE, the left root takes depth ``z_right_root + predicted relative root depth``
   (plus its own predicted relative depth, as the public code) and the right root
   ``z_right_root``; their back-projected difference is the predicted relative root.

Metrics then come from :func:`pose_net.metrics.interhand_metrics` (wrist-aligned MPJPE,
MRRPE, handedness accuracy). The mean-pose baseline predicts, for every sample, the mean
wrist-relative pose (camera frame) of the evaluated samples themselves — an oracle constant
that any network which has learnt something beats.
RootNet: the mean absolute error of the predicted absolute root depth per hand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader

from annotator.images import apply_affine
from annotator.skeleton import HANDS, LEFT_ROOT, NUM_JOINTS, RIGHT_ROOT, ROOT_INDEX, hand_slice
from pose_net.data.sample import HandSample
from pose_net.data.sample_table import SampleTable
from pose_net.data.torch_dataset import InterNetDataset, RootNetDataset
from pose_net.metrics import InterHandMetrics, interhand_metrics
from triangulation import CameraRig, undistort_points

__all__ = [
    "Predictions",
    "Evaluation",
    "predict",
    "backproject",
    "camera_space_predictions",
    "mean_pose_baseline",
    "evaluate",
    "rootnet_errors",
]

logger = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


@dataclass(frozen=True, eq=False)
class Predictions:
    """Raw network outputs per sample: ``uvd_crop`` (N, J, 3) crop px + root-relative depth
    mm, ``image_from_crop`` (N, 2, 3), ``rel_root_depth_mm`` (N,), ``handedness`` (N, 2)."""

    uvd_crop: np.ndarray
    image_from_crop: np.ndarray
    rel_root_depth_mm: np.ndarray
    handedness: np.ndarray


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Metrics of the network and of the mean-pose baseline on the same samples."""

    metrics: InterHandMetrics
    baseline: InterHandMetrics
    n_samples: int
    rootnet_mae_mm: float | None = None
    n_rootnet: int = 0

    def to_dict(self) -> dict[str, object]:
        out = dict(self.metrics.to_dict())
        out["n_samples"] = self.n_samples
        out["baseline_mpjpe_all"] = self.baseline.to_dict()["mpjpe_all"]
        out["baseline_mpjpe_single"] = self.baseline.to_dict()["mpjpe_single"]
        out["baseline_mpjpe_interacting"] = self.baseline.to_dict()["mpjpe_interacting"]
        if self.rootnet_mae_mm is not None:
            out["rootnet_mae_mm"] = self.rootnet_mae_mm
            out["n_rootnet"] = self.n_rootnet
        return out


def _device(device: str | torch.device) -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@torch.no_grad()
def predict(
    model: torch.nn.Module,
    samples: Sequence[HandSample],
    *,
    batch_size: int = 16,
    device: str | torch.device = "auto",
    workers: int = 0,
    progress: Progress | None = None,
) -> Predictions:
    """Run InterNet on the un-augmented crops of ``samples`` (in order)."""
    from pose_net.heatmaps import decode_heatmaps, voxels_to_joints

    dev = _device(device)
    config = model.config
    model = model.to(dev).eval()
    loader = DataLoader(InterNetDataset(samples, config, augment=False),
                        batch_size=batch_size, shuffle=False, num_workers=workers)
    uvd, inv, rel, hand = [], [], [], []
    done = 0
    for batch in loader:
        out = model(batch["image"].to(dev))
        vox = _decode(out.heatmaps.float(), config, decode_heatmaps)
        uvd.append(voxels_to_joints(vox, config).cpu().numpy().astype(np.float64))
        inv.append(batch["image_from_crop"].numpy())
        rel.append(out.rel_root_depth.float().cpu().numpy().astype(np.float64))
        hand.append(out.handedness.float().cpu().numpy().astype(np.float64))
        done += len(batch["image"])
        if progress is not None:
            progress(done, len(samples))
    return Predictions(np.concatenate(uvd), np.concatenate(inv), np.concatenate(rel),
                       np.concatenate(hand))


def _decode(heatmaps: torch.Tensor, config, argmax) -> torch.Tensor:
    """(B, J, D, H, W) -> (B, J, 3) voxels (x, y, z): integer argmax (the public code), or,
    for a config declaring ``decoding = "soft-argmax"`` (integral regression), the expected
    voxel index under the softmax over the volume (the 3D form of ``soft_argmax_1d``)."""
    if getattr(config, "decoding", "argmax") != "soft-argmax":
        return argmax(heatmaps).voxels
    b, j, d, h, w = heatmaps.shape
    prob = torch.softmax(heatmaps.reshape(b, j, -1), dim=-1).reshape(b, j, d, h, w)
    ax = [torch.arange(n, dtype=prob.dtype, device=prob.device) for n in (w, h, d)]
    x = (prob.sum(dim=(2, 3)) * ax[0]).sum(-1)
    y = (prob.sum(dim=(2, 4)) * ax[1]).sum(-1)
    z = (prob.sum(dim=(3, 4)) * ax[2]).sum(-1)
    return torch.stack((x, y, z), dim=-1)


def _camera_groups(samples: Sequence[HandSample]):
    """(camera, sample positions) per distinct camera of ``samples``; a table groups its
    columns without building a sample."""
    if isinstance(samples, SampleTable):
        caps = samples.row_capture[samples.row].astype(np.int64)
        code = caps * (1 + int(samples.camera.max(initial=0))) + samples.camera
        _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
        for g, f in enumerate(first.tolist()):
            cam = samples.rigs[int(caps[f])][int(samples.camera[f])]
            yield cam, np.nonzero(inverse == g)[0]
        return
    groups: dict[tuple, list[int]] = {}
    for n, s in enumerate(samples):
        c = s.camera
        groups.setdefault((c.name, c.K.tobytes(), c.dist.tobytes()), []).append(n)
    for idx in groups.values():
        yield samples[idx[0]].camera, np.asarray(idx)


def _normalised(uv_px: np.ndarray, samples: Sequence[HandSample]) -> np.ndarray:
    """(N, J, 2) pixels -> undistorted normalised coordinates, each with its sample's camera."""
    out = np.empty_like(uv_px, dtype=np.float64)
    for cam, idx in _camera_groups(samples):
        uv = uv_px[idx]
        Kinv = np.linalg.inv(cam.K)
        pinhole = uv @ Kinv[:2, :2].T + Kinv[:2, 2]  # K^-1 [u, v, 1], the public pixel2cam
        if not np.any(cam.dist):
            out[idx] = pinhole
        else:
            xy = undistort_points(uv[..., None, :], CameraRig([cam]))[..., 0, :]
            # A prediction beyond the lens model's fold (strongly distorted corners) has no
            # undistorted ray: fall back to the pinhole ray rather than a NaN that would
            # drop a valid joint's error from the metrics.
            out[idx] = np.where(np.isfinite(xy), xy, pinhole)
    return out


def backproject(uv_px: np.ndarray, depth_mm: np.ndarray,
                samples: Sequence[HandSample]) -> np.ndarray:
    """(N, J, 2) image px and (N, J) camera depth -> (N, J, 3) camera mm."""
    xy = _normalised(np.asarray(uv_px, dtype=np.float64), samples)
    z = np.asarray(depth_mm, dtype=np.float64)
    return np.concatenate([xy * z[..., None], z[..., None]], axis=-1)


def camera_space_predictions(
    pred: Predictions, samples: Sequence[HandSample]
) -> tuple[np.ndarray, np.ndarray]:
    """(pred_cam_mm (N, J, 3) with ground-truth root depths, pred_rel_root_mm (N, 3))."""
    n = len(samples)
    uv_img = np.stack([apply_affine(pred.image_from_crop[k], pred.uvd_crop[k, :, :2])
                       for k in range(n)])
    gt_z = np.empty((n, NUM_JOINTS))
    for k, s in enumerate(samples):
        gt_z[k] = s.joints_cam_mm[:, 2]
    depth = pred.uvd_crop[:, :, 2].copy()
    root_z = np.zeros_like(depth)
    for hand in HANDS:
        root_z[:, hand_slice(hand)] = gt_z[:, ROOT_INDEX[hand], None]
    # A hand without a ground-truth root has no counted joint; any finite depth will do.
    root_z = np.where(np.isfinite(root_z), root_z, 1000.0)
    pred_cam = backproject(uv_img, depth + root_z, samples)
    right_z = root_z[:, RIGHT_ROOT]
    roots_uv = uv_img[:, [RIGHT_ROOT, LEFT_ROOT]]
    roots_z = np.stack([right_z + depth[:, RIGHT_ROOT],
                        right_z + pred.rel_root_depth_mm + depth[:, LEFT_ROOT]], axis=1)
    roots = backproject(roots_uv, roots_z, samples)
    return pred_cam, roots[:, 1] - roots[:, 0]


def _ground_truth(samples: Sequence[HandSample]):
    """One pass over the samples (a table builds each once): camera mm, validity, hand type
    and its validity, as (N, ...) arrays."""
    n = len(samples)
    gt = np.empty((n, NUM_JOINTS, 3))
    valid = np.empty((n, NUM_JOINTS), dtype=bool)
    hand_type = np.empty((n, len(HANDS)), dtype=np.float32)
    htv = np.empty(n, dtype=bool)
    for k, s in enumerate(samples):
        gt[k], valid[k], hand_type[k], htv[k] = (s.joints_cam_mm, s.joint_valid, s.hand_type,
                                                 s.hand_type_valid)
    return np.where(np.isfinite(gt), gt, 0.0), valid, hand_type, htv


def mean_pose_baseline(samples: Sequence[HandSample]) -> InterHandMetrics:
    """Metrics of predicting the samples' mean wrist-relative camera-frame pose everywhere."""
    gt, valid, hand_type, htv = _ground_truth(samples)
    rel = gt.copy()
    for hand in HANDS:
        s = hand_slice(hand)
        rel[:, s] -= gt[:, ROOT_INDEX[hand], None]
    counted = valid.copy()
    for hand in HANDS:
        counted[:, hand_slice(hand)] &= valid[:, ROOT_INDEX[hand], None]
    n = counted.sum(axis=0)
    mean = np.where(counted[..., None], rel, 0.0).sum(axis=0) / np.maximum(n, 1)[:, None]
    pred = np.broadcast_to(mean, gt.shape).copy()
    return interhand_metrics(pred, rel, valid, hand_type, hand_type_valid=htv)


def rootnet_errors(
    rootnet: torch.nn.Module,
    samples: Sequence[HandSample],
    *,
    batch_size: int = 16,
    device: str | torch.device = "auto",
) -> np.ndarray:
    """(M,) |predicted − true| root depth, mm, one per hand with a valid root."""
    from pose_net.rootnet import k_value

    dev = _device(device)
    rootnet = rootnet.to(dev).eval()
    ds = RootNetDataset(samples, rootnet.config.input_px, augment=False)
    errs = []
    with torch.no_grad():
        for batch in DataLoader(ds, batch_size=batch_size, shuffle=False):
            focal = batch["focal"].to(dev)
            k = k_value(batch["window_area_px"].to(dev), focal[:, 0], focal[:, 1],
                        rootnet.config.bbox_real_mm)
            pred = rootnet(batch["image"].to(dev), k).float().cpu()
            errs.append((pred - batch["depth_mm"]).abs().numpy())
    return np.concatenate(errs) if errs else np.zeros(0)


def evaluate(
    model: torch.nn.Module,
    samples: Sequence[HandSample],
    *,
    rootnet: torch.nn.Module | None = None,
    batch_size: int = 16,
    device: str | torch.device = "auto",
    workers: int = 0,
    progress: Progress | None = None,
) -> Evaluation:
    """InterNet metrics on ``samples`` (module docstring), the baseline, and RootNet's error."""
    if not samples:
        raise ValueError("no sample to evaluate")
    pred = predict(model, samples, batch_size=batch_size, device=device, workers=workers,
                   progress=progress)
    pred_cam, pred_rel_root = camera_space_predictions(pred, samples)
    gt, valid, hand_type, htv = _ground_truth(samples)
    metrics = interhand_metrics(pred_cam, gt, valid, hand_type, handedness=pred.handedness,
                                hand_type_valid=htv, pred_rel_root_mm=pred_rel_root)
    mae, n_root = None, 0
    if rootnet is not None:
        errs = rootnet_errors(rootnet, samples, batch_size=batch_size, device=device)
        mae, n_root = (float(errs.mean()) if errs.size else float("nan")), int(errs.size)
    return Evaluation(metrics, mean_pose_baseline(samples), len(samples), mae, n_root)
