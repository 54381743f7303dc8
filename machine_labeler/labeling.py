"""Batch machine labelling: images -> 2D detections -> RANSAC 3D joints -> shard records.

Per instant (all of its views):

1. its views are read and decoded (RGB) and letterboxed into the whole-view crops of the
   coarse pass (:class:`InstantImages`), by DataLoader worker processes (``workers`` > 0) or
   by the pipeline's thread (``workers`` 0). A missing or corrupt image is skipped and
   reported (a :class:`BadImage`), never fatal;
2. the coarse pass finds the hands (:mod:`machine_labeler.hand_finding`); every view is
   cropped around them at full resolution for the fine pass. Forwards are batched across
   instants (groups of at least ``batch_size`` crops), under AMP and channels-last on CUDA,
   on an inference copy of the model with its BatchNorms folded
   (:mod:`torch_common.batchnorm_fold`);
3. the fine detections are lifted with ``triangulate_ransac(confidence=...)``; each joint
   gets its inlier count and mean inlier reprojection error, and quality bits
   (:mod:`annotator.store.machine_shards`): too few inliers, large error, implausible bone
   length against the human labels' bone lengths, not triangulated. A hand whose joints
   mostly fail is declared absent (its joints NaN);
4. results go to a :class:`~annotator.store.machine_shards.ShardWriter` in instant order,
   flushed every ``flush_every`` instants (a killed process loses at most those).

The model's forwards run in the calling thread; everything else of a group (steps 1-4: its
"CPU steps", a generator per group, :meth:`_Labeller.steps`) runs in one background thread,
``pipeline_depth`` groups in flight, so the model works on one group while another is read,
cropped or lifted. ``pipeline_depth`` 1 runs every step in turn in the calling thread.

``label_instants`` times the forwards: ``busy_share`` = forward seconds / wall seconds, the
share of time the model was busy (the pipeline's job is to keep it near 1).
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np
import torch

from annotator import skeleton
from annotator.images import try_read_image_rgb
from annotator.machine_labels.hand_geometry import (
    SubjectBones,
    chirality_agreement,
    human_hands,
    reference_bone_lengths,
    slots_contradicted,
)
from annotator.store.machine_shards import (
    QUALITY_BONE_LENGTH,
    QUALITY_FEW_INLIERS,
    QUALITY_HIGH_ERROR,
    QUALITY_LOW_SCORE,
    QUALITY_NOT_TRIANGULATED,
    BadImage,
    ShardRecords,
    ShardWriter,
)
from machine_labeler.codec import HeatmapCodec
from machine_labeler.hand_finding import (
    HandFindingSettings,
    coarse_threshold_px,
    confidence_mask,
    fine_crops,
    hand_boxes,
    hand_presence,
    letterbox_crop,
    locate_hands,
)
from machine_labeler.hand_pairing import (
    duplicate_hand,
    hands_in_order,
    pair_views,
)
from machine_labeler.loader_workers import worker_init_fn
from machine_labeler.model import KeypointDetector
from machine_labeler.predict import predict_crops
from machine_labeler.quality import ScoreWeights, joint_evidence, quality_score
from torch_common.batchnorm_fold import fold_batchnorm
from triangulation import project, triangulate_ransac

__all__ = [
    "LabelingSettings",
    "LabelingStats",
    "InstantImages",
    "label_instants",
    "reference_bone_lengths",
    "SubjectBones",
    "human_hands",
    "read_view",
]

logger = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
_FLIP = np.asarray(skeleton.FLIP_INDEX)


@dataclass(frozen=True)
class LabelingSettings:
    batch_size: int = 64  # crops per forward
    # DataLoader processes decoding images; 0: read by the pipeline's thread (or in turn in
    # the calling thread with pipeline_depth 1)
    workers: int = 0
    amp: bool = True  # autocast on CUDA (ignored on CPU)
    threshold_px: float = 6.0  # RANSAC inlier threshold of the fine detections
    min_confidence: float = 0.02  # fine detections below this confidence are dropped,
    relative_confidence: float = 0.3  # ... and those below this x the joint's best view
    min_inliers: int = 3  # fewer inlier views: flagged "few inlier views"
    max_error_px: float = 3.0  # larger mean inlier reprojection error: flagged
    bone_ratio: tuple[float, float] = (0.6, 1.6)  # plausible bone length / reference
    fine_passes: int = 1  # 2: crop again around the first fine result (training's box)
    # per-hand refinement passes after the fine pass(es): each hand cropped on its own from
    # the reprojection of its lifted joints, detected and lifted again; an instant stops
    # early when no joint moved more than refine_tol_mm
    refine: int = 1
    refine_tol_mm: float = 0.5
    # test-time mirroring: every crop is also detected mirrored and the two averaged
    # (machine_labeler.predict; twice the forward work, ~1.5x the labelling time on the CPU;
    # machine labels 12.61 -> 12.01 and 12.84 -> 11.97 mm median on the full demo's capture
    # with two detectors, docs/benchmarks.md)
    flip_test: bool = True
    # joints whose quality score (machine_labeler.quality) is below this are flagged for
    # review (QUALITY_LOW_SCORE, with the failed checks' bits as the reasons)
    flag_below: float = 0.05
    score_weights: ScoreWeights = field(default_factory=ScoreWeights)
    # pair the two hands' channels across views before lifting, and put the lifted hands in
    # their slots by chirality where the human labels confirm the rule (hand_pairing.py)
    pair_hands: bool = True
    pair_clip_factor: float = 4.0  # pairing clips reprojection errors at this x threshold_px
    chirality_min_agreement: float = 0.9  # on the human labels, to use chirality at all
    flush_every: int = 16  # instants between shard flushes
    # groups in flight: their CPU steps (hand finding, crops, lifting) run in a thread while
    # the model works on another group; 1: everything in turn in the calling thread
    pipeline_depth: int = 6
    # threads running CPU steps (of different groups at once). One gives ~250 images/s of
    # 40-view instants on this project's CPU; a GPU's rate needs more (numba and OpenCV
    # release the GIL)
    cpu_threads: int = 1
    hands: HandFindingSettings = field(default_factory=HandFindingSettings)

    def meta(self) -> dict:
        return {
            "threshold_px": self.threshold_px,
            "min_confidence": self.min_confidence,
            "relative_confidence": self.relative_confidence,
            "min_inliers": self.min_inliers,
            "max_error_px": self.max_error_px,
            "bone_ratio": list(self.bone_ratio),
            "fine_passes": self.fine_passes,
            "refine": self.refine,
            "refine_tol_mm": self.refine_tol_mm,
            "flip_test": self.flip_test,
            "flag_below": self.flag_below,
            "pair_hands": self.pair_hands,
            "coarse_threshold_px": self.hands.coarse_threshold_px,
            "coarse_threshold_heatmap_px": self.hands.coarse_threshold_heatmap_px,
        }


@dataclass(frozen=True)
class LabelingStats:
    instants: int
    images: int  # views decoded
    crops: int  # crops through the network (coarse + fine)
    bad_images: tuple[BadImage, ...]
    wall_s: float
    forward_s: float  # time inside the model's forwards (and heatmap decoding)
    startup_s: float = 0.0  # wall time until the loader delivered the first instant

    @property
    def busy_share(self) -> float:
        """Forward time / wall time, loader start-up included."""
        return self.forward_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def steady_busy_share(self) -> float:
        """Forward time / wall time after the loader's start-up (its workers spawning)."""
        wall = self.wall_s - self.startup_s
        return self.forward_s / wall if wall > 0 else 0.0

    @property
    def images_per_s(self) -> float:
        return self.images / self.wall_s if self.wall_s > 0 else 0.0


