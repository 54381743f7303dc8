"""Benchmark of InterNet's forward pass: images/s, plain eager fp32 against optimised paths.

All variants run the same randomly initialised model in the same process, interleaved round
by round (A, B, C, A, B, C, ...) so that load from other processes hits them alike; each
figure is the median over rounds, and the ratios are against the plain eager fp32 forward
(``torch.no_grad``, NCHW, BatchNorm as is).

Variants:
- ``eager-fp32``: the reference.
- ``fast-fp32``: BatchNorm folded into the convolutions (``torch_common.batchnorm_fold``),
  channels-last memory format, ``torch.inference_mode``.
- ``fast-bf16``: the same under bfloat16 autocast (the GPU path; runs on CPU too, where it
  is usually slower unless the CPU has AMX/AVX512-BF16).
- ``compiled`` (``--compile``): ``torch.compile`` of the fast model (slow to compile on CPU).

Anchors: the paper reports 53 fps for InterNet (Titan V, batch 1); the goal on one modern GPU
is >= 1,000 images/s batched. Output per image in the paper configuration is 42 x 64^3
heatmap floats (44 MB in fp32), so batch 64 on a CPU takes minutes: use ``--batch 1 8``.

    python bench/internet.py [--config paper|cpu-small] [--batch 1 8] [--rounds 3]
                             [--device auto|cpu|cuda] [--bf16] [--compile] [--json OUT]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pose_net.config import get_config  # noqa: E402
from pose_net.internet import InterNet  # noqa: E402
from torch_common.batchnorm_fold import fold_batchnorm  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _variants(model: InterNet, device: torch.device, bf16: bool, compile_: bool):
    """name -> (callable(images), input memory format)."""
    fast = fold_batchnorm(model).to(device).to(memory_format=torch.channels_last).eval()
    eager = model.to(device).eval()

    def run_eager(x):
        with torch.no_grad():
            return eager(x).heatmaps

    def run_fast(x, dtype=None):
        ctx = (torch.autocast(device.type, dtype=dtype) if dtype is not None
               else contextlib.nullcontext())
        with torch.inference_mode(), ctx:
            return fast(x).heatmaps

    out = {
        "eager-fp32": (run_eager, torch.contiguous_format),
        "fast-fp32": (run_fast, torch.channels_last),
    }
    if bf16:
        out["fast-bf16"] = (lambda x: run_fast(x, torch.bfloat16), torch.channels_last)
    if compile_:
        compiled = torch.compile(fast)

        def run_compiled(x):
            ctx = (torch.autocast(device.type, dtype=torch.bfloat16) if bf16
                   else contextlib.nullcontext())
            with torch.inference_mode(), ctx:
                return compiled(x).heatmaps

        out["compiled" + ("-bf16" if bf16 else "-fp32")] = (run_compiled, torch.channels_last)
    return out


def bench(config_name: str, batches: list[int], rounds: int, min_seconds: float,
          device: torch.device, bf16: bool, compile_: bool) -> list[dict]:
    torch.manual_seed(0)
    cfg = get_config(config_name)
    model = InterNet(cfg)
    variants = _variants(model, device, bf16, compile_)
    rows = []
    for b in batches:
        x = torch.rand(b, 3, cfg.input_px, cfg.input_px, device=device)
        inputs = {fmt: x.contiguous(memory_format=fmt) for fmt in {f for _, f in variants.values()}}
        for fn, fmt in variants.values():  # warm-up (and compilation)
            fn(inputs[fmt])
            _sync(device)
        rates: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, (fn, fmt) in variants.items():
                n, t0 = 0, time.perf_counter()
                while True:
                    fn(inputs[fmt])
                    _sync(device)
                    n += 1
                    dt = time.perf_counter() - t0
                    if dt >= min_seconds:
                        break
                rates[name].append(n * b / dt)
        base = statistics.median(rates["eager-fp32"])
        for name, r in rates.items():
            med = statistics.median(r)
            rows.append({"config": config_name, "batch": b, "variant": name,
                         "images_per_s": med, "ratio_vs_eager_fp32": med / base,
                         "rounds": [round(v, 3) for v in r]})
            print(f"{config_name:9s} batch {b:3d}  {name:14s} {med:9.2f} images/s  "
                  f"x{med / base:.2f} vs eager fp32", flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="paper", help="paper (default) or cpu-small")
    ap.add_argument("--batch", type=int, nargs="+", default=None,
                    help="batch sizes (default: 1 64 on CUDA, 1 8 on CPU)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per variant")
    ap.add_argument("--seconds", type=float, default=2.0, help="minimum time per measurement")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--bf16", action="store_true", help="add bf16 autocast (default on CUDA)")
    ap.add_argument("--compile", action="store_true", help="add torch.compile of the fast model")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--json", default=None, help="write the rows as JSON")
    args = ap.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    if args.threads:
        torch.set_num_threads(args.threads)
    batches = args.batch or ([1, 64] if device.type == "cuda" else [1, 8])
    bf16 = args.bf16 or device.type == "cuda"
    where = (torch.cuda.get_device_name(device) if device.type == "cuda"
             else f"CPU {platform.processor() or platform.machine()}, "
                  f"{torch.get_num_threads()} threads")
    print(f"InterNet forward, {where}, torch {torch.__version__}")
    rows = bench(args.config, batches, args.rounds, args.seconds, device, bf16, args.compile)
    if device.type == "cuda":
        best = max(r["images_per_s"] for r in rows if r["batch"] == 1)
        batched = max(r["images_per_s"] for r in rows)
        print(f"paper anchor 53 fps at batch 1 (Titan V): best here {best:.0f} images/s; "
              f"goal >= 1,000 images/s batched: {batched:.0f} "
              f"({'PASS' if batched >= 1000 else 'FAIL'})")
    else:
        print("no GPU here: the 53 fps anchor and the 1,000 images/s goal are GPU figures and "
              "are not measured by this run")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": where, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
