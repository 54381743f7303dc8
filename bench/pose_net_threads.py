"""cpu-small InterNet training step on a shared CPU: one intra-op thread vs torch's default.

Prints seconds per training step (forward + losses + backward + Adam) for each thread
count, measured alternately in one process, and their ratio. On a machine where other
processes use the cores, OpenMP threads that spin at barriers make the default setting
many times slower; ``OMP_NUM_THREADS=1`` avoids it.

    nice -n 5 python bench/pose_net_threads.py [--batch 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from pose_net.config import get_config
    from pose_net.heatmaps import joints_to_voxels
    from pose_net.internet import InterNet
    from pose_net.losses import InterNetTargets, internet_losses, total_loss

    cfg = get_config("cpu-small")
    torch.manual_seed(0)
    model = InterNet(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    b = args.batch
    images = torch.rand(b, 3, cfg.input_px, cfg.input_px)
    uvd = torch.rand(b, 42, 3) * torch.tensor([cfg.input_px, cfg.input_px, 0.0])
    targets = InterNetTargets(joints_to_voxels(uvd, cfg), torch.ones(b, 42), torch.ones(b, 2),
                              torch.ones(b), torch.zeros(b), torch.ones(b))

    def step() -> None:
        loss = total_loss(internet_losses(model(images), targets, cfg))
        opt.zero_grad()
        loss.backward()
        opt.step()

    default = torch.get_num_threads()
    counts = [1, default] if default > 1 else [1]
    times: dict[int, list[float]] = {n: [] for n in counts}
    for _ in range(args.repeats):
        for n in counts:
            torch.set_num_threads(n)
            step()  # warm-up at this setting
            t = time.perf_counter()
            step()
            times[n].append(time.perf_counter() - t)
    load = os.getloadavg()[0]
    print(f"cpu-small training step, batch {b}, {os.cpu_count()} cores, load {load:.1f}")
    best = {n: min(v) for n, v in times.items()}
    for n in counts:
        print(f"  {n} thread(s): {best[n]:.2f} s/step (best of {args.repeats})  "
              f"x{best[n] / best[1]:.2f} vs 1 thread")


if __name__ == "__main__":
    main()