def read_view(path: str | None, size: tuple[int, int] | None) -> tuple[np.ndarray | None, str]:
    """(H, W, 3) uint8 RGB of one view and '' or (None, why it was skipped)."""
    rgb, why = try_read_image_rgb(path)
    if rgb is None:
        return None, why
    if size is not None and (rgb.shape[1], rgb.shape[0]) != tuple(size):
        return None, (
            f"{path}: image is {rgb.shape[1]}x{rgb.shape[0]}, its camera is {size[0]}x{size[1]}"
        )
    return rgb, ""


class InstantImages(torch.utils.data.Dataset):
    """Item k: the decoded views of instant ``instants[k]`` plus the coarse-pass crops.

    paths: per instant, C paths (None: no image for that camera); sizes: (C, 2) expected
    (width, height) per project camera. Returns a dict: instant, pixels (every decoded view's
    (H, W, 3) uint8 pixels, flattened one after the other), shapes (C, 3) (zeros where a
    camera has no image; :func:`_unpack_views` gives the views back), coarse (C, S, S, 3)
    uint8, coarse_boxes (C, 3), bad [(camera, reason)].
    """

    def __init__(
        self,
        instants: Sequence[int],
        paths: Sequence[Sequence[str | None]],
        sizes: np.ndarray,
        crop_px: int,
    ):
        self.instants = [int(i) for i in instants]
        self.paths = [list(p) for p in paths]
        self.sizes = np.asarray(sizes, np.int64)
        self.crop_px = int(crop_px)

    def __len__(self) -> int:
        return len(self.instants)

    def __getitem__(self, k: int) -> dict:
        S = self.crop_px
        paths = self.paths[k]
        images, bad = [], []
        coarse = np.zeros((len(paths), S, S, 3), np.uint8)
        boxes = np.full((len(paths), 3), np.nan)
        shapes = np.zeros((len(paths), 3), np.int64)
        for c, p in enumerate(paths):
            img, why = read_view(p, tuple(self.sizes[c]))
            if why:
                bad.append((c, why))
            if img is None:
                continue
            coarse[c], boxes[c] = letterbox_crop(img, S)
            shapes[c] = img.shape
            images.append(img.reshape(-1))
        # One buffer for all views: a worker hands each tensor over as its own shared-memory
        # file, and 40 per instant cost the receiving (model) process measurable time.
        pixels = np.concatenate(images) if images else np.zeros(0, np.uint8)
        return {
            "instant": self.instants[k],
            "pixels": torch.from_numpy(pixels),
            "shapes": shapes,
            "coarse": torch.from_numpy(coarse),
            "coarse_boxes": boxes,
            "bad": bad,
        }


