"""A capture read from videos against the same capture read from JPEG images, side by side.

    python bench/video_source.py --out /tmp/videobench [--cameras 40] [--instants 24]
        [--rounds 4] [--label-repeats 3] [--acc-cameras 40] [--acc-instants 48]
        [--train-minutes 3] [--json OUT]

Two synthetic studio captures of the same config and seed: ``annotator synth P`` (JPEG,
quality 92) and ``annotator synth P --video`` (one H.264 file per camera, CRF 17, a
keyframe every 30 frames). Measured, alternating image and video so machine load hits both:

- **instant switch in the app with neighbour prefetch** (bench/gui.py's measurement: a real
  window offscreen, a fresh session per round, the annotator's time on an instant lets the
  prefetch finish): p50 / p95 ms, video / images (target <= 1.5x);
- **machine labelling images/s** (``label_instants``, default settings, an untrained
  cpu-small detector with loose thresholds so every view gets its fine crop): video /
  images (target >= 0.9x);
- **labels**: the simulated annotator on both (2 views, 1.5 px; its clicks come from the
  ground truth, not the pixels, so the human 3D labels must agree exactly); a cpu-small
  labeller trained for ``--train-minutes`` on the image project's human labels, then both
  projects machine-labelled with that one checkpoint (the difference is the codec's alone),
  and a second labeller trained on the video project (the whole path from video), each
  merged and evaluated against the ground truth. The noise floor: the same capture as JPEG
  at quality 85, labelled by the image-trained checkpoint: how far labels move when only
  the pixel noise changes. Video is "within the codec's noise" when it moves them no more.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

# bench/ holds a triangulation.py that would shadow the package: import from the repo root
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402


def _cli(*args) -> None:
    from annotator.cli.main import main

    rc = main([str(a) for a in args])
    if rc:
        raise SystemExit(f"annotator {' '.join(map(str, args))}: exit {rc}")


def _pair(root: Path, tag: str, cameras: int, instants: int, subjects: int,
          noise_floor: bool = False) -> tuple[Path, ...]:
    img, vid = root / f"{tag}_images", root / f"{tag}_video"
    todo = [(img, []), (vid, ["--video"])]
    if noise_floor:  # the same capture as JPEG at another quality: pixel noise, no codec change
        todo.append((root / f"{tag}_jpeg85", ["--jpeg-quality", 85]))
    for path, extra in todo:
        if not (path / "project.toml").exists():
            _cli("synth", path, "--cameras", cameras, "--instants", instants, "--subjects",
                 subjects, "--seed", 0, "--workers", 2, *extra)
    return tuple(p for p, _ in todo)


def _gui_bench():
    spec = importlib.util.spec_from_file_location("bench_gui", _HERE / "gui.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def bench_switch(img: Path, vid: Path, rounds: int) -> dict:
    from PyQt5.QtWidgets import QApplication

    from annotator.video import close_video_readers
    from gui.theme import apply_dark_theme

    g = _gui_bench()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_dark_theme(app)
    floors = {}

    def floor_of(w):
        if "f" not in floors:
            floors["f"] = g.Floor(w)
        return floors["f"]

    ms: dict[str, list[float]] = {"images": [], "video": []}
    for _ in range(rounds):
        for name, path in (("images", img), ("video", vid)):
            close_video_readers()  # every round opens the videos afresh, as a new session
            _, app_ms, first = g.bench_switch(path, floor_of, 1, prefetch=True)
            ms[name] += [m for m, f in zip(app_ms, first, strict=True) if not f]
    out = {k: {"p50_ms": float(np.percentile(v, 50)), "p95_ms": float(np.percentile(v, 95)),
               "n": len(v)} for k, v in ms.items()}
    out["ratio_p50"] = out["video"]["p50_ms"] / out["images"]["p50_ms"]
    out["ratio_p95"] = out["video"]["p95_ms"] / out["images"]["p95_ms"]
    return out


def bench_labelling(img: Path, vid: Path, repeats: int) -> dict:
    import dataclasses

    import torch

    from annotator.store import ProjectStore
    from annotator.video import close_video_readers
    from machine_labeler.config import get_config
    from machine_labeler.hand_finding import HandFindingSettings
    from machine_labeler.labeling import LabelingSettings, label_instants
    from machine_labeler.model import KeypointDetector

    torch.manual_seed(0)
    config = get_config("cpu-small")
    model = KeypointDetector(config).eval()
    with torch.no_grad():  # image-dependent heatmaps, as bench/labeler_speed.py
        model.final.weight.normal_(0.0, 0.3)
        model.final.bias.fill_(0.5)
    settings = dataclasses.replace(LabelingSettings(), threshold_px=1e4,
                                   hands=HandFindingSettings(coarse_threshold_px=1e4))
    rates: dict[str, list[float]] = {"images": [], "video": []}
    with ProjectStore.open(img) as a, ProjectStore.open(vid) as b:
        stores = {"images": a, "video": b}
        label_instants(a, model, config, [0], None, settings)  # warm-up
        for _ in range(repeats):
            for name, store in stores.items():
                close_video_readers()  # decoders opened inside the timed run
                st = label_instants(store, model, config, range(store.num_instants), None,
                                    settings)
                rates[name].append(st.images_per_s)
    out = {k: {"images_per_s": float(np.median(v)), "runs": v} for k, v in rates.items()}
    pairs = [v / i for i, v in zip(rates["images"], rates["video"], strict=True)]
    out["pair_ratios"] = pairs  # each video run over the image run just before it
    out["ratio"] = float(np.median(pairs))
    return out


def _joints(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from annotator.store import ProjectStore

    with ProjectStore.open(path) as s:
        xyz, src = s.joints_3d_all()
    return xyz, src


def bench_labels(img: Path, vid: Path, jpeg85: Path, minutes: float) -> dict:
    from annotator.store import ProjectStore
    from annotator.store.labels import JOINT_SOURCES
    from machine_labeler.checkpoint import newest_checkpoint

    out: dict = {}
    for p in (img, vid, jpeg85):
        if not (p / "labels.h5").exists():
            _cli("simulate-annotator", p, "--fraction", 0.25, "--seed", 0)
    ha, sa = _joints(img)
    hb, sb = _joints(vid)
    d = np.linalg.norm(ha - hb, axis=-1)
    out["human_labels_identical_sources"] = bool(np.array_equal(sa, sb))
    out["human_max_diff_mm"] = float(np.nanmax(d)) if np.isfinite(d).any() else 0.0
    train = ["--config", "cpu-small", "--steps", 100000, "--max-minutes", minutes,
             "--batch-size", 16]
    t0 = time.perf_counter()
    _cli("train-labeler", img, *train)
    with ProjectStore.open(img) as s:
        ckpt = newest_checkpoint(s)
    _cli("train-labeler", vid, *train)
    with ProjectStore.open(vid) as s:
        own = newest_checkpoint(s)
    out["train_seconds"] = time.perf_counter() - t0
    results = {}
    for name, project, model in (("images", img, ckpt), ("video, image-trained", vid, ckpt),
                                 ("JPEG q85, image-trained", jpeg85, ckpt),
                                 ("video, video-trained", vid, own)):
        _cli("machine-label", project, "--model", model)
        _cli("merge", project)
        report = project / f"eval_{name.replace(', ', '_').replace('-', '_')}.json"
        _cli("evaluate", project, "--json", report)
        ev = json.loads(report.read_text())
        xyz, src = _joints(project)
        results[name] = {"median_mm": ev["machine"]["median_mm"],
                         "mean_mm": ev["machine"]["mean_mm"],
                         "joints": ev["machine"]["joints"], "xyz": xyz}
        if name == "images":
            img_xyz = xyz
        if name in ("video, image-trained", "JPEG q85, image-trained"):
            machine = src == JOINT_SOURCES.index("machine")
            both = np.isfinite(img_xyz).all(-1) & np.isfinite(xyz).all(-1) & machine
            diff = np.linalg.norm(img_xyz - xyz, axis=-1)[both]
            key = "same_checkpoint_diff_mm" if name.startswith("video") else "jpeg85_diff_mm"
            out[key] = {
                "median": float(np.median(diff)) if diff.size else float("nan"),
                "p90": float(np.percentile(diff, 90)) if diff.size else float("nan"),
                "joints": int(both.sum()),
            }
    for r in results.values():
        r.pop("xyz")
    out["machine"] = results
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="work folder (projects are kept for reruns)")
    ap.add_argument("--cameras", type=int, default=40)
    ap.add_argument("--instants", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=4, help="app rounds per source (4)")
    ap.add_argument("--label-repeats", type=int, default=3)
    ap.add_argument("--acc-cameras", type=int, default=40)
    ap.add_argument("--acc-instants", type=int, default=48)
    ap.add_argument("--train-minutes", type=float, default=3.0)
    ap.add_argument("--skip", default="", help="comma list of parts to skip: switch,label,acc")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    import torch

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, no GPU, {datetime.date.today().isoformat()}")
    res: dict = {}
    img, vid = _pair(root, "speed", args.cameras, args.instants, 1)
    if "switch" not in skip:
        res["switch"] = s = bench_switch(img, vid, args.rounds)
        print(f"instant switch with prefetch ({args.cameras} cameras, 512x334): images p50 "
              f"{s['images']['p50_ms']:.1f} / p95 {s['images']['p95_ms']:.1f} ms, video p50 "
              f"{s['video']['p50_ms']:.1f} / p95 {s['video']['p95_ms']:.1f} ms -> video / "
              f"images {s['ratio_p50']:.2f}x (p50), {s['ratio_p95']:.2f}x (p95); target <= "
              f"1.5x: {'met' if s['ratio_p95'] <= 1.5 else 'NOT met'}")
    if "label" not in skip:
        res["labelling"] = lab = bench_labelling(img, vid, args.label_repeats)
        pr = lab["pair_ratios"]
        print(f"machine labelling: images {lab['images']['images_per_s']:.1f} images/s, video "
              f"{lab['video']['images_per_s']:.1f} images/s (medians); video / images "
              f"{lab['ratio']:.2f}x (median of {len(pr)} side-by-side pairs, "
              f"{min(pr):.2f}-{max(pr):.2f}); target >= 0.9x: "
              f"{'met' if lab['ratio'] >= 0.9 else 'NOT met'}")
    if "acc" not in skip:
        a_img, a_vid, a_85 = _pair(root, "acc", args.acc_cameras, args.acc_instants, 2,
                                   noise_floor=True)
        res["labels"] = acc = bench_labels(a_img, a_vid, a_85, args.train_minutes)
        print(f"human labels (simulated annotator): sources identical "
              f"{acc['human_labels_identical_sources']}, max 3D difference "
              f"{acc['human_max_diff_mm']:.3f} mm")
        for name, r in acc["machine"].items():
            print(f"machine labels, {name}: median {r['median_mm'] or float('nan'):.2f} mm, "
                  f"mean {r['mean_mm'] or float('nan'):.2f} mm ({r['joints']} joints)")
        for key, what in (("same_checkpoint_diff_mm", "video (H.264)"),
                          ("jpeg85_diff_mm", "JPEG q85 (the noise floor)")):
            d = acc[key]
            print(f"same checkpoint, {what} vs JPEG q92 images: median {d['median']:.2f} mm, "
                  f"p90 {d['p90']:.2f} mm apart ({d['joints']} joints)")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
