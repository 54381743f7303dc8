"""InterHand2.6M at scale: import, open, read, edit + save, export of a split of N images.

Writes a split of N images in the official schema (80 cameras per instant; empty image
files, or none with ``--allow-missing-images``), then runs each step in its own child
process and prints its wall time, images/s and peak RSS (``os.wait4`` of that child, so
steps do not pollute each other):

    python bench/interhand_scale.py 400000 [--allow-missing-images] [--dir DIR] [--keep]

Also printed: each step's CPU seconds over the same span as its time (its own and its
reader process's; on a shared machine these say more than wall time) and the load average
at the start.

Steps: ``import`` (import_interhand into a new project), ``open`` (ProjectStore.open, read
only), ``labels`` (one instant's labels: the first call and the mean of 200 random ones),
``edit+save`` (set one instant's 42 joints, save), ``export`` (export_interhand; images
linked, or JSON only with ``--allow-missing-images``). Machine: whatever runs it; the
figures in docs/benchmarks.md name theirs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SPLIT = "train"

from bench._memory import hwm_mb as _hwm_mb  # noqa: E402


def _cpu(kids_only: bool = False) -> float:
    """CPU seconds of this process and of the children it has waited for (the reader)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    k = kids.ru_utime + kids.ru_stime
    return k if kids_only else own.ru_utime + own.ru_stime + k