def _blocked_order(n: int, workers: int) -> list[int]:
    """Item order under which DataLoader worker w (it takes items w, w + workers, ...) gets
    one consecutive run of the items: each worker decodes its part of every video in order,
    where the plain order would have every worker decode all of every video."""
    if workers <= 1:
        return list(range(n))
    runs = np.array_split(np.arange(n), workers)
    order = []
    for k in range(max(len(r) for r in runs)):
        order.extend(int(r[k]) for r in runs if k < len(r))
    return order


def _unpack_views(item: dict) -> list[np.ndarray | None]:
    """The (H, W, 3) views of an :class:`InstantImages` item (None where it has none)."""
    pixels = item["pixels"].numpy()
    out: list[np.ndarray | None] = []
    at = 0
    for shape in np.asarray(item["shapes"]).tolist():
        n = int(np.prod(shape))
        out.append(pixels[at : at + n].reshape(shape) if n else None)
        at += n
    return out


def _nearer_channel_set(own: np.ndarray, other: np.ndarray, want: np.ndarray) -> np.ndarray:
    """(V,) bool: per crop, whether the other hand's channels (V, 21, 2) lie nearer the
    expected joints ``want`` (V, 21, 2) than the hand's own channels (median over joints)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a crop with no finite pair
        d_own = np.nanmedian(np.linalg.norm(own - want, axis=-1), axis=1)
        d_other = np.nanmedian(np.linalg.norm(other - want, axis=-1), axis=1)
    return np.isfinite(d_other) & ~(d_own <= d_other)


class _Detector:
    """The model as a ``crops -> (uv_crop (N, J, 2), confidence (N, J))`` callable, timed."""

    def __init__(
        self, model, codec: HeatmapCodec, device: torch.device, amp: bool, batch_size: int,
        flip: bool = False,
    ):
        self.model, self.codec, self.device = model, codec, device
        self.amp, self.batch_size, self.flip = amp, int(batch_size), bool(flip)
        self.forward_s = 0.0
        self.crops = 0

    def __call__(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        J = skeleton.NUM_JOINTS
        uv = np.full((len(crops), J, 2), np.nan)
        conf = np.zeros((len(crops), J), np.float32)
        for lo in range(0, len(crops), self.batch_size):
            t0 = time.perf_counter()
            kp = predict_crops(
                self.model, self.codec, crops[lo : lo + self.batch_size], self.device,
                amp=self.amp, flip=self.flip,
            )
            self.forward_s += time.perf_counter() - t0
            uv[lo : lo + len(kp.uv_crop_px)] = kp.uv_crop_px
            conf[lo : lo + len(kp.uv_crop_px)] = kp.confidence
        self.crops += len(crops)
        return uv, conf


def _to_image(uv_crop: np.ndarray, boxes: np.ndarray, crop_px: int) -> np.ndarray:
    """(N, J, 2) crop px -> image px for per-crop boxes (N, 3) (crops.crop_to_image, batched)."""
    scale = boxes[:, 2] / crop_px
    return (uv_crop + 0.5) * scale[:, None, None] + boxes[:, None, :2]


@dataclass
class _Pending:
    instant: int
    capture: str
    cols: np.ndarray  # project camera index of each capture camera
    images: list  # capture-axis list of (H, W, 3) arrays or None
    coarse_uv: np.ndarray | None = None  # (c, J, 2) image px
    coarse_conf: np.ndarray | None = None
    bad: list = field(default_factory=list)


class _Labeller:
    def __init__(self, store, model, config, device, settings: LabelingSettings):
        self.store, self.config, self.settings = store, config, settings
        self.crop_px = int(config.crop_px)
        self.codec = HeatmapCodec.from_config(config)
        self.detect = _Detector(
            model, self.codec, device, settings.amp and device.type == "cuda", settings.batch_size,
            flip=settings.flip_test,
        )
        self.subject_bones = SubjectBones(store)
        self.bones = self.subject_bones.pooled
        self.bones_of = self.subject_bones.of
        self.use_chirality = False
        if settings.pair_hands:
            agree, n = chirality_agreement(human_hands(store))
            self.use_chirality = n >= 4 and agree >= settings.chirality_min_agreement
            logger.info("chirality rule on %d human-labelled hands: %.0f%% agree%s", n,
                        100 * agree if n else 0, "" if self.use_chirality else " (not used)")
        self.rigs = {cap: store.rig(cap) for cap in store.captures}
        self.cols = {cap: np.nonzero(store.camera_mask(cap))[0] for cap in store.captures}
        self.coarse_thr = {
            cap: settings.hands.coarse_threshold_px
            or coarse_threshold_px(
                rig, self.crop_px, config.heatmap_px, settings.hands.coarse_threshold_heatmap_px
            )
            for cap, rig in self.rigs.items()
        }
        self.C = len(store.camera_names)

    def steps(self, items: list[dict], captures: dict[int, str]) -> Generator:
        """The CPU work of one group of instants, as a generator: it yields each batch of
        crops (N, S, S, 3) for the model, is sent the detections (uv crop px, confidence)
        back, and returns the group's ShardRecords. The caller runs the forwards, so the
        CPU steps of one group can run while the model works on another (``_run_groups``).
        """
        S, J = self.crop_px, skeleton.NUM_JOINTS
        pend: list[_Pending] = []
        coarse, boxes = [], []
        for it in items:
            i = int(it["instant"])
            cap = captures[i]
            cols = self.cols[cap]
            views = _unpack_views(it)
            imgs = [views[c] for c in cols]
            p = _Pending(i, cap, cols, imgs, bad=[BadImage(i, int(c), why) for c, why in it["bad"]])
            pend.append(p)
            have = np.array([im is not None for im in imgs], bool)
            coarse.append(it["coarse"].numpy()[cols][have])
            boxes.append(np.asarray(it["coarse_boxes"])[cols][have])
        crops = np.concatenate(coarse) if coarse else np.zeros((0, S, S, 3), np.uint8)
        uv, conf = yield crops
        uv = _to_image(uv, np.concatenate(boxes), S) if len(crops) else uv
        k = 0
        for p in pend:
            have = np.array([im is not None for im in p.images], bool)
            n = int(have.sum())
            p.coarse_uv = np.full((len(p.images), J, 2), np.nan)
            p.coarse_conf = np.zeros((len(p.images), J), np.float32)
            p.coarse_uv[have], p.coarse_conf[have] = uv[k : k + n], conf[k : k + n]
            k += n
        found = [
            locate_hands(
                p.coarse_uv,
                p.coarse_conf,
                self.rigs[p.capture],
                self.coarse_thr[p.capture],
                self.settings.hands,
            )
            for p in pend
        ]
        boxes = [f.boxes for f in found]
        result = yield from self._fine(pend, boxes)
        for _ in range(1, self.settings.fine_passes):
            # crop again around the first fine result, with training's own box padding
            boxes = [
                hand_boxes(r[0], r[6] > 0, self.rigs[p.capture], self.config.box_pad)
                if (r[6] > 0).any()
                else b
                for r, p, b in zip(result, pend, boxes, strict=True)
            ]
            result = yield from self._fine(pend, boxes)
        moving = list(range(len(pend)))
        for _ in range(self.settings.refine):
            moving = [n for n in moving if (result[n][6] > 0).any()]
            if not moving:
                break
            new = yield from self._refine([pend[n] for n in moving], [result[n] for n in moving])
            still = []
            for n, r in zip(moving, new, strict=True):
                with np.errstate(invalid="ignore"):
                    shift = np.linalg.norm(r[0] - result[n][0], axis=1)
                if np.isfinite(shift).any() and np.nanmax(shift) >= self.settings.refine_tol_mm:
                    still.append(n)
                result[n] = r
            moving = still
        return self._records(pend, result)

    def _fine(self, pend: list[_Pending], box_list: list[np.ndarray]) -> Generator:
        """One fine pass (a generator step of :meth:`steps`): crops around ``box_list``,
        yielded for the model, then lifted; returns one result tuple per instant."""
        S, J = self.crop_px, skeleton.NUM_JOINTS
        crops, views, boxes = [], [], []
        for p, b in zip(pend, box_list, strict=True):
            cr, v = fine_crops(p.images, b, S)
            crops.append(cr)
            views.append(v)
            boxes.append(b[v])
        allc = np.concatenate(crops) if crops else np.zeros((0, S, S, 3), np.uint8)
        uv, conf = yield allc
        if len(allc):
            uv = _to_image(uv, np.concatenate(boxes), S)
        out, k = [], 0
        s = self.settings
        for p, v in zip(pend, views, strict=True):
            c = len(p.images)
            fu = np.full((c, J, 2), np.nan)
            fc = np.zeros((c, J), np.float32)
            fu[v], fc[v] = uv[k : k + len(v)], conf[k : k + len(v)]
            k += len(v)
            out.append(self._lift(p, fu, fc, pair=s.pair_hands))
        return out

    def _refine(self, pend: list[_Pending], results: list[tuple]) -> Generator:
        """One per-hand refinement pass (a generator step of :meth:`steps`).

        Each present hand of each instant is cropped on its own in every view: a square box
        (training's ``box_pad``) around the reprojection of that hand's lifted joints, so
        no crop is shared by the two hands and each hand fills its crop. Which of the
        detector's two channel sets holds the cropped hand is decided per crop by which set
        lies nearer that reprojection (two-hand crops are trained with either assignment).
        The hands' detections are then lifted again. Returns one result per instant; an
        instant whose refinement finds fewer hands than the previous pass keeps that pass.
        """
        S = self.crop_px
        crops, jobs, boxes = [], [], []  # jobs: (instant k, hand h, views)
        expected = []  # per job: (C, 21, 2) reprojection of the hand's current joints
        for n, (p, r) in enumerate(zip(pend, results, strict=True)):
            joints, present = r[0], r[6] > 0
            rig = self.rigs[p.capture]
            for h, name in enumerate(skeleton.HANDS):
                if not present[h]:
                    continue
                only = np.zeros(len(skeleton.HANDS), bool)
                only[h] = True
                b = hand_boxes(joints, only, rig, self.config.box_pad)
                cr, v = fine_crops(p.images, b, S)
                if not len(v):
                    continue
                crops.append(cr)
                boxes.append(b[v])
                jobs.append((n, h, v))
                sel = skeleton.hand_joints(name)
                expected.append(np.swapaxes(project(joints[sel], rig), 0, 1))
        allc = np.concatenate(crops) if crops else np.zeros((0, S, S, 3), np.uint8)
        uv, conf = yield allc
        if len(allc):
            uv = _to_image(uv, np.concatenate(boxes), S)
        # views a hand's crop does not reach keep that hand's previous detections
        fus = [np.array(r[1], np.float64, copy=True) for r in results]
        fcs = [np.array(r[2], np.float32, copy=True) for r in results]
        k = 0
        for (n, h, v), want in zip(jobs, expected, strict=True):
            u, c = uv[k : k + len(v)], conf[k : k + len(v)]
            k += len(v)
            own = skeleton.hand_joints(skeleton.HANDS[h])
            other = skeleton.hand_joints(skeleton.HANDS[1 - h])
            pick = _nearer_channel_set(u[:, own], u[:, other], want[v])
            fus[n][v[:, None], own] = np.where(pick[:, None, None], u[:, other], u[:, own])
            fcs[n][v[:, None], own] = np.where(pick[:, None], c[:, other], c[:, own])
        out = []
        for p, r, fu, fc in zip(pend, results, fus, fcs, strict=True):
            new = self._lift(p, fu, fc, pair=False)
            out.append(r if (new[6] > 0).sum() < (r[6] > 0).sum() else new)
        return out

    def _lift(self, p: _Pending, fu: np.ndarray, fc: np.ndarray, pair: bool) -> tuple:
        """Lift one instant's per-view detections fu (c, J, 2) / fc (c, J) to 3D.

        ``pair``: pair the hands' channels across views first (the joint crops of the fine
        pass; the per-hand crops of refinement already know which hand is which). With
        ``pair_hands`` set, a hand lifted on top of the other is dropped and the hands are
        put in their slots by chirality after every lift (a refined hand's chirality is
        surer than the first pass's, whose slot it starts from). Returns the result tuple
        ``(joints, uv, confidence, inliers, mean error, quality, hand present, score)``.
        """
        s = self.settings
        rig = self.rigs[p.capture]
        w = confidence_mask(fc, s.min_confidence, s.relative_confidence)
        if pair:
            swap = pair_views(fu, w, rig, s.pair_clip_factor * s.threshold_px)
            fu = np.where(swap[:, None, None], fu[:, _FLIP], fu)
            fc = np.where(swap[:, None], fc[:, _FLIP], fc)
            w = np.where(swap[:, None], w[:, _FLIP], w)
        use = w > 0
        tri = triangulate_ransac(
            np.swapaxes(np.where(use[..., None], fu, np.nan), 0, 1),
            rig,
            confidence=w.T,
            threshold_px=s.threshold_px,
            min_inliers=2,
        )
        n_views = np.where(tri.valid, tri.n_views, 0)
        n_in = tri.inliers.sum(axis=1)
        err_sum = np.where(tri.inliers, tri.reproj_error_px, 0.0).sum(axis=1)
        mean_err = np.where(n_in > 0, err_sum / np.maximum(n_in, 1), np.nan)
        present = hand_presence(n_views, s.min_inliers, s.hands.min_joint_fraction)
        joints = tri.points_world_mm.copy()
        if s.pair_hands:
            drop = duplicate_hand(joints, n_views, present)
            if drop >= 0:
                present[drop] = False
            if self.use_chirality and not hands_in_order(joints, present):
                # the lifted hands sit in each other's slots: swap everything per joint
                joints, n_views, mean_err = joints[_FLIP], n_views[_FLIP], mean_err[_FLIP]
                fu, fc = fu[:, _FLIP], fc[:, _FLIP]
                present = present[::-1].copy()
        absent = ~present[skeleton.HAND_INDEX]
        joints[absent] = np.nan
        score, quality = self._quality(p, joints, fu, fc, n_views, mean_err, present)
        quality[absent] = 0
        return (joints, fu, fc, n_views, mean_err, quality, present.astype(np.int8), score)

    def _quality(self, p: _Pending, joints, fu, fc, n_views, mean_err, present):
        """(score (J,), quality bits (J,)) of one instant's lifted joints: the score of
        :mod:`machine_labeler.quality`; joints scoring below ``flag_below`` get
        QUALITY_LOW_SCORE plus a bit for each check they fail, the others no bit."""
        s = self.settings
        rig = self.rigs[p.capture]
        bones = self.bones_of(p.instant)
        hand_ok = present & ~slots_contradicted(joints) if self.use_chirality else present
        w = confidence_mask(fc, s.min_confidence, s.relative_confidence)
        ev = joint_evidence(joints, fu, w, rig, s.threshold_px, bones, hand_ok)
        score = quality_score(ev, s.threshold_px, s.score_weights).astype(np.float32)
        q = np.zeros(skeleton.NUM_JOINTS, np.uint8)
        finite = np.isfinite(joints).all(1)
        q[~finite] |= QUALITY_NOT_TRIANGULATED
        low = finite & (score < s.flag_below)
        q[low] |= QUALITY_LOW_SCORE
        q[low & (n_views < s.min_inliers)] |= QUALITY_FEW_INLIERS
        with np.errstate(invalid="ignore"):
            q[low & (mean_err > s.max_error_px)] |= QUALITY_HIGH_ERROR
            lo, hi = np.log(s.bone_ratio[0]), np.log(s.bone_ratio[1])
            q[low & (ev.bone > min(-lo, hi))] |= QUALITY_BONE_LENGTH
        return score, q

    def _records(self, pend: list[_Pending], result: list[tuple]) -> ShardRecords:
        F, C, J = len(pend), self.C, skeleton.NUM_JOINTS
        uv = np.full((F, C, J, 2), np.nan, np.float32)
        conf = np.zeros((F, C, J), np.float32)
        joints = np.full((F, J, 3), np.nan)
        inl = np.zeros((F, J), np.int16)
        err = np.full((F, J), np.nan, np.float32)
        qual = np.zeros((F, J), np.uint8)
        hands = np.zeros((F, 2), np.int8)
        score = np.full((F, J), np.nan, np.float32)
        bad: list[BadImage] = []
        for k, (p, r) in enumerate(zip(pend, result, strict=True)):
            joints[k], fu, fc, inl[k], err[k], qual[k], hands[k], score[k] = r
            uv[k][p.cols], conf[k][p.cols] = fu, fc
            bad.extend(p.bad)
        return ShardRecords(
            instants=np.array([p.instant for p in pend], np.int64),
            uv_px=uv,
            confidence=conf,
            joints_world_mm=joints,
            inliers=inl,
            reproj_error_px=err,
            quality=qual,
            hand_present=hands,
            score=score,
            bad_images=tuple(bad),
        )


def _views_in(item: dict) -> int:
    """How many views an :class:`InstantImages` item decoded."""
    return int((np.asarray(item["shapes"]).prod(axis=1) > 0).sum())


def _grouped(things: Iterable, views_of: Callable[[object], int], at_least: int) -> Iterator[list]:
    """Consecutive groups of ``things`` holding at least ``at_least`` views each (the last
    group may hold fewer)."""
    group: list = []
    views = 0
    for thing in things:
        group.append(thing)
        views += views_of(thing)
        if views >= at_least:
            yield group
            group, views = [], 0
    if group:
        yield group


def _run_groups(
    tasks: Iterator[Generator], detect: Callable, emit: Callable[[ShardRecords], None],
    depth: int, threads: int = 1,
) -> None:
    """Run the group generators of :meth:`_Labeller.steps`: their CPU steps in ``threads``
    background threads, the model's forwards (``detect``) in this thread, up to ``depth``
    groups in flight; ``emit`` gets each group's records in the groups' order.

    A group's steps run one after another (each is submitted when the previous one's crops
    have been through the model); steps of different groups may run at once. Of the steps
    that are ready, the one submitted first goes to the model first. Depth 1 runs each
    group's steps here in turn (no thread).
    """
    if depth <= 1:
        for gen in tasks:
            try:
                crops = next(gen)
                while True:
                    crops = gen.send(detect(crops))
            except StopIteration as stop:
                emit(stop.value)
        return

    def step(gen: Generator, value) -> tuple[str, object]:
        try:
            return "crops", (next(gen) if value is None else gen.send(value))
        except StopIteration as stop:
            return "done", stop.value

    pending: dict[Future, tuple[int, int, Generator]] = {}  # step -> (order, group, gen)
    finished: dict[int, ShardRecords] = {}
    started = next_out = submitted = 0
    exhausted = False
    with ThreadPoolExecutor(max(1, threads), thread_name_prefix="label-cpu") as pool:

        def submit(n: int, gen: Generator, value) -> None:
            nonlocal submitted
            pending[pool.submit(step, gen, value)] = (submitted, n, gen)
            submitted += 1

        try:
            while True:
                while not exhausted and started - next_out < depth:
                    gen = next(tasks, None)
                    if gen is None:
                        exhausted = True
                        break
                    submit(started, gen, None)
                    started += 1
                if not pending:
                    break
                ready, _ = wait(pending, return_when=FIRST_COMPLETED)
                fut = min(ready, key=lambda f: pending[f][0])
                _, n, gen = pending.pop(fut)
                kind, value = fut.result()
                if kind == "crops":
                    submit(n, gen, detect(value))
                    continue
                finished[n] = value
                while next_out in finished:
                    emit(finished.pop(next_out))
                    next_out += 1
        finally:
            for fut in pending:  # an error: stop the others before leaving
                fut.cancel()
            for fut, (_, _, gen) in pending.items():
                if not fut.cancelled():
                    fut.exception()
                gen.close()


def label_instants(
    store,
    model: torch.nn.Module | Sequence[torch.nn.Module],
    config,
    instants: Sequence[int],
    writer: ShardWriter | None,
    settings: LabelingSettings = LabelingSettings(),
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
) -> LabelingStats:
    """Label ``instants`` of ``store`` (open for reading) with ``model`` (eval mode, on
    ``device``) of ``config``, or an ensemble of such models (their outputs averaged);
    results go to ``writer`` (None: discarded, for benchmarks).

    Returns timing and counts; bad images are in the stats and in the shards.
    """
    device = torch.device(device)
    models = [model] if isinstance(model, torch.nn.Module) else list(model)
    models = [fold_batchnorm(m) if isinstance(m, KeypointDetector) else m for m in models]
    if device.type == "cuda":
        models = [m.to(memory_format=torch.channels_last) for m in models]
    lab = _Labeller(store, models, config, device, settings)
    instants = [int(i) for i in instants]
    if not instants:
        return LabelingStats(0, 0, 0, (), 0.0, 0.0)
    table = store.instants()
    captures = {i: str(table.capture[i]) for i in instants}
    sizes = np.zeros((lab.C, 2), np.int64)
    for rig in lab.rigs.values():
        for cam in rig:
            sizes[store.camera_index(cam.name)] = cam.size
    paths = [list(store.image_paths(i)) for i in instants]  # Paths, or VideoFrames
    video = store.is_video_project
    data = InstantImages(instants, paths, sizes, lab.crop_px)
    workers = max(0, int(settings.workers))
    views_per_batch = max(1, settings.batch_size)
    t0 = time.perf_counter()
    done = images = 0
    since_flush = 0
    bad: list[BadImage] = []
    startup: float | None = None

    def emit(rec: ShardRecords) -> None:
        nonlocal done, since_flush
        bad.extend(rec.bad_images)
        if writer is not None:
            writer.add(rec)
        done += len(rec.instants)
        since_flush += len(rec.instants)
        if writer is not None and since_flush >= settings.flush_every:
            writer.flush()
            since_flush = 0
        if progress is not None:
            progress(done, len(instants))

    if workers == 0 and settings.pipeline_depth > 1:
        # No loader processes: the images are read in the thread that runs the CPU steps
        # (OpenCV's decoding and warps release the GIL), overlapped with the forwards. On a
        # small machine this beats worker processes, which compete with the model for cores
        # and pay to hand every view over.
        startup = 0.0
        count_lock = threading.Lock()

        def read_then_steps(group: list[int]) -> Generator:
            """A group's steps whose first one reads its images (in the pipeline's thread)."""
            nonlocal images
            items = [data[k] for k in group]
            n = sum(_views_in(it) for it in items)
            with count_lock:  # several CPU threads may read at once
                images += n
            return (yield from lab.steps(items, captures))

        def paths_present(k: int) -> int:
            return sum(p is not None for p in paths[k])

        groups = _grouped(range(len(paths)), paths_present, views_per_batch)
        tasks = (read_then_steps(g) for g in groups)
    else:
        loader = torch.utils.data.DataLoader(
            data,
            batch_size=None,
            shuffle=False,
            sampler=_blocked_order(len(data), workers) if video else None,
            num_workers=workers,
            worker_init_fn=worker_init_fn() if workers else None,
            multiprocessing_context="forkserver" if workers else None,
            prefetch_factor=4 if workers else None,
            pin_memory=False,
        )

        def loaded():
            """The loader's items, counting views and the loader's start-up on the way."""
            nonlocal images, startup
            for item in loader:
                if startup is None:
                    startup = time.perf_counter() - t0
                images += _views_in(item)
                yield item

        tasks = (lab.steps(g, captures) for g in _grouped(loaded(), _views_in, views_per_batch))
    _run_groups(tasks, lab.detect, emit, settings.pipeline_depth, settings.cpu_threads)
    if writer is not None:
        writer.flush()
    wall = time.perf_counter() - t0
    for b in bad:
        logger.warning("skipped %s", b.reason)
    return LabelingStats(
        instants=done,
        images=images,
        crops=lab.detect.crops,
        bad_images=tuple(bad),
        wall_s=wall,
        forward_s=lab.detect.forward_s,
        startup_s=startup or 0.0,
    )
