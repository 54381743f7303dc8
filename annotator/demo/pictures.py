"""The report's pictures: labels drawn over the images, and InterNet's predictions.

- :func:`label_sheet`: human and machine labels of a few instants, projected into a few views
  and drawn in the skeleton's finger colours over crops around the hands, with the ground
  truth as white rings underneath and each tile's 3D error in its caption.
- :func:`internet_sheet`: ``annotator infer`` run as a command (``annotator`` never imports
  pose_net) on held-out images, its pictures stitched into one.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from annotator.demo.runner import annotator_argv
from annotator.images import try_read_image_bgr
from annotator.skeleton import BONES, LEFT_ROOT, RIGHT_ROOT, joint_color_bgr
from annotator.store import ProjectStore
from annotator.store.layout import CAMERAS_NAME
from annotator.synth.contact_sheet import contact_sheet
from triangulation import project

__all__ = ["label_sheet", "internet_sheet", "pick_instants", "hand_box"]

logger = logging.getLogger(__name__)

_TILE = 240


@dataclass(frozen=True)
class _Pick:
    instant: int
    source: str  # "human" | "machine"
    interacting: bool


def pick_instants(store: ProjectStore, per_kind: int = 1) -> list[_Pick]:
    """Up to ``per_kind`` single-hand and interacting instants labelled by each source."""
    picks: list[_Pick] = []
    for source in ("human", "machine"):
        wanted = {False: per_kind, True: per_kind}
        for i in store.labelled_instants(source=source):
            interacting = bool(np.all(store.ground_truth(int(i)).hand_present))
            if wanted[interacting] > 0:
                wanted[interacting] -= 1
                picks.append(_Pick(int(i), source, interacting))
            if not any(wanted.values()):
                break
    return picks


def hand_box(uv_px: np.ndarray, width: int, height: int, pad: float = 0.35) -> tuple[int, ...]:
    """Square (x, y, w, h) box around the finite (J, 2) points, padded, clipped to the image."""
    ok = np.all(np.isfinite(uv_px), axis=1)
    if not ok.any():
        return (0, 0, width, height)
    lo, hi = uv_px[ok].min(axis=0), uv_px[ok].max(axis=0)
    centre, side = (lo + hi) / 2, float(max(hi - lo).max() * (1 + 2 * pad)) + 16
    x0 = int(np.clip(centre[0] - side / 2, 0, max(0, width - 1)))
    y0 = int(np.clip(centre[1] - side / 2, 0, max(0, height - 1)))
    return (x0, y0, int(min(side, width - x0)), int(min(side, height - y0)))


def _draw(image: np.ndarray, label_uv: np.ndarray, gt_uv: np.ndarray) -> np.ndarray:
    """Ground truth as white rings, the label as a coloured skeleton (both (J, 2) px)."""
    out = image.copy()
    gt_ok = np.all(np.isfinite(gt_uv), axis=1)
    for j in np.flatnonzero(gt_ok):
        cv2.circle(out, tuple(np.round(gt_uv[j]).astype(int)), 3, (255, 255, 255), 1, cv2.LINE_AA)
    ok = np.all(np.isfinite(label_uv), axis=1)
    pts = np.round(np.nan_to_num(label_uv)).astype(int)
    for j, p in BONES:
        if ok[j] and ok[p]:
            cv2.line(out, tuple(pts[j]), tuple(pts[p]), joint_color_bgr(j), 1, cv2.LINE_AA)
    for j in np.flatnonzero(ok):
        cv2.circle(out, tuple(pts[j]), 2, joint_color_bgr(j), -1, cv2.LINE_AA)
    return out


def _square_crop(image: np.ndarray, uv_px: np.ndarray, side_px: int, pad: float = 0.3
                 ) -> np.ndarray:
    """(side_px, side_px, 3) square crop around the finite (J, 2) points, padded, scaled;
    the part outside the image is dark grey (no stretching near the image border)."""
    ok = np.all(np.isfinite(uv_px), axis=1)
    h, w = image.shape[:2]
    if ok.any():
        lo, hi = uv_px[ok].min(axis=0), uv_px[ok].max(axis=0)
        centre, side = (lo + hi) / 2, float((hi - lo).max()) * (1 + 2 * pad) + 16
    else:
        centre, side = np.array([w / 2, h / 2]), float(max(w, h))
    k = side_px / side
    warp = np.array([[k, 0, -k * (centre[0] - side / 2)], [0, k, -k * (centre[1] - side / 2)]])
    return cv2.warpAffine(image, warp, (side_px, side_px), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(40, 40, 40))


def label_sheet(project_dir: Path, path: Path, *, views: int = 4, per_kind: int = 1) -> Path | None:
    """Write a PNG grid: one row per picked instant (human / machine × single / interacting),
    ``views`` cameras per row (those seeing most ground-truth joints), each a crop around
    the hands upsampled for legibility. Returns None when nothing is labelled."""
    tiles, captions = [], []
    with ProjectStore.open(project_dir, mode="r") as store:
        if not store.has_ground_truth:
            return None
        for pick in pick_instants(store, per_kind):
            inst = store.instant(pick.instant)
            rig = store.rig(inst.capture)
            gt = store.ground_truth(pick.instant)
            lab = store.labels(pick.instant)
            mine = lab.joint_source == pick.source
            joints = np.where(mine[:, None], lab.joints_world_mm, np.nan)
            label_uv = np.swapaxes(project(joints, rig), 0, 1)  # (C', J, 2)
            gt_uv = np.swapaxes(project(gt.joints_world_mm, rig), 0, 1)
            err = np.linalg.norm(joints - gt.joints_world_mm, axis=1)
            err_mm = float(np.nanmean(err)) if np.isfinite(err).any() else float("nan")
            cols = [store.camera_names.index(n) for n in rig.names]
            seen = gt.visible[cols].sum(axis=1)
            paths = store.image_paths(pick.instant)
            for c in np.argsort(-seen, kind="stable")[:views]:
                p = paths[cols[c]]
                image = try_read_image_bgr(p)[0]
                if image is None:
                    continue
                drawn = _draw(image, label_uv[c], np.where(gt.visible[cols[c]][:, None],
                                                           gt_uv[c], np.nan))
                vis = gt.visible[cols[c]]
                frame_uv = gt_uv[c][vis] if vis.sum() >= 3 else gt_uv[c]
                tiles.append(_square_crop(drawn, frame_uv, _TILE))
                kind = "two hands" if pick.interacting else "one hand"
                captions.append(f"{pick.source} | {kind} | {rig.names[c]} | {err_mm:.1f} mm")
    if not tiles:
        return None
    sheet = contact_sheet(tiles, columns=views, tile=(_TILE, _TILE), captions=None)
    for k, text in enumerate(captions):
        r, c = divmod(k, views)
        x, y = c * _TILE, r * _TILE
        cv2.rectangle(sheet, (x, y), (x + _TILE - 1, y + 16), (30, 30, 30), -1)
        cv2.putText(sheet, text, (x + 4, y + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38,
                    (255, 255, 255), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), sheet)
    return path


def _held_out_samples(store: ProjectStore, subjects: Sequence[int], count: int
                      ) -> list[tuple[int, int]]:
    """(instant, camera) pairs of held-out subjects: alternately single and interacting,
    one instant per sequence (consecutive frames of one sequence look alike), each in the
    view that sees most of the hands."""
    subject = store.instant_attr("subject")
    candidates = [int(i) for i in np.flatnonzero(np.isin(subject, list(subjects)))]
    chosen: list[tuple[int, int]] = []
    used: set[tuple[str, str]] = set()
    want_interacting = False
    for _ in range(count):
        for i in candidates:
            meta = store.instant(i)
            if (meta.capture, meta.sequence) in used:
                continue
            gt = store.ground_truth(i)
            if bool(np.all(gt.hand_present)) != want_interacting:
                continue
            used.add((meta.capture, meta.sequence))
            chosen.append((i, int(np.argmax(gt.visible.sum(axis=1)))))
            break
        want_interacting = not want_interacting
    return chosen


def internet_sheet(
    checkpoint: Path, project_dir: Path, subjects: Sequence[int], path: Path, work: Path,
    *, count: int = 4, timeout_s: float = 300,
) -> Path | None:
    """Run ``annotator infer`` on ``count`` held-out images and stitch its pictures.

    Returns None (and logs why) when no picture could be made.
    """
    work.mkdir(parents=True, exist_ok=True)
    pictures = []
    with ProjectStore.open(project_dir, mode="r") as store:
        samples = _held_out_samples(store, subjects, count)
        jobs = []
        names = store.camera_names
        for i, c in samples:
            image = store.image_paths(i)[c]
            gt = store.ground_truth(i)
            img = try_read_image_bgr(image)[0]
            if img is None:
                continue
            h, w = img.shape[:2]
            box = hand_box(gt.uv_px[c], w, h, pad=0.25)
            capture = store.instant(i).capture
            cam = store.rig(capture)[names[c]]
            # the true camera depth of the right wrist (the only hand's when one is present)
            root = RIGHT_ROOT if gt.hand_present[0] else LEFT_ROOT
            depth_mm = float((cam.R @ gt.joints_world_mm[root] + cam.t)[2])
            jobs.append((i, c, image, box, names[c], capture, depth_mm))
        calibration = store.path / CAMERAS_NAME
    for i, c, image, box, camera, capture, depth_mm in jobs:
        out_png = work / f"infer-{i}-{c}.png"
        cmd = annotator_argv(["infer", str(checkpoint), str(image),
                              "--bbox", *(str(v) for v in box), "--out", str(out_png),
                              "--camera-json", str(calibration), "--camera", camera,
                              "--capture", capture, "--root-depth", f"{depth_mm:.1f}"])
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                                  check=False)
        except subprocess.TimeoutExpired:
            logger.warning("annotator infer timed out on %s", image)
            continue
        if done.returncode != 0 or not out_png.exists():
            logger.warning("annotator infer failed on %s: %s", image,
                           (done.stderr or done.stdout).strip().splitlines()[-1:])
            continue
        pictures.append(try_read_image_bgr(out_png)[0])
    pictures = [p for p in pictures if p is not None]
    if not pictures:
        return None
    height = max(p.shape[0] for p in pictures)
    width = max(p.shape[1] for p in pictures)
    sheet = contact_sheet(pictures, columns=2, tile=(width, height))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), sheet)
    return path
