"""Detector 2D accuracy after a short training run: per-view pixel error on held-out instants.

    python bench/labeler_detector.py PROJECT [--steps 300] [--config cpu-small]
        [--set sigma_px=2.0 --set lr=1e-3 ...] [--eval-instants 8] [--checkpoint CK] [--json OUT]

PROJECT is a synthetic capture (ground truth needed). When it holds no human labels, a
quarter of its instants get simulated ones first (2 views, 1.5 px click noise,
triangulated). The detector is trained with ``train_labeler`` (CPU), then run on crops
around the ground-truth hands (the box the training uses, no jitter) of instants *without*
human labels, and on the whole letterboxed views (the coarse pass). Printed: training
images/s and CPU seconds, and the per-view 2D error in image pixels (median, mean, share
under 2 px) over visible joints and over every in-image joint.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import torch  # noqa: E402

from annotator.skeleton import HANDS, hand_slice  # noqa: E402
from annotator.store import ProjectStore  # noqa: E402
from machine_labeler.checkpoint import load_detector  # noqa: E402
from machine_labeler.codec import HeatmapCodec  # noqa: E402
from machine_labeler.config import LabelerConfig, get_config  # noqa: E402
from machine_labeler.crops import crop_image, crop_to_image, letterbox_box, square_box  # noqa: E402
from machine_labeler.predict import predict_crops  # noqa: E402
from machine_labeler.train import train_labeler  # noqa: E402
from machine_labeler.train_data import read_rgb  # noqa: E402


def _override(config: LabelerConfig, sets: list[str]) -> LabelerConfig:
    types = {f.name: f.type for f in dataclasses.fields(LabelerConfig)}
    changes = {}
    for s in sets:
        key, _, value = s.partition("=")
        if key not in types:
            raise SystemExit(f"--set {s}: unknown config field")
        cur = getattr(config, key)
        if isinstance(cur, tuple):
            changes[key] = tuple(float(v) for v in value.split(",") if v)
        else:
            changes[key] = type(cur)(value)
    return config.replace(**changes) if changes else config


def evaluate_2d(project: Path, checkpoint: Path, n_instants: int, batch: int = 64) -> dict:
    det = load_detector(checkpoint)
    cfg = det.config
    codec = HeatmapCodec.from_config(cfg)
    with ProjectStore.open(project) as store:
        human = set(store.labelled_instants("human").tolist())
        held = np.array([i for i in range(store.num_instants) if i not in human])
        pick = held[np.linspace(0, held.size - 1, min(n_instants, held.size)).astype(int)]
        jobs = []  # (path, gt uv (J,2), visible (J,), in-image (J,), box, whole box)
        for i in pick:
            gt = store.ground_truth(int(i))
            present = np.zeros(gt.uv_px.shape[1], bool)
            for h, hand in enumerate(HANDS):
                present[hand_slice(hand)] = bool(gt.hand_present[h])
            cap = store.instant(int(i)).capture
            sizes = {c.name: (c.width, c.height) for c in store.rig(cap)}
            for c, path in enumerate(store.image_paths(int(i))):
                name = store.camera_names[c]
                if path is None or name not in sizes:
                    continue
                uv = gt.uv_px[c]
                w, h = sizes[name]
                inimg = present & np.all(np.isfinite(uv), axis=1)
                inimg &= (uv[:, 0] >= -0.5) & (uv[:, 0] <= w - 0.5)
                inimg &= (uv[:, 1] >= -0.5) & (uv[:, 1] <= h - 0.5)
                if inimg.sum() < 3:
                    continue
                box = square_box(uv[inimg], pad=cfg.box_pad)
                jobs.append((str(path), uv, gt.visible[c] & inimg, inimg, box, letterbox_box(w, h)))
    errs = {"fine": [], "coarse": []}
    t0 = time.perf_counter()
    for kind in ("fine", "coarse"):
        for s in range(0, len(jobs), batch):
            chunk = jobs[s : s + batch]
            boxes = [j[4] if kind == "fine" else j[5] for j in chunk]
            crops = np.stack(
                [
                    crop_image(read_rgb(j[0]), b, cfg.crop_px)
                    for j, b in zip(chunk, boxes, strict=True)
                ]
            )
            kp = predict_crops(det.model, codec, crops)
            for k, (j, b) in enumerate(zip(chunk, boxes, strict=True)):
                uv_img = crop_to_image(kp.uv_crop_px[k], b, cfg.crop_px)
                e = np.linalg.norm(uv_img - j[1], axis=1)
                errs[kind].append((e, j[2], j[3], kp.confidence[k]))
    infer_s = time.perf_counter() - t0

    def stats(kind: str, which: int) -> dict:
        e = np.concatenate([r[0][r[which]] for r in errs[kind]])
        return {
            "median_px": float(np.median(e)), "mean_px": float(np.mean(e)),
            "under_2px": float(np.mean(e < 2.0)), "joints": int(e.size),
        }  # fmt: skip

    return {
        "views": len(jobs), "instants": int(pick.size), "inference_s": infer_s,
        "fine_visible": stats("fine", 1), "fine_in_image": stats("fine", 2),
        "coarse_visible": stats("coarse", 1),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("project", type=Path)
    ap.add_argument("--config", default="cpu-small")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--eval-instants", type=int, default=8)
    ap.add_argument("--checkpoint", type=Path, default=None, help="evaluate only")
    ap.add_argument("--label", default="", help="a name for this run in the table")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    with ProjectStore.open(args.project) as store:
        if not store.has_ground_truth:
            raise SystemExit(f"{args.project}: no ground truth")
        has_labels = store.labelled_instants("human").size > 0
    if not has_labels:
        from tests.machine_labeler._labelled_project import label_from_ground_truth

        label_from_ground_truth(args.project, fraction=0.25, views=2, noise_px=1.5)
    config = _override(get_config(args.config), args.set)
    out: dict = {"label": args.label or ",".join(args.set) or config.name,
                 "config": config.to_dict(), "torch_threads": torch.get_num_threads()}  # fmt: skip
    ck = args.checkpoint
    if ck is None:
        c0, t0 = time.process_time(), time.perf_counter()
        res = train_labeler(
            args.project, config, steps=args.steps, device="cpu", workers=args.workers
        )
        out["train"] = {
            "steps": res.steps, "wall_s": time.perf_counter() - t0,
            "cpu_s_main": time.process_time() - c0, "images_per_s": res.images_per_s,
            "final_loss": res.final_loss, "checkpoint": str(res.checkpoint),
        }  # fmt: skip
        ck = res.checkpoint
    out["eval"] = evaluate_2d(args.project, ck, args.eval_instants)
    ev, tr = out["eval"], out.get("train", {})
    print(
        f"{out['label']:<28} steps {tr.get('steps', '-')!s:>5}  train {tr.get('wall_s', 0):6.0f} s "
        f"({tr.get('images_per_s', 0):5.1f} img/s)  fine visible: median "
        f"{ev['fine_visible']['median_px']:.2f} px mean {ev['fine_visible']['mean_px']:.2f} px "
        f"<2px {100 * ev['fine_visible']['under_2px']:.0f}%  | all in-image median "
        f"{ev['fine_in_image']['median_px']:.2f} px | coarse median "
        f"{ev['coarse_visible']['median_px']:.1f} px"
        f"  ({ev['views']} views)"
    )
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
