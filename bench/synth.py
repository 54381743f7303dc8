"""Synthetic studio speed and memory: images rendered per second at 512x334, 1 vs 2 workers.

    python bench/synth.py [--cameras 20] [--instants 8]

Prints, for the same capture written with 1 and with 2 rendering processes (JPEG files
included), the images per second, the 2-vs-1 ratio, and the peak resident memory of this
process and of the largest worker.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

# bench/ holds a triangulation.py benchmark that would shadow the package of that name.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from annotator.synth import Studio, StudioConfig, write_capture  # noqa: E402


def _peak_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # kB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, default=20)
    ap.add_argument("--instants", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cfg = StudioConfig(cameras=args.cameras, instants=args.instants, subjects=2, seed=args.seed)

    st = Studio(cfg)
    t0 = time.perf_counter()
    n = 0
    for i in range(st.num_instants):
        n += len(st.render(i).images)
    render_only = n / (time.perf_counter() - t0)

    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            t0 = time.perf_counter()
            res = write_capture(Path(tmp) / f"w{workers}", cfg, workers=workers)
            total = time.perf_counter() - t0
            rates[workers] = res.images / total
            print(f"workers={workers}: {res.images} images in {total:.1f} s -> "
                  f"{rates[workers]:.1f} images/s (project written, JPEG included)")
    print(f"render only, in process (no JPEG): {render_only:.1f} images/s")
    print(f"ratio 2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")
    print(f"peak RSS: main {_peak_rss_mb(resource.RUSAGE_SELF):.0f} MB, "
          f"largest worker {_peak_rss_mb(resource.RUSAGE_CHILDREN):.0f} MB")


if __name__ == "__main__":
    main()
