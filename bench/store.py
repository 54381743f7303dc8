"""Benchmark of the project store at InterHand2.6M scale.

Builds a project index of ~2.6M images (18.6k instants x 140 cameras; ``--small``: 2k x 140),
then measures, in the same run: build time, open time and one-instant read time (image paths
+ labels, averaged over random instants) in a fresh subprocess together with its peak RSS,
and propagation throughput against a naive per-camera ``cv2.projectPoints`` loop.

    python bench/store.py [--small] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from annotator import skeleton  # noqa: E402
from annotator.store import ProjectStore  # noqa: E402
from triangulation import Camera, CameraRig  # noqa: E402

J = skeleton.NUM_JOINTS

_READER = """
import json, sys, time
import numpy as np
t0 = time.perf_counter()
from annotator.store import ProjectStore
t_import = time.perf_counter() - t0
t0 = time.perf_counter()
store = ProjectStore.open(sys.argv[1], "r")
F = store.num_instants
t_open = time.perf_counter() - t0
rng = np.random.default_rng(0)
idx = rng.integers(0, F, int(sys.argv[2]))
store.labels(int(idx[0])); store.image_paths(int(idx[0]))  # first touch: loads label tables
t0 = time.perf_counter()
for i in idx.tolist():
    paths = store.image_paths(i)
    lab = store.labels(i)
t_read = (time.perf_counter() - t0) / len(idx)
# VmHWM, not ru_maxrss: the latter carries the parent's peak across fork + exec on Linux.
rss_mb = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0] / 1024
print(json.dumps({"import_s": t_import, "open_s": t_open, "read_ms": t_read * 1e3,
                  "peak_rss_mb": rss_mb}))
"""


def dome_rig(n: int) -> CameraRig:
    rng = np.random.default_rng(0)
    cams = []
    for k in range(n):
        v = rng.normal(size=3)
        v[2] = abs(v[2]) + 0.2
        center = 1200.0 * v / np.linalg.norm(v)
        z = -center / np.linalg.norm(center)
        x = np.cross([0.0, 0.0, 1.0], z)
        x /= np.linalg.norm(x)
        R = np.stack([x, np.cross(z, x), z])
        K = [[1200.0, 0, 512], [0, 1200.0, 334], [0, 0, 1]]
        cams.append(Camera(f"{400000 + k}", 1024, 667, K, [0.1, -0.05, 1e-3, 1e-3, 0.01], R,
                           -R @ center))
    return CameraRig(cams)


def build(path: Path, F: int, rig: CameraRig, n_labelled: int) -> dict:
    t0 = time.perf_counter()
    store = ProjectStore.create(path, name="bench", rigs=rig, overwrite=True)
    per_seq = 500
    caps, seqs, frames, paths = [], [], [], []
    for f in range(F):
        s, fr = divmod(f, per_seq)
        caps.append("0")
        seqs.append(f"seq{s:03d}")
        frames.append(fr)
        paths.append([f"0/seq{s:03d}/cam{c}/image{fr:05d}.jpg" for c in rig.names])
    t_gen = time.perf_counter() - t0
    store.add_instants(caps, seqs, frames, np.array(paths, dtype=object))
    store.save()
    t_index = time.perf_counter() - t0 - t_gen
    rng = np.random.default_rng(1)
    labelled = rng.choice(F, n_labelled, replace=False)
    for i in labelled.tolist():
        store.set_joints_3d(i, rng.normal(0, 60, (J, 3)), annotator="bench")
        store.set_click(i, 0, 0, (100.0, 100.0), annotator="bench")
    t1 = time.perf_counter()
    store.save()
    t_save = time.perf_counter() - t1
    store.close()
    return {"generate_paths_s": t_gen, "build_index_s": t_index, "labels_save_s": t_save}


def naive_propagation(store: ProjectStore, instants: np.ndarray) -> np.ndarray:
    import cv2

    rig = store.rig("0")
    out = np.empty((instants.size, len(rig), J, 2))
    for k, i in enumerate(instants.tolist()):
        pts = store.labels(i).joints_world_mm
        for c, cam in enumerate(rig):
            rvec, _ = cv2.Rodrigues(cam.R)
            uv, _ = cv2.projectPoints(pts.reshape(-1, 1, 3), rvec, cam.t, cam.K, cam.dist)
            out[k, c] = uv.reshape(-1, 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="2k instants, 200 labelled")
    ap.add_argument("--dir", help="where to build (default: a temporary folder)")
    args = ap.parse_args()
    F, C, n_lab = (2000, 140, 200) if args.small else (18600, 140, 1000)
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench_store_"))
    path = base / "project"
    rig = dome_rig(C)
    print(f"building {F} instants x {C} cameras = {F * C / 1e6:.2f}M images in {path}")
    res = build(path, F, rig, n_lab)
    size_mb = sum(p.stat().st_size for p in path.iterdir() if p.is_file()) / 1e6
    reader = subprocess.run([sys.executable, "-c", _READER, str(path), "2000"], cwd=REPO,
                            capture_output=True, text=True, check=True)
    res.update(json.loads(reader.stdout))
    store = ProjectStore.open(path, "r")
    inst = store.labelled_instants()
    t0 = time.perf_counter()
    prop = store.propagate(inst)
    t_fast = time.perf_counter() - t0
    n_ref = min(100, inst.size)
    t0 = time.perf_counter()
    ref = naive_propagation(store, inst[:n_ref])
    t_ref = time.perf_counter() - t0
    err = np.nanmax(np.abs(prop.uv_px[:n_ref] - ref))
    jv = inst.size * C * J
    res.update({"project_mb": size_mb, "propagate_joint_views_per_s": jv / t_fast,
                "naive_joint_views_per_s": n_ref * C * J / t_ref,
                "propagate_vs_naive_max_px_diff": float(err)})
    store.close()
    print(f"build: paths {res['generate_paths_s']:.1f} s, index {res['build_index_s']:.1f} s, "
          f"labels save {res['labels_save_s'] * 1e3:.0f} ms; project files {size_mb:.0f} MB")
    print(f"fresh process: import {res['import_s']:.2f} s, open {res['open_s'] * 1e3:.0f} ms "
          f"(target < 2 s), read one instant {res['read_ms']:.2f} ms (target < 5 ms), "
          f"peak RSS {res['peak_rss_mb']:.0f} MB (target < 500 MB)")
    print(f"propagation: {res['propagate_joint_views_per_s'] / 1e6:.2f} M joint-views/s "
          f"(target >= 1M) vs naive cv2.projectPoints loop "
          f"{res['naive_joint_views_per_s'] / 1e6:.3f} M/s -> ratio "
          f"{res['propagate_joint_views_per_s'] / res['naive_joint_views_per_s']:.1f}x; "
          f"max |diff| {err:.2e} px")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
