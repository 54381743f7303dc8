"""InterNet training samples at InterHand2.6M's scale: time and memory to build them, and
what DataLoader workers add.

Writes a split of N images in the official schema (80 cameras per instant, no image files;
``bench/_interhand_gen.py``), then runs each step in its own child process:

    python bench/internet_data_scale.py 400000 [--dir DIR] [--keep] [--workers 4]
    python bench/internet_data_scale.py 2600000 --dir /tmp/ids2600k --keep

Steps:

- ``import``: ``import_interhand`` of the split into a new project (the yardstick: building
  the samples should take at most 2x its time);
- ``samples``: ``pose_net.data.interhand_samples(root, split)``; its wall time, the peak RSS
  of the process (``VmHWM``) plus that of the annotations reader it runs beside it (counted
  as if both peaks coincided: an upper bound), and the bytes of the table's columns;
- ``loader``: the samples, then a ``torch.utils.data.DataLoader`` with ``--workers`` worker
  processes (fork, as training on Linux) iterating over ``--items`` indices drawn at random
  from the whole table (every page of every column is touched); each item builds the
  image's ``HandSample`` (camera-frame joints, pixels, box, path) as a training item does,
  without reading an image. Every 0.5 s the workers' memory is read from
  ``/proc/PID/smaps_rollup``: what they add is their private memory (``Private_Clean +
  Private_Dirty``: pages they do not share with the parent), summed over workers, at its
  peak (also read every 50 batches); their RSS is printed beside it. The ``list-loader``
  step runs the same loader over ``list(samples)`` (one Python object per image, the layout
  before the table), for a side-by-side figure at a size that fits.

Machine: whatever runs it; README and docs/benchmarks.md name theirs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SPLIT = "train"

from bench._memory import hwm_mb as _hwm_mb  # noqa: E402


def _rollup_mb(pid: int) -> dict[str, float]:
    """RSS, PSS and private (clean + dirty) MB of ``pid`` from smaps_rollup."""
    out = {"rss": 0.0, "pss": 0.0, "private": 0.0}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                kb = rest.split()
                if not kb or not kb[0].isdigit():
                    continue
                mb = int(kb[0]) / 1024
                if key == "Rss":
                    out["rss"] = mb
                elif key == "Pss":
                    out["pss"] = mb
                elif key in ("Private_Clean", "Private_Dirty"):
                    out["private"] += mb
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return kids


def _load_gen():
    import importlib.util

    # by path: bench/ on sys.path would shadow the triangulation package
    spec = importlib.util.spec_from_file_location("_ih_gen", REPO / "bench/_interhand_gen.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen


class _Items:
    """A map-style dataset: item ``i`` is sample ``i``'s training record without the image
    (a real training item decodes the image here as well)."""

    def __init__(self, samples):
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i):
        import numpy as np

        s = self.samples[i]
        return {
            "joints_cam_mm": s.joints_cam_mm.astype(np.float32),
            "joints_uv_px": s.joints_uv_px.astype(np.float32),
            "joint_valid": s.joint_valid,
            "hand_type": s.hand_type,
            "bbox": s.bbox_xywh.astype(np.float32),
            "path_len": np.int64(len(str(s.image_path))),
        }


def _loader(samples, workers: int, items: int, seed: int = 0) -> dict:
    import warnings

    import numpy as np
    import torch
    from torch.utils.data import DataLoader

    torch.set_num_threads(1)
    # more workers than this machine's cores is the point of the measurement
    warnings.filterwarnings("ignore", message="This DataLoader will create")
    rng = np.random.default_rng(seed)
    order = rng.choice(len(samples), size=min(items, len(samples)), replace=False).tolist()
    base = _rollup_mb(os.getpid())
    peak = {"private": 0.0, "rss": 0.0, "pss": 0.0, "main_rss": base["rss"]}
    done = threading.Event()
    me = os.getpid()

    lock = threading.Lock()

    def sample():
        kids = [_rollup_mb(k) for k in _children(me)]
        if len(kids) < workers:
            return
        with lock:
            for key in ("private", "rss", "pss"):
                peak[key] = max(peak[key], sum(k[key] for k in kids))
            peak["main_rss"] = max(peak["main_rss"], _rollup_mb(me)["rss"])

    def watch():
        while not done.wait(0.5):
            sample()

    loader = DataLoader(_Items(samples), batch_size=64, sampler=order, num_workers=workers,
                        multiprocessing_context="fork" if workers else None)
    t = threading.Thread(target=watch, daemon=True)
    t.start()
    t0 = time.perf_counter()
    seen = 0
    for n, batch in enumerate(loader):
        seen += int(batch["joint_valid"].shape[0])
        if n % 50 == 0 and workers:  # also from here: a short run ends between two watches
            sample()
    seconds = time.perf_counter() - t0
    done.set()
    t.join()
    return {
        "items": seen,
        "loader_s": seconds,
        "items_per_s": seen / seconds,
        "workers": workers,
        "workers_private_mb": peak["private"],
        "workers_rss_mb": peak["rss"],
        "workers_pss_mb": peak["pss"],
        "main_rss_before_mb": base["rss"],
        "main_rss_peak_mb": peak["main_rss"],
    }


def _step(name: str, d: Path, args) -> dict:
    """Run one step in this (child) process; returns its own figures."""
    root = d / "dataset"
    res: dict = {}
    t0 = time.perf_counter()
    if name == "generate":
        res.update(_load_gen().write_split(root, SPLIT, args.n, images=False))
    elif name == "import":
        from annotator.interchange import InterHandLayout, import_interhand

        t0 = time.perf_counter()
        lay = InterHandLayout(root, SPLIT)
        shutil.rmtree(d / "project", ignore_errors=True)
        r = import_interhand(d / "project", data=lay.data, camera=lay.camera,
                             joint_3d=lay.joint_3d, images=lay.images_dir,
                             allow_missing_images=True)
        res["seconds"] = time.perf_counter() - t0
        res.update(images=r.images, worker_peak_rss_mb=r.reader_worker_peak_rss_mb)
        shutil.rmtree(d / "project", ignore_errors=True)
    elif name in ("samples", "loader", "list-loader"):
        from pose_net.data import interhand_samples  # imports torch: not timed

        res["module_import_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        samples = interhand_samples(root, SPLIT)
        res["seconds"] = time.perf_counter() - t0
        res["samples"] = len(samples)
        res["columns_mb"] = samples.nbytes() / 2**20
        res["worker_peak_rss_mb"] = samples.info.get("reader_worker_peak_rss_mb", 0.0)
        res["vmhwm_build_mb"] = _hwm_mb()
        if name == "list-loader":
            t1 = time.perf_counter()
            samples = list(samples)
            res["list_s"] = time.perf_counter() - t1
            res["vmhwm_list_mb"] = _hwm_mb()
        if name != "samples":
            res.update(_loader(samples, args.workers, args.items))
    else:
        raise SystemExit(f"unknown step {name}")
    res.setdefault("seconds", time.perf_counter() - t0)
    res["vmhwm_mb"] = _hwm_mb()
    return res


def _run_child(name: str, args) -> dict:
    cmd = [sys.executable, __file__, str(args.n), "--child", name, "--dir", str(args.dir),
           "--workers", str(args.workers), "--items", str(args.items)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    out_text = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"step {name} failed (exit {code})")
    res = json.loads(out_text.decode().strip().splitlines()[-1])
    res["wall_s"] = time.perf_counter() - t0
    # the step's own peak (VmHWM, before any DataLoader worker: os.wait4's figure would
    # count a worker's) plus the annotations reader process beside it
    res["peak_mb"] = res.get("vmhwm_build_mb", res["vmhwm_mb"]) + res.get(
        "worker_peak_rss_mb", 0.0)
    res["cpu_s"] = usage.ru_utime + usage.ru_stime
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=100_000, help="images in the split")
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--workers", type=int, default=4, help="DataLoader workers (default 4)")
    ap.add_argument("--items", type=int, default=200_000,
                    help="indices the loader iterates over (default 200,000)")
    ap.add_argument("--steps", default="import,samples,loader",
                    help="comma list of import, samples, loader, list-loader")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_step(args.child, Path(args.dir), args)))
        return 0
    made = args.dir is None
    args.dir = Path(args.dir or tempfile.mkdtemp(prefix="ids_", dir="/tmp"))
    steps = [s for s in args.steps.split(",") if s]
    bad = sorted(set(steps) - {"import", "samples", "loader", "list-loader"})
    if bad:
        ap.error(f"--steps: unknown {', '.join(bad)}")
    if not (args.dir / "dataset" / "annotations" / SPLIT).is_dir():
        steps.insert(0, "generate")
    print(f"load average at start: {os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs")
    print(f"InterNet samples at scale: {args.n:,} images (80 cameras per instant, no image "
          f"files); work folder {args.dir}", flush=True)
    rows: dict[str, dict] = {}
    try:
        for name in steps:
            r = _run_child(name, args)
            rows[name] = r
            line = f"{name:>11}: {r['seconds']:8.1f} s"
            if name in ("samples", "loader", "list-loader"):
                line += (f"  {r['samples']:,} samples  peak {r['peak_mb']:6.0f} MB "
                         f"(this process {r['vmhwm_build_mb']:.0f} + reader "
                         f"{r['worker_peak_rss_mb']:.0f})  columns {r['columns_mb']:.0f} MB")
            elif name == "import":
                line += f"  peak {r['peak_mb']:6.0f} MB"
            print(line, flush=True)
            if "workers_private_mb" in r:
                print(f"{'':>11}  {r['workers']} workers over {r['items']:,} items in "
                      f"{r['loader_s']:.1f} s: add {r['workers_private_mb']:.0f} MB private "
                      f"together (RSS {r['workers_rss_mb']:.0f} MB, PSS "
                      f"{r['workers_pss_mb']:.0f} MB); main {r['main_rss_before_mb']:.0f}"
                      f" -> {r['main_rss_peak_mb']:.0f} MB", flush=True)
        if "import" in rows and "samples" in rows:
            ratio = rows["samples"]["seconds"] / rows["import"]["seconds"]
            print(f"samples / import time: {ratio:.2f}x")
            rows["ratio_samples_to_import"] = ratio
        result = {"images": args.n, "cpus": os.cpu_count(), **rows}
        print(json.dumps(result))
        if args.json:
            args.json.write_text(json.dumps(result, indent=1) + "\n")
    finally:
        if made and not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