def _step(name: str, root: Path, project: Path, out: Path, allow_missing: bool) -> dict:
    """Run one step in this (child) process; returns its own timings."""
    import numpy as np

    from annotator.interchange import InterHandLayout, export_interhand, import_interhand
    from annotator.store import ProjectStore

    lay = InterHandLayout(root, SPLIT)
    res: dict = {}
    cpu0, kids0 = _cpu(), _cpu(kids_only=True)
    t0 = time.perf_counter()
    if name == "generate":
        import importlib.util

        # by path: bench/ on sys.path would shadow the triangulation package
        spec = importlib.util.spec_from_file_location("_ih_gen", REPO / "bench/_interhand_gen.py")
        gen = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(gen)
        write_split = gen.write_split
        res.update(write_split(root, SPLIT, int(os.environ["IH_N"]), images=not allow_missing))
    elif name == "import":
        r = import_interhand(
            project,
            data=lay.data,
            camera=lay.camera,
            joint_3d=lay.joint_3d,
            images=lay.images_dir,
            allow_missing_images=allow_missing,
        )
        res.update(images=r.images, instants=int(r.instants.size), missing=r.missing_images)
        res["worker_peak_rss_mb"] = r.reader_worker_peak_rss_mb
    elif name == "open":
        store = ProjectStore.open(project, "r")
        res.update(instants=store.num_instants)
        res["seconds"] = time.perf_counter() - t0
        res["step_cpu_s"] = _cpu() - cpu0
        store.close()
    elif name == "labels":
        store = ProjectStore.open(project, "r")
        F = store.num_instants
        t1 = time.perf_counter()
        store.labels(F // 2)
        res["first_ms"] = (time.perf_counter() - t1) * 1e3
        idx = np.random.default_rng(0).integers(0, F, 200).tolist()
        t1, c1 = time.perf_counter(), time.process_time()
        for i in idx:
            lab = store.labels(i)
        res["mean_ms"] = (time.perf_counter() - t1) / len(idx) * 1e3
        res["mean_cpu_ms"] = (time.process_time() - c1) / len(idx) * 1e3
        res["seconds"] = res["first_ms"] / 1e3
        res["sources"] = sorted(set(lab.joint_source.tolist()))
        store.close()
    elif name == "edit+save":
        store = ProjectStore.open(project, "w")
        i = store.num_instants // 3
        t1 = time.perf_counter()
        xyz = store.labels(i).joints_world_mm
        xyz = np.where(np.isfinite(xyz), xyz + 1.0, np.nan)
        store.set_joints_3d(i, xyz, source="human", annotator="bench")
        store.save()
        res["seconds"] = time.perf_counter() - t1
        res["open_w_s"] = t1 - t0
        store.close()
    elif name == "export":
        with ProjectStore.open(project, "r") as store:
            r = export_interhand(store, out, SPLIT, images="none" if allow_missing else "link")
        res.update(images=r.images, frames=r.frames)
    else:
        raise SystemExit(f"unknown step {name}")
    res.setdefault("seconds", time.perf_counter() - t0)
    res.setdefault("step_cpu_s", _cpu() - cpu0)
    # the two reader processes of an import run side by side: on two idle cores its wall
    # time would be about the larger of the two CPU times
    res["reader_cpu_s"] = _cpu(kids_only=True) - kids0
    res["vmhwm_mb"] = _hwm_mb()
    return res


def _run_child(name: str, args, root: Path, project: Path, out: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", name, "--dir", str(args.dir)]
    if args.allow_missing_images:
        cmd.append("--allow-missing-images")
    env = dict(os.environ, IH_N=str(args.n), PYTHONPATH=str(REPO))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    out_text = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"step {name} failed (exit {proc.returncode})")
    res = json.loads(out_text.decode().strip().splitlines()[-1])
    res["wall_s"] = wall
    # KiB on Linux; plus the annotations reader process of a large import, counted as if
    # both peaks coincided (an upper bound on the step's memory)
    res["peak_rss_mb"] = usage.ru_maxrss / 1024 + res.get("worker_peak_rss_mb", 0.0)
    # CPU seconds of the step and of the children it waited for (the reader process):
    # the machine is shared, so wall time alone says more about the neighbours than us
    res["cpu_s"] = usage.ru_utime + usage.ru_stime
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=100_000, help="images in the split")
    ap.add_argument("--allow-missing-images", action="store_true")
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        d = Path(args.dir)
        res = _step(
            args.child, d / "dataset", d / "project", d / "export", args.allow_missing_images
        )
        print(json.dumps(res))
        return 0
    made = args.dir is None
    args.dir = Path(args.dir or tempfile.mkdtemp(prefix="ih_scale_", dir="/tmp"))
    d = args.dir
    for sub in ("project", "export"):
        shutil.rmtree(d / sub, ignore_errors=True)
    steps = ["import", "open", "labels", "edit+save", "export"]
    if not (d / "dataset" / "annotations" / SPLIT).is_dir():
        steps.insert(0, "generate")
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print(
        f"InterHand2.6M scale bench: {args.n:,} images, 80 cameras per instant, "
        f"{'no image files' if args.allow_missing_images else 'empty image files'}; "
        f"{os.cpu_count()} CPUs; work folder {d}"
    )
    rows = {}
    try:
        for name in steps:
            res = _run_child(name, args, d / "dataset", d / "project", d / "export")
            rows[name] = res
            per_s = args.n / res["seconds"] if name in ("generate", "import", "export") else None
            extra = ""
            if name == "import" and res["reader_cpu_s"] > 0:
                own = res["step_cpu_s"] - res["reader_cpu_s"]
                extra = (
                    f"  (this process {own:.1f} s, annotations reader {res['reader_cpu_s']:.1f} s)"
                )
            if name == "labels":
                extra = (
                    f"  first {res['first_ms']:.2f} ms, mean {res['mean_ms']:.3f} ms "
                    f"(CPU {res['mean_cpu_ms']:.3f} ms)"
                )
            print(
                f"{name:>10}: {res['seconds']:8.2f} s"
                + (f"  {per_s:10,.0f} images/s" if per_s else " " * 20)
                + f"  peak RSS {res['peak_rss_mb']:7.0f} MB"
                + f"  CPU {res['step_cpu_s']:7.2f} s{extra}",
                flush=True,
            )
        size = sum(p.stat().st_size for p in (d / "dataset" / "annotations").rglob("*.json"))
        print(f"json size {size / 1e9:.2f} GB; results as JSON:")
        print(json.dumps({"images": args.n, **rows}))
    finally:
        if made and not args.keep:
            shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
