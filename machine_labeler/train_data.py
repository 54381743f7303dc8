"""The detector's training set, read from the project store.

Every human-labelled instant's 3D joints (source "human") are projected into every camera
(``store.propagate``); each (instant, camera) view where some joint is in the image and in
front of the camera is one sample. A sample is cropped around the projected joints of both
hands (square box x ``box_pad``), jittered by :mod:`machine_labeler.augment`; a fraction
``whole_view_fraction`` of draws instead show the whole view letterboxed into the crop, so
the same network can run the coarse hand-finding pass over whole views.

Joint weights: 1 for a labelled joint (its heatmap is a Gaussian, or empty where the joint
falls outside the crop), 1 for the joints of a hand flagged absent (an empty heatmap: the
detector learns to stay quiet), 0 for joints nobody labelled.

Items are drawn by a global index ``k`` (sample ``k % N``, random generator seeded by
``(seed, k)``), so augmentation is reproducible whichever worker or rank draws it.
Unreadable images give an item with ``ok = False``; :func:`collate` drops and counts them.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from annotator.images import apply_affine, try_read_image_rgb
from annotator.skeleton import HANDS, NUM_JOINTS, hand_slice
from annotator.video import VideoFrame
from machine_labeler.augment import (
    GeometricAug,
    augment_affine,
    flip_joints,
    photometric,
    sample_geometric,
)
from machine_labeler.codec import HeatmapCodec
from machine_labeler.config import LabelerConfig
from machine_labeler.crops import letterbox_box, square_box, warp_image

__all__ = [
    "LabelledViews",
    "NoHumanLabelsError",
    "load_labelled_views",
    "load_machine_views",
    "concat_views",
    "HandCropDataset",
    "EpochSampler",
    "collate",
    "read_rgb",
]

log = logging.getLogger(__name__)


class NoHumanLabelsError(ValueError):
    """The project has no human 3D joints to train on."""


@dataclass(frozen=True)
class LabelledViews:
    """Training views: N (instant, camera) pairs.

    instants, cameras: (N,) int64; paths: N image paths; sizes: (N, 2) int width, height;
    uv_px: (N, J, 2) float32 projected joints (NaN = unlabelled or behind the camera);
    weight: (N, J) float32 loss weight per joint.
    """

    instants: np.ndarray
    cameras: np.ndarray
    paths: list  # str image paths, or VideoFrames of a video project
    sizes: np.ndarray
    uv_px: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return int(self.instants.size)


def load_labelled_views(store, instants: np.ndarray | None = None) -> LabelledViews:  # noqa: ANN001
    """Human 3D joints of ``instants`` (default all human-labelled) as 2D in every view.

    ``store`` is an open ProjectStore (read-only is fine). Raises NoHumanLabelsError when
    there is nothing to train on.
    """
    if instants is None:
        instants = store.labelled_instants(source="human")
    instants = np.asarray(instants, dtype=np.int64)
    if instants.size == 0:
        raise NoHumanLabelsError(
            f"{store.path}: no human 3D labels to train on (label some instants in "
            "'annotator gui' or with 'annotator simulate-annotator' first)"
        )
    prop = store.propagation(instants=instants)
    rows_i, rows_c, paths, sizes, uvs, weights = [], [], [], [], [], []
    sizes_of = {
        cap: {cam.name: (cam.width, cam.height) for cam in store.rig(cap)} for cap in store.captures
    }
    names = store.camera_names
    for f, i in enumerate(prop.instants):
        lab = store.labels(int(i))
        human = lab.joint_source == "human"
        absent = np.zeros(human.shape, bool)
        for h, _hand in enumerate(HANDS):
            if lab.hand_present[h] == 0:
                absent[hand_slice(_hand)] = True
        cap = store.instant(int(i)).capture
        img_paths = store.image_paths(int(i))
        for c, p in enumerate(img_paths):
            if p is None or names[c] not in sizes_of[cap]:
                continue
            seen = human & prop.in_image[f, c] & prop.in_front[f, c]
            if not seen.any():
                continue
            uv = np.where((human & prop.in_front[f, c])[:, None], prop.uv_px[f, c], np.nan)
            w = (human | absent).astype(np.float32)
            rows_i.append(int(i))
            rows_c.append(c)
            paths.append(p if isinstance(p, VideoFrame) else str(p))  # or a video's frame
            sizes.append(sizes_of[cap][names[c]])
            uvs.append(uv.astype(np.float32))
            weights.append(w)
    if not rows_i:
        raise NoHumanLabelsError(f"{store.path}: the human 3D labels project into no image")
    return _views_of_rows(rows_i, rows_c, paths, sizes, uvs, weights)


def load_machine_views(store, selection, weight: float) -> LabelledViews:  # noqa: ANN001
    """Selected machine joints (:func:`annotator.machine_labels.selection.select_machine_joints`) as
    2D training labels in every camera of their capture.

    Each kept 3D joint is projected into every camera (not only its RANSAC inlier views);
    a view is a sample where some kept joint lands inside the image and in front of the
    camera. Kept joints weigh ``weight``; every other joint of a machine instant weighs 0
    (a rejected joint, an absent hand: the detector is not taught "nothing here" from the
    machine's own verdicts). Returns empty views when nothing was kept.
    """
    from triangulation import in_front, in_image, project

    if not weight > 0:
        raise ValueError(f"machine weight must be > 0, got {weight}")
    names = store.camera_names
    C, J = len(names), selection.kept.shape[1] if selection.kept.ndim == 2 else 0
    rows_i, rows_c, paths, sizes, uvs, weights = [], [], [], [], [], []
    todo = np.nonzero(selection.kept.any(axis=1))[0]
    captures = [store.instant(int(selection.instants[k])).capture for k in todo.tolist()]
    by_row: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for cap in dict.fromkeys(captures):  # each capture's instants projected at once
        ks = np.array([k for k, c in zip(todo.tolist(), captures, strict=True) if c == cap])
        rig = store.rig(cap)
        cols = store.camera_positions(cap)
        pts = np.where(selection.kept[ks, :, None], selection.joints_world_mm[ks], np.nan)
        uv_rig = project(pts, rig)  # (K, J, C', 2)
        front_rig = in_front(pts, rig)  # (K, J, C')
        inimg_rig = in_image(uv_rig, rig)
        for n, k in enumerate(ks.tolist()):
            uv = np.full((C, J, 2), np.nan)
            front = np.zeros((C, J), bool)
            inimg = np.zeros((C, J), bool)
            uv[cols] = uv_rig[n].transpose(1, 0, 2)
            front[cols] = front_rig[n].T
            inimg[cols] = inimg_rig[n].T
            by_row[k] = (uv, front, inimg)
    for k in todo.tolist():
        i = int(selection.instants[k])
        kept = selection.kept[k]
        uv_all, front, inimg = by_row[k]
        rig = store.rig(store.instant(i).capture)
        size_of = {cam.name: (cam.width, cam.height) for cam in rig}
        w = np.where(kept, np.float32(weight), np.float32(0.0)).astype(np.float32)
        for c, p in enumerate(store.image_paths(i)):
            if p is None or names[c] not in size_of:
                continue
            if not (kept & front[c] & inimg[c]).any():
                continue
            rows_i.append(i)
            rows_c.append(c)
            paths.append(p if isinstance(p, VideoFrame) else str(p))  # or a video's frame
            sizes.append(size_of[names[c]])
            uvs.append(np.where((kept & front[c])[:, None], uv_all[c], np.nan).astype(np.float32))
            weights.append(w)
    if not rows_i:
        return _empty_views(J or NUM_JOINTS)
    return _views_of_rows(rows_i, rows_c, paths, sizes, uvs, weights)


def _views_of_rows(rows_i, rows_c, paths, sizes, uvs, weights) -> LabelledViews:  # noqa: ANN001
    """LabelledViews from per-sample lists (instant, camera, path, size, uv, weight)."""
    return LabelledViews(
        instants=np.asarray(rows_i, np.int64),
        cameras=np.asarray(rows_c, np.int64),
        paths=list(paths),
        sizes=np.asarray(sizes, np.int64),
        uv_px=np.stack(uvs),
        weight=np.stack(weights),
    )


def _empty_views(num_joints: int) -> LabelledViews:
    return LabelledViews(
        instants=np.empty(0, np.int64),
        cameras=np.empty(0, np.int64),
        paths=[],
        sizes=np.empty((0, 2), np.int64),
        uv_px=np.empty((0, num_joints, 2), np.float32),
        weight=np.empty((0, num_joints), np.float32),
    )


def concat_views(*parts: LabelledViews) -> LabelledViews:
    """The samples of ``parts`` one after the other, as one :class:`LabelledViews`."""
    parts = tuple(p for p in parts if len(p)) or parts[:1]
    return LabelledViews(
        instants=np.concatenate([p.instants for p in parts]),
        cameras=np.concatenate([p.cameras for p in parts]),
        paths=[x for p in parts for x in p.paths],
        sizes=np.concatenate([p.sizes for p in parts]),
        uv_px=np.concatenate([p.uv_px for p in parts]),
        weight=np.concatenate([p.weight for p in parts]),
    )


def read_rgb(path) -> np.ndarray | None:
    """(H, W, 3) uint8 RGB, or None when the file is missing or not an image."""
    return try_read_image_rgb(path)[0]


class FrameCache:
    """Decoded video frames of the training views (RGB), least recently used dropped past
    ``max_bytes`` (env ``ANNOTATOR_TRAIN_FRAME_CACHE_MB``, default 1024).

    Training draws views at random, so a frame of a video costs a seek and the decoding of
    up to a keyframe interval: it trained at half the images/s of the same capture as JPEG
    files. Every view is drawn many times (tens of epochs), so keeping the decoded frames
    makes the rest of the draws free. Image files are read each time (decoding a JPEG is as
    cheap as the copy, and the OS caches the file). One cache per process.
    """

    def __init__(self, max_bytes: int | None = None):
        if max_bytes is None:
            max_bytes = int(os.environ.get("ANNOTATOR_TRAIN_FRAME_CACHE_MB", "1024")) << 20
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0

    def read(self, path) -> np.ndarray | None:
        if not isinstance(path, VideoFrame) or self.max_bytes <= 0:
            return read_rgb(path)
        key = str(path)
        image = self._items.get(key)
        if image is not None:
            self._items.move_to_end(key)
            return image
        image = read_rgb(path)
        if image is not None and image.nbytes <= self.max_bytes:
            self._items[key] = image
            self._bytes += image.nbytes
            while self._bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes
        return image

    def __getstate__(self) -> dict:  # a loader worker starts with an empty cache
        return {"max_bytes": self.max_bytes}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["max_bytes"])


class HandCropDataset(torch.utils.data.Dataset):
    """Augmented training crops. ``dataset[k]`` for any k >= 0 (global draw index) returns a
    dict: image (3, S, S) float32 in [0, 1], heatmaps (J, h, w) float32, weight (J,) float32,
    uv_crop_px (J, 2) float32, whole_view bool, ok bool."""

    def __init__(
        self, views: LabelledViews, config: LabelerConfig, seed: int = 0, augment: bool = True
    ) -> None:
        self.views = views
        self.config = config
        self.codec = HeatmapCodec.from_config(config)
        self.seed = int(seed)
        self.augment = bool(augment)
        self.frames = FrameCache()

    def __len__(self) -> int:
        return len(self.views)

    def __getitem__(self, k: int) -> dict:
        cfg = self.config
        n = int(k) % len(self.views)
        rng = np.random.default_rng([self.seed, int(k)])
        uv = self.views.uv_px[n].astype(np.float64)
        weight = self.views.weight[n].copy()
        whole = self.augment and rng.random() < cfg.whole_view_fraction
        if whole:
            w, h = self.views.sizes[n]
            box = letterbox_box(int(w), int(h))
            aug = (
                sample_geometric(rng, 0.1, 0.05, 10.0, cfg.flip_prob)
                if self.augment
                else GeometricAug.identity()
            )
        else:
            box = square_box(_crop_points(uv, weight, cfg.hand_crop_fraction, rng), pad=cfg.box_pad)
            aug = (
                sample_geometric(
                    rng, cfg.scale_jitter, cfg.translate_jitter, cfg.rotation_deg, cfg.flip_prob
                )
                if self.augment
                else GeometricAug.identity()
            )
        m = augment_affine(box, cfg.crop_px, aug)
        s = cfg.crop_px
        image = self.frames.read(self.views.paths[n])
        ok = image is not None
        if ok:
            crop = warp_image(image, m, s)
            if self.augment:
                crop = photometric(crop, rng, cfg.color_jitter, cfg.grey_prob)
        else:
            crop = np.zeros((s, s, 3), np.uint8)
        uv_crop = apply_affine(m, uv)
        if aug.flip:
            uv_crop = flip_joints(uv_crop)
            weight = flip_joints(weight)
        heat = self.codec.encode(uv_crop)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))).float()
            / 255.0,
            "heatmaps": torch.from_numpy(heat),
            "weight": torch.from_numpy(weight.astype(np.float32)),
            "uv_crop_px": torch.from_numpy(uv_crop.astype(np.float32)),
            "whole_view": bool(whole),
            "ok": bool(ok),
            "path": str(self.views.paths[n]),
        }


def _crop_points(
    uv: np.ndarray, weight: np.ndarray, hand_fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """The joints a training crop is boxed around: all of them, or (with probability
    ``hand_fraction``, in a view where both hands are labelled) one hand's, chosen at random.
    The other hand's joints that fall in that box stay targets."""
    if hand_fraction <= 0:
        return uv
    seen = np.isfinite(uv).all(-1) & (weight > 0)
    both = all(seen[hand_slice(h)].sum() >= 2 for h in HANDS)
    if not (both and rng.random() < hand_fraction):
        return uv
    return uv[hand_slice(HANDS[int(rng.integers(len(HANDS)))])]


class EpochSampler(torch.utils.data.Sampler):
    """Endless draw indices for one rank: epoch e is a permutation of the N samples (seeded
    by (seed, e)); rank r of W takes every W-th, offset r, and yields ``e * N + sample``.
    ``start`` skips this rank's first draws (resume)."""

    def __init__(self, n: int, seed: int = 0, rank: int = 0, world: int = 1, start: int = 0):
        if n <= 0:
            raise ValueError("EpochSampler needs at least one sample")
        self.n, self.seed, self.rank, self.world, self.start = n, seed, rank, world, int(start)

    def __iter__(self) -> Iterator[int]:
        per_rank = -(-self.n // self.world)  # every rank draws the same count per epoch
        epoch, offset = divmod(self.start, per_rank)
        while True:
            perm = np.random.default_rng([self.seed, 7919, epoch]).permutation(self.n)
            mine = perm[(np.arange(per_rank) * self.world + self.rank) % self.n]
            # k % n is the sample; k itself (distinct per epoch) seeds the augmentation.
            for j in range(offset, per_rank):
                yield int(epoch * self.n + mine[j])
            offset = 0
            epoch += 1

    def __len__(self) -> int:  # pragma: no cover - endless
        return 2**62


def collate(items: list[dict]) -> dict:
    """Stack the readable items; ``skipped`` counts and ``skipped_paths`` names the others."""
    good = [it for it in items if it["ok"]]
    bad = [it["path"] for it in items if not it["ok"]]
    out: dict = {"skipped": len(bad), "skipped_paths": bad, "size": len(good)}
    if good:
        for key in ("image", "heatmaps", "weight", "uv_crop_px"):
            out[key] = torch.stack([it[key] for it in good])
        out["whole_view"] = torch.tensor([it["whole_view"] for it in good])
    return out
