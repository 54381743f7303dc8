"""Machine-labelling throughput: images/s end to end (decode -> detect -> lift) and the share
of time the model is busy (forward seconds / wall seconds).

Side by side in one run, on one project and one model:

- ``forward only``: the same number of crops through the model, no decoding, no lifting
  (the ceiling);
- ``label_instants`` with 0 loader workers (decoding in the main process, every step in
  turn); with N workers (DataLoader processes decoding while the model runs) and the CPU
  steps (hand finding, crops, lifting) in turn; and with N workers and those steps in a
  thread, overlapped with the model's forwards (the default, ``pipeline_depth``).

The end-to-end rate counts decoded views; each view costs two crops (coarse whole-view
pass + fine pass). Without ``--model`` an untrained detector is used with loose RANSAC
thresholds, so every view gets its fine crop (the same work as a trained model).

    python bench/labeler_speed.py [--project P] [--model CKPT] [--config cpu-small]
        [--cameras 40] [--instants 8] [--workers 1] [--depth D] [--device cpu]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

# bench/ holds a triangulation.py that would shadow the package: import from the repo root
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))


def _project(args, tmp: Path) -> Path:
    if args.project:
        return Path(args.project)
    from annotator.cli.main import main

    path = tmp / "speed"
    rc = main(["synth", str(path), "--cameras", str(args.cameras), "--instants",
               str(args.instants), "--subjects", "1", "--workers", "2"])
    if rc:
        sys.exit(rc)
    return path


def _model(args, device):
    import torch

    from machine_labeler.checkpoint import load_detector
    from machine_labeler.config import get_config
    from machine_labeler.model import KeypointDetector

    if args.model:
        loaded = load_detector(args.model, device)
        return loaded.model, loaded.config, False
    torch.manual_seed(0)
    config = get_config(args.config)
    model = KeypointDetector(config).eval()
    with torch.no_grad():  # image-dependent heatmaps (see tests' make_detector_checkpoint)
        model.final.weight.normal_(0.0, 0.3)
        model.final.bias.fill_(0.5)
    return model.to(device), config, True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--project", help="an existing project (default: a fresh synthetic one)")
    ap.add_argument("--model", help="detector checkpoint (default: untrained, loose thresholds)")
    ap.add_argument("--config", default="cpu-small")
    ap.add_argument("--cameras", type=int, default=40)
    ap.add_argument("--instants", type=int, default=8)
    ap.add_argument("--workers", type=int, default=1, help="loader workers of the second run")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--depth", type=int, default=None,
                    help="groups in flight of the overlapped runs (default: LabelingSettings')")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()

    import numpy as np
    import torch

    from annotator.store import ProjectStore
    from machine_labeler.hand_finding import HandFindingSettings
    from machine_labeler.labeling import LabelingSettings, label_instants
    from machine_labeler.predict import predict_crops

    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        path = _project(args, Path(tmp))
        model, config, untrained = _model(args, device)
        base = LabelingSettings(batch_size=args.batch_size)
        if args.depth:
            base = dataclasses.replace(base, pipeline_depth=args.depth)
        if untrained:
            base = dataclasses.replace(base, threshold_px=1e4,
                                       hands=HandFindingSettings(coarse_threshold_px=1e4))
        rows = []
        with ProjectStore.open(path) as store:
            instants = np.arange(store.num_instants)
            # warm-up (first forwards allocate)
            label_instants(store, model, config, instants[:1], None,
                           dataclasses.replace(base, workers=0), device)
            runs = {}
            d = base.pipeline_depth
            # (dict: with --workers 0 the last two runs are the first two)
            for workers, depth in dict.fromkeys(((0, 1), (0, d), (args.workers, 1),
                                                 (args.workers, d))):
                s = dataclasses.replace(base, workers=workers, pipeline_depth=depth)
                runs[workers, depth] = label_instants(store, model, config, instants, None, s,
                                                      device)
            default = (LabelingSettings().workers, base.pipeline_depth)
            stats = runs[args.workers, base.pipeline_depth]
            crops = np.random.default_rng(0).integers(
                0, 255, (stats.crops, config.crop_px, config.crop_px, 3), dtype=np.uint8)
            from machine_labeler.codec import HeatmapCodec

            codec = HeatmapCodec.from_config(config)
            from torch_common.batchnorm_fold import fold_batchnorm

            model = fold_batchnorm(model)  # as label_instants runs it
            t0 = time.perf_counter()
            for lo in range(0, len(crops), args.batch_size):
                predict_crops(model, codec, crops[lo:lo + args.batch_size], device)
            fwd = time.perf_counter() - t0
        images = stats.images
        rows.append(("forward only (same crops)", images / fwd, 1.0, 1.0))
        for (workers, depth), st in runs.items():
            how = "CPU steps in turn" if depth == 1 else f"CPU steps overlapped, {depth} groups"
            rows.append((f"end to end, {workers} workers, {how}", st.images_per_s,
                         st.busy_share, st.steady_busy_share))
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
        print(f"config {config.name} ({config.crop_px} px crops), "
              f"{'untrained (loose thresholds)' if untrained else args.model}, "
              f"{len(instants)} instants x {images // max(1, len(instants))} views, "
              f"{stats.crops} crops per run")
        print(f"{'run':58s} {'images/s':>9s} {'x fwd':>6s} {'busy':>6s} {'busy*':>6s}")
        for name, rate, busy, steady in rows:
            print(f"{name:58s} {rate:9.1f} {rate / rows[0][1]:6.2f} {busy:6.0%} {steady:6.0%}")
        print("busy = forward time / wall time; busy* = the same after the loader's start-up")
        ok = runs[default].steady_busy_share >= 0.9
        print(f"target: model busy >= 90 % with the default settings ({default[0]} workers, "
              f"{default[1]} groups in flight): {'PASS' if ok else 'FAIL'}")
        if args.json:
            Path(args.json).write_text(json.dumps(
                [{"run": n, "images_per_s": r, "busy": b, "steady_busy": s}
                 for n, r, b, s in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
