"""Samples as columns: one record per image in numpy arrays, a :class:`HandSample` on demand.

A list of :class:`HandSample` costs ~9 KB of Python objects per image (24 GB for the 2.6M
images of InterHand2.6M), and every DataLoader worker that touches those objects' reference
counts copies their pages. A :class:`SampleTable` holds the same information in ~100 bytes
per image, in arrays that forked workers share without copying:

- per capture: its :class:`~triangulation.CameraRig` (cameras are shared, not per image);
- per row (an instant: one frame of a capture): capture, frame number, subject and the
  world joints (J, 3) mm;
- per sample (an image): its row, its camera's position in the capture's rig, joint validity,
  hand presence, ``hand_type_valid``, the box, and the image path (12 bytes, encoded).

``table[i]`` builds the :class:`HandSample` of image ``i``: camera-frame joints
``x_cam = R X + t`` and pixels, computed as the list builders computed them (the pinhole of
the InterHand2.6M format, or :func:`triangulation.project` with lens distortion for a
project), so a table and a list give the same numbers. ``table[a:b]``, ``table[idx]``
(integer or bool arrays) and :meth:`SampleTable.take` give a smaller table.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from annotator.skeleton import HANDS, NUM_JOINTS, ROOT_INDEX, hand_slice
from annotator.store.paths import EncodedPaths
from pose_net.data.sample import HandSample
from triangulation import CameraRig, project

__all__ = ["SampleTable", "ImagePaths", "rooted_hands"]


@dataclass(frozen=True, eq=False)
class ImagePaths:
    """The image of each sample: ``root / encoded path`` (12 bytes per image), or, for a
    project made from videos, a per-sample list of :class:`~annotator.video.VideoFrame` /
    paths (the one case that keeps a Python object per image)."""

    root: Path
    encoded: EncodedPaths | None = None
    objects: list | None = None

    def __len__(self) -> int:
        if self.objects is not None:
            return len(self.objects)
        return int(self.encoded.template.shape[0])

    def get(self, i: int):
        if self.objects is not None:
            return self.objects[i]
        p = self.encoded.decode(i)
        return None if p is None else self.root / p

    def take(self, idx: np.ndarray) -> ImagePaths:
        if self.objects is not None:
            return ImagePaths(self.root, objects=[self.objects[k] for k in idx.tolist()])
        e = self.encoded
        return ImagePaths(self.root, EncodedPaths(e.templates, e.template[idx], e.number[idx]))


def _pinhole_px(joints_cam_mm: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(..., J, 2) pixels of camera-frame joints through ``K`` ((3, 3), or (..., 1, 3, 3)
    for a batch): the InterHand2.6M format's pinhole, no distortion."""
    f = K[..., [0, 1], [0, 1]]
    c = K[..., :2, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        return joints_cam_mm[..., :2] / joints_cam_mm[..., 2:3] * f + c


def rooted_hands(uv_px: np.ndarray, joint_valid: np.ndarray, hand_present) -> np.ndarray:
    """(N, 2) bool: hand h of sample n is present (``hand_present`` (N, 2), > 0.5), its root
    is valid and the box of its valid joints' pixels (``uv_px`` (N, J, 2)) is finite and not
    empty: the hands RootNet trains and is evaluated on."""
    from annotator.interchange.interhand_layout import enlarged_bbox_xywh

    ok = np.zeros((uv_px.shape[0], len(HANDS)), dtype=bool)
    for h, hand in enumerate(HANDS):
        sl = hand_slice(hand)
        box = enlarged_bbox_xywh(uv_px[:, sl], joint_valid[:, sl])
        ok[:, h] = ((np.asarray(hand_present)[:, h] > 0.5) & joint_valid[:, ROOT_INDEX[hand]]
                    & np.all(np.isfinite(box), axis=1) & (box[:, 2] > 0) & (box[:, 3] > 0))
    return ok


@dataclass(frozen=True, eq=False)
class SampleTable(Sequence):
    """Hand samples as columns (see the module docstring). Build one with
    :func:`~pose_net.data.interhand_samples` or :func:`~pose_net.data.project_samples`.

    Attributes (M rows, N samples, J joints):
        captures: capture names; ``rigs[k]`` is capture k's camera rig.
        pinhole: pixels by the pinhole formula on camera-frame joints (InterHand2.6M, whose
            cameras have no distortion); False: :func:`triangulation.project` on the world
            joints with the whole rig (lens distortion included), as a project's samples.
        row_capture (M,) int32, row_frame (M,) int64, row_subject (M,) int64 (-1 unknown),
        row_world_mm (M, J, 3) float64 (NaN where unknown).
        row (N,) int64, camera (N,) int32 (position in its capture's rig), joint_valid
        (N, J) bool, hand_present (N, 2) bool ([right, left]), hand_type_valid (N,) bool,
        bbox_xywh (N, 4) float64, paths (:class:`ImagePaths`).
        info: how the table was built (e.g. the peak memory of the reader's second process).
    """

    captures: tuple[str, ...]
    rigs: tuple[CameraRig, ...]
    pinhole: bool
    row_capture: np.ndarray
    row_frame: np.ndarray
    row_subject: np.ndarray
    row_world_mm: np.ndarray
    row: np.ndarray
    camera: np.ndarray
    joint_valid: np.ndarray
    hand_present: np.ndarray
    hand_type_valid: np.ndarray
    bbox_xywh: np.ndarray
    paths: ImagePaths
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.row.shape[0]
        for name in ("camera", "joint_valid", "hand_present", "hand_type_valid", "bbox_xywh"):
            if getattr(self, name).shape[0] != n:
                raise ValueError(f"SampleTable: column {name} has "
                                 f"{getattr(self, name).shape[0]} rows, expected {n}")
        if len(self.paths) != n:
            raise ValueError(f"SampleTable: {len(self.paths)} image paths, expected {n}")
        if self.joint_valid.shape[1:] != (NUM_JOINTS,):
            raise ValueError(f"SampleTable: joint_valid must be (N, {NUM_JOINTS})")

    # ---- Sequence ----------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.row.shape[0])

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            i = int(index)
            if i < 0:
                i += len(self)
            if not 0 <= i < len(self):
                raise IndexError(f"sample {index} out of range 0..{len(self) - 1}")
            return self._sample(i)
        if isinstance(index, slice):
            return self.take(np.arange(len(self))[index])
        return self.take(index)

    def __iter__(self) -> Iterator[HandSample]:
        for i in range(len(self)):
            yield self._sample(i)

    def take(self, index) -> SampleTable:
        """The samples at ``index`` (integer positions or a (N,) bool mask), in that order;
        the rows, cameras and captures stay shared."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise IndexError(f"a mask must have shape ({len(self)},), got {idx.shape}")
            idx = np.nonzero(idx)[0]
        idx = idx.astype(np.int64, copy=False)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"sample index out of range 0..{len(self) - 1}")
        return replace(
            self,
            row=self.row[idx],
            camera=self.camera[idx],
            joint_valid=self.joint_valid[idx],
            hand_present=self.hand_present[idx],
            hand_type_valid=self.hand_type_valid[idx],
            bbox_xywh=self.bbox_xywh[idx],
            paths=self.paths.take(idx),
        )

    # ---- columns -----------------------------------------------------------------------
    @property
    def subject(self) -> np.ndarray:
        """(N,) int64 subject per sample (-1 unknown)."""
        return self.row_subject[self.row]

    @property
    def interacting(self) -> np.ndarray:
        """(N,) bool: the image shows both hands (InterHand2.6M's hand type "interacting")."""
        return self.hand_present.all(axis=1)

    def nbytes(self) -> int:
        """Bytes held by the numpy columns (rows and samples; rigs and path templates
        excluded)."""
        arrays = [self.row_capture, self.row_frame, self.row_subject, self.row_world_mm,
                  self.row, self.camera, self.joint_valid, self.hand_present,
                  self.hand_type_valid, self.bbox_xywh]
        if self.paths.encoded is not None:
            arrays += [self.paths.encoded.template, self.paths.encoded.number]
        return int(sum(a.nbytes for a in arrays))

    def joints_uv_px(self, index) -> np.ndarray:
        """(n, J, 2) pixels of the samples at ``index`` (integer positions), computed for all
        of them at once (the arithmetic of ``table[i].joints_uv_px``, batched)."""
        idx = np.asarray(index, dtype=np.int64)
        rows, cams = self.row[idx], self.camera[idx]
        out = np.empty((idx.size, NUM_JOINTS, 2))
        caps = self.row_capture[rows]
        for c in np.unique(caps).tolist():
            sel = np.nonzero(caps == c)[0]
            rig, xyz = self.rigs[c], self.row_world_mm[rows[sel]]
            k = cams[sel]
            if self.pinhole:
                cam = np.matmul(xyz, rig.R[k].transpose(0, 2, 1)) + rig.t[k][:, None]
                out[sel] = _pinhole_px(cam, rig.K[k][:, None])
            else:
                out[sel] = project(xyz, rig)[np.arange(sel.size), :, k]
        return out

    def root_items(self, chunk: int = 65536) -> np.ndarray:
        """(K, 2) int64 (sample, hand) of every hand with a valid root and a non-empty box
        (see :func:`~pose_net.data.torch_dataset.root_items`), in chunks of ``chunk``
        samples."""
        out = []
        for start in range(0, len(self), chunk):
            idx = np.arange(start, min(start + chunk, len(self)))
            ok = rooted_hands(self.joints_uv_px(idx), self.joint_valid[idx],
                              self.hand_present[idx])
            n, h = np.nonzero(ok)
            out.append(np.stack([idx[n], h], axis=1))
        return np.concatenate(out) if out else np.zeros((0, 2), np.int64)

    # ---- one sample --------------------------------------------------------------------
    def _sample(self, i: int) -> HandSample:
        r = int(self.row[i])
        rig = self.rigs[int(self.row_capture[r])]
        k = int(self.camera[i])
        cam = rig[k]
        xyz = self.row_world_mm[r]
        joints_cam = xyz @ cam.R.T + cam.t
        if self.pinhole:
            uv = _pinhole_px(joints_cam, cam.K)
        else:
            uv = project(xyz, rig)[:, k]
        return HandSample(
            image_path=self.paths.get(i),
            camera=cam,
            joints_cam_mm=joints_cam,
            joints_uv_px=uv,
            joint_valid=self.joint_valid[i].copy(),
            hand_type=self.hand_present[i].astype(np.float32),
            hand_type_valid=bool(self.hand_type_valid[i]),
            bbox_xywh=self.bbox_xywh[i].copy(),
            key=f"{self.captures[int(self.row_capture[r])]}/{int(self.row_frame[r])}/{cam.name}",
            subject=int(self.row_subject[r]),
        )


def empty_paths(root: str | os.PathLike[str]) -> ImagePaths:
    """No image path (for an empty table)."""
    z = np.zeros(0, np.int32)
    return ImagePaths(Path(root), EncodedPaths([], z, z.astype(np.int64)))
