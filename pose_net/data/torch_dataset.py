"""PyTorch datasets over :class:`HandSample` sequences (a column
:class:`~pose_net.data.sample_table.SampleTable`, or a list): InterNet crops and RootNet hand
crops.

Augmentation draws come from ``numpy.random.default_rng((seed, epoch, index))``: the same
item gets the same crop in every process and worker (so DDP ranks and resumed runs agree),
and a new one each epoch (:meth:`set_epoch`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from torch.utils.data import Dataset

from annotator.images import read_image_rgb
from annotator.interchange import enlarged_bbox_xywh
from annotator.skeleton import HANDS, ROOT_INDEX, hand_slice
from pose_net.data.crops import (
    IDENTITY,
    crop_affine,
    crop_image,
    make_crop,
    sample_augmentation,
)
from pose_net.data.sample import HandSample
from pose_net.data.sample_table import SampleTable, rooted_hands

__all__ = ["InterNetDataset", "RootNetDataset", "root_items"]


class _Base(Dataset):
    def __init__(self, samples: Sequence[HandSample], *, augment: bool, seed: int = 0) -> None:
        # A SampleTable stays columns (workers share it without copies); any other sequence
        # of HandSample is made a list.
        self.samples = samples if isinstance(samples, SampleTable) else list(samples)
        self.augment = bool(augment)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _key(self, index) -> tuple[int, int]:
        """(epoch, index) from an index or an (epoch, index) pair (the trainer's sampler)."""
        if isinstance(index, tuple):
            return int(index[0]), int(index[1])
        return self.epoch, int(index)

    def _aug(self, epoch: int, index: int):
        if not self.augment:
            return IDENTITY
        return sample_augmentation(np.random.default_rng((self.seed, epoch, index)))


class InterNetDataset(_Base):
    """Item ``i``: :class:`~pose_net.data.crops.CropTargets` of sample ``i`` as a dict of
    numpy arrays, plus ``index`` (the sample's position)."""

    def __init__(self, samples: Sequence[HandSample], config, *, augment: bool, seed: int = 0):
        super().__init__(samples, augment=augment, seed=seed)
        self.config = config

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index) -> dict[str, np.ndarray]:
        epoch, index = self._key(index)
        s = self.samples[index]
        crop = make_crop(
            s,
            read_image_rgb(s.image_path),
            input_px=self.config.input_px,
            depth_range_mm=self.config.depth_range_mm,
            rel_root_range_mm=self.config.rel_root_range_mm,
            aug=self._aug(epoch, index),
        )
        out = crop.as_dict()
        out["index"] = np.int64(index)
        return out


def root_items(samples: Sequence[HandSample]) -> np.ndarray:
    """(K, 2) int64 (sample index, hand index) of every hand with a valid root and a
    non-empty box (a :class:`SampleTable` computes it on its columns, in chunks)."""
    if isinstance(samples, SampleTable):
        return samples.root_items()
    if not len(samples):
        return np.zeros((0, 2), np.int64)
    ok = rooted_hands(np.stack([s.joints_uv_px for s in samples]),
                      np.stack([s.joint_valid for s in samples]),
                      np.stack([s.hand_type for s in samples]))
    return np.stack(np.nonzero(ok), axis=1).astype(np.int64)


class RootNetDataset(_Base):
    """One item per hand with a valid root: the crop of that hand's own box, its k value
    inputs and the root's camera depth.

    Item: ``image`` (3, S, S) float32 in [0, 1]; ``window_area_px`` (): area of the image
    window the crop covers (for k = sqrt(A_real · fx · fy / area)); ``focal`` (2,);
    ``depth_mm`` () root z in the camera frame; ``index`` (sample), ``hand`` (0 right, 1 left).
    Augmentation: translation, scale, rotation and colour as InterNet; no flip (a depth does
    not change under a mirror, but the hand box does not need it either).
    """

    def __init__(self, samples: Sequence[HandSample], input_px: int, *, augment: bool,
                 seed: int = 0):
        super().__init__(samples, augment=augment, seed=seed)
        self.input_px = int(input_px)
        self.items = root_items(self.samples)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index) -> dict[str, np.ndarray]:
        epoch, index = self._key(index)
        n, h = (int(v) for v in self.items[index])
        s = self.samples[n]
        sl = hand_slice(HANDS[h])
        box = enlarged_bbox_xywh(s.joints_uv_px[sl], s.joint_valid[sl])
        aug = dataclasses.replace(self._aug(epoch, index), flip=False)
        image = read_image_rgb(s.image_path)
        affine = crop_affine(box, self.input_px, image.shape[1], aug)
        crop = crop_image(image, affine, self.input_px).astype(np.float32)
        crop = np.clip(crop * np.asarray(aug.color, dtype=np.float32), 0, 255) / 255.0
        # The crop's scale s px per image px: the window covers (S / s)^2 image px.
        px_per_image_px = float(np.sqrt(abs(np.linalg.det(affine[:, :2]))))
        return {
            "image": np.ascontiguousarray(crop.transpose(2, 0, 1)),
            "window_area_px": np.float32((self.input_px / px_per_image_px) ** 2),
            "focal": np.array([s.camera.K[0, 0], s.camera.K[1, 1]], dtype=np.float32),
            "depth_mm": np.float32(s.joints_cam_mm[ROOT_INDEX[HANDS[h]], 2]),
            "index": np.int64(n),
            "hand": np.int64(h),
        }

