"""Inference: one image + a hand box -> 3D joints of both hands in camera mm.

Steps:

1. The box is padded to a square ×1.25 about its centre and warped to the network's input
   (``pose_net.data.crops``, the crop training uses); pixels RGB / 255.
2. InterNet gives per-joint heatmaps, the right-relative left root depth and handedness.
   Heatmaps are decoded as the config declares, at sub-voxel precision (``decode_output``; the
   evaluation uses the public integer argmax) and mapped back to image px through the inverse
   crop affine; each joint's depth is relative to its own hand's wrist.
3. Absolute root depth (camera z of each wrist), by the first that applies:
   ``rootnet``: RootNet on each present hand's own box (the tight box of its predicted joints
   ×1.2, as RootNet's training crops), depth = γ·k; ``root_depth_mm``: the right wrist (or the
   only hand's wrist) at that depth, the left wrist at it plus the predicted relative root
   depth; otherwise ``k`` alone, the pinhole distance at which a 300 mm × 300 mm hand fills
   the padded box (RootNet with γ = 1).
4. Back-projection with the camera: ``X_cam = z · undistort(u, v)`` (mm). Without a camera,
   a pinhole with f = max(W, H) px and the principal point at the image centre is assumed.

A hand counts as present where its handedness probability exceeds 0.5 (as the evaluation);
joints of both hands are returned either way, with ``hand_present`` saying which to trust.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from annotator.skeleton import HANDS, hand_slice
from pose_net.heatmaps import decode_output, voxels_to_joints
from pose_net.rootnet import k_value
from triangulation import Camera, CameraRig, undistort_points

__all__ = ["HandPoseResult", "default_camera", "predict_hands"]

log = logging.getLogger(__name__)
#: RootNet's per-hand box: tight box of the hand's joints ×1.2 (as its training crops).
_HAND_BOX_SCALE = 1.2


@dataclass(frozen=True, eq=False)
class HandPoseResult:
    """Both hands in one image.

    joints_cam_mm: (42, 3) camera frame, mm. joints_uv_px: (42, 2) image px.
    rel_depth_mm: (42,) depth relative to the joint's own wrist. handedness: (2,)
    probabilities [right, left]; hand_present: (2,) bool (> 0.5). root_depth_mm: (2,) camera
    z of the right and left wrists used. rel_root_depth_mm: predicted left minus right wrist
    depth. crop_box_xywh: (4,) the square image window the network saw. root_source:
    "rootnet", "given" or "box-size". camera: the camera used.
    """

    joints_cam_mm: np.ndarray
    joints_uv_px: np.ndarray
    rel_depth_mm: np.ndarray
    handedness: np.ndarray
    hand_present: np.ndarray
    root_depth_mm: np.ndarray
    rel_root_depth_mm: float
    crop_box_xywh: np.ndarray
    root_source: str
    camera: Camera

    def to_dict(self) -> dict[str, object]:
        return {
            "joints_cam_mm": self.joints_cam_mm.tolist(),
            "joints_uv_px": self.joints_uv_px.tolist(),
            "handedness": self.handedness.tolist(),
            "hand_present": self.hand_present.tolist(),
            "root_depth_mm": self.root_depth_mm.tolist(),
            "rel_root_depth_mm": self.rel_root_depth_mm,
            "crop_box_xywh": self.crop_box_xywh.tolist(),
            "root_source": self.root_source,
        }


def default_camera(width: int, height: int) -> Camera:
    """Pinhole with f = max(W, H) px (about 53° across the longer side), centred, no distortion."""
    f = float(max(width, height))
    K = np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])
    return Camera(name="default", width=int(width), height=int(height), K=K)


def _backproject(uv_px: np.ndarray, depth_mm: np.ndarray, camera: Camera) -> np.ndarray:
    xy = undistort_points(np.asarray(uv_px, np.float64)[:, None, :], CameraRig([camera]))[:, 0]
    z = np.asarray(depth_mm, np.float64)
    return np.concatenate([xy * z[:, None], z[:, None]], axis=1)


def _square_window(bbox_xywh: np.ndarray, pad: float) -> np.ndarray:
    x, y, w, h = bbox_xywh
    side = max(w, h) * pad
    return np.array([x + w / 2 - side / 2, y + h / 2 - side / 2, side, side])


@torch.no_grad()
def _rootnet_depths(rootnet, image_rgb: np.ndarray, uv_px: np.ndarray, camera: Camera,
                    device: torch.device) -> np.ndarray:
    from annotator.interchange.interhand_layout import enlarged_bbox_xywh
    from pose_net.data.crops import BOX_PAD, crop_affine, crop_image

    s = rootnet.config.input_px
    crops, areas = [], []
    for hand in HANDS:
        box = enlarged_bbox_xywh(uv_px[hand_slice(hand)], np.ones(21, bool), _HAND_BOX_SCALE)
        box[2:] = np.maximum(box[2:], 1.0)
        affine = crop_affine(box, s, image_rgb.shape[1])
        crops.append(crop_image(image_rgb, affine, s).astype(np.float32) / 255.0)
        areas.append((max(box[2], box[3]) * BOX_PAD) ** 2)
    images = torch.from_numpy(np.stack(crops).transpose(0, 3, 1, 2).copy()).to(device)
    fx, fy = float(camera.K[0, 0]), float(camera.K[1, 1])
    k = torch.tensor([k_value(a, fx, fy, rootnet.config.bbox_real_mm) for a in areas],
                     dtype=torch.float32, device=device)
    return rootnet.to(device).eval()(images, k).float().cpu().numpy().astype(np.float64)


@torch.no_grad()
def predict_hands(model, image_rgb: np.ndarray, bbox_xywh, camera: Camera | None = None, *,
                  rootnet=None, root_depth_mm: float | None = None,
                  device: str | torch.device = "cpu") -> HandPoseResult:
    """3D joints of both hands from ``image_rgb`` (H, W, 3) uint8 RGB and a box (x, y, w, h) px.

    ``model`` is an InterNet, ``rootnet`` an optional RootNet; see the module docstring for
    the root depth and the camera.
    """
    from annotator.images import invert_affine
    from pose_net.data.crops import BOX_PAD, crop_affine, crop_image

    image_rgb = np.asarray(image_rgb)
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
        raise ValueError(
            f"image must be (H, W, 3) uint8 RGB, got {image_rgb.shape} {image_rgb.dtype}"
        )
    h_img, w_img = image_rgb.shape[:2]
    box = np.asarray(bbox_xywh, dtype=np.float64).reshape(-1)
    if box.shape != (4,) or not np.isfinite(box).all() or box[2] <= 0 or box[3] <= 0:
        raise ValueError(f"bbox must be X Y W H with W, H > 0, got {bbox_xywh}")
    if box[0] >= w_img or box[1] >= h_img or box[0] + box[2] <= 0 or box[1] + box[3] <= 0:
        raise ValueError(f"bbox {box.tolist()} lies outside the {w_img}x{h_img} image")
    if root_depth_mm is not None and not root_depth_mm > 0:
        raise ValueError(f"root depth must be positive (mm), got {root_depth_mm}")
    cam = camera if camera is not None else default_camera(w_img, h_img)
    dev = torch.device(device)
    cfg = model.config
    s = cfg.input_px

    affine = crop_affine(box, s, w_img)
    crop = crop_image(image_rgb, affine, s).astype(np.float32) / 255.0
    inp = torch.from_numpy(crop.transpose(2, 0, 1).copy())[None].to(dev)
    out = model.to(dev).eval()(inp)
    vox = decode_output(out.heatmaps.float(), cfg, subvoxel=True).voxels
    uvd = voxels_to_joints(vox, cfg)[0].cpu().numpy().astype(np.float64)
    inv = invert_affine(affine)
    uv_img = uvd[:, :2] @ inv[:, :2].T + inv[:, 2]
    handedness = out.handedness[0].float().cpu().numpy().astype(np.float64)
    present = handedness > 0.5
    rel_root = float(out.rel_root_depth[0])

    if rootnet is not None:
        roots = _rootnet_depths(rootnet, image_rgb, uv_img, cam, dev)
        source = "rootnet"
    else:
        if root_depth_mm is not None:
            base, source = float(root_depth_mm), "given"
        else:
            window = _square_window(box, BOX_PAD)
            base = float(k_value(window[2] * window[3], float(cam.K[0, 0]), float(cam.K[1, 1])))
            source = "box-size"
        if present[1] and not present[0]:
            roots = np.array([base - rel_root, base])  # the only hand is the left one
        else:
            roots = np.array([base, base + rel_root])
    depth = uvd[:, 2].copy()
    for h, hand in enumerate(HANDS):
        depth[hand_slice(hand)] += roots[h]
    joints_cam = _backproject(uv_img, depth, cam)
    log.info("hands present %s, roots %s mm (%s)", present.tolist(), roots.round(1).tolist(),
             source)
    return HandPoseResult(
        joints_cam_mm=joints_cam, joints_uv_px=uv_img, rel_depth_mm=uvd[:, 2],
        handedness=handedness, hand_present=present, root_depth_mm=roots,
        rel_root_depth_mm=rel_root, crop_box_xywh=_square_window(box, BOX_PAD),
        root_source=source, camera=cam,
    )
