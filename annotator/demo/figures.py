"""The report's plots (matplotlib, Agg): machine error vs views, and training curves."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["PAPER_MACHINE_MM", "PAPER_MACHINE_VIEWS", "plot_views_curve",
           "plot_training_curves", "read_metrics"]

logger = logging.getLogger(__name__)

#: InterHand2.6M (Moon et al. 2020), Fig. 4: machine annotation error with 90 views.
PAPER_MACHINE_MM = 2.78
PAPER_MACHINE_VIEWS = 90


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_views_curve(
    curve: Sequence[Mapping], path: Path, *, human_median_mm: float | None = None,
    baseline_median_mm: float | None = None, title: str = "",
) -> Path:
    """Fig. 4 style: mean ± std 3D error of machine labels triangulated from v random views.

    Args:
        curve: ``[{"views": v, "mean_mm": m, "std_mm": s}, ...]`` (``evaluate --json``).
        path: the PNG to write.
        human_median_mm, baseline_median_mm: drawn as horizontal reference lines when given.
    """
    plt = _pyplot()
    pts = sorted((float(c["views"]), float(c["mean_mm"]), float(c.get("std_mm") or 0.0))
                 for c in curve if c.get("mean_mm") is not None
                 and math.isfinite(float(c["mean_mm"])))
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    if pts:
        v, m, s = zip(*pts, strict=True)
        ax.errorbar(v, m, yerr=s, marker="o", capsize=3, color="#1f77b4", lw=2,
                    label="machine labels (this run)")
        for vi, mi in zip(v, m, strict=True):
            ax.annotate(f"{mi:.1f}", (vi, mi), textcoords="offset points", xytext=(4, 6),
                        fontsize=8, color="#1f77b4")
    for key, name, colour in (("single_mean_mm", "one hand", "#9467bd"),
                              ("interacting_mean_mm", "two hands", "#ff7f0e")):
        part = sorted((float(c["views"]), float(c[key])) for c in curve
                      if c.get(key) is not None and math.isfinite(float(c[key])))
        if part:
            ax.plot(*zip(*part, strict=True), marker=".", lw=1, ls="--", color=colour,
                    label=f"machine labels, {name} present")
    ax.axhline(PAPER_MACHINE_MM, color="#d62728", ls="--", lw=1.2)
    ax.plot([PAPER_MACHINE_VIEWS], [PAPER_MACHINE_MM], marker="*", ms=12, color="#d62728",
            ls="none", label=f"paper: {PAPER_MACHINE_MM} mm at {PAPER_MACHINE_VIEWS} views")
    if human_median_mm is not None:
        ax.axhline(human_median_mm, color="#2ca02c", ls=":", lw=1.5,
                   label=f"human stage, median {human_median_mm:.2f} mm")
    ax.set_xscale("log", base=2)
    ticks = sorted({int(p[0]) for p in pts} | {PAPER_MACHINE_VIEWS})
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks])
    ax.set_xlabel("views used to triangulate each joint")
    ax.set_ylabel("3D error vs ground truth (mm)")
    ax.set_ylim(bottom=0)
    if baseline_median_mm is not None:
        ax.set_title((title + "\n" if title else "")
                     + f"mean-pose baseline: median {baseline_median_mm:.1f} mm", fontsize=9)
    elif title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def read_metrics(path: Path) -> list[dict]:
    """The records of a ``metrics.jsonl`` (unreadable lines skipped with a warning)."""
    rows = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError:
            logger.warning("%s:%d: not JSON, skipped", path, n)
    return rows


#: metrics.jsonl keys that are not losses (counters, schedules, speeds, clocks)
_NOT_LOSSES = frozenset({"step", "epoch", "iteration", "lr", "images_per_s", "time", "time_s",
                         "skipped_images", "epoch_end", "rank", "world_size"})


def _loss_series(rows: Sequence[Mapping]) -> dict[str, tuple[list[float], list[float]]]:
    """key -> (steps, values) for every numeric loss key of the per-step records
    (records closing an epoch, with ``epoch_end``, or the run, with ``end``, are left out)."""
    series: dict[str, tuple[list[float], list[float]]] = {}
    for k, row in enumerate(rows):
        if "epoch_end" in row or row.get("end") is True:
            continue
        step = row.get("step", row.get("iteration", k))
        for key, value in row.items():
            if key in _NOT_LOSSES or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if not math.isfinite(float(value)):
                continue
            steps, values = series.setdefault(key, ([], []))
            steps.append(float(step))
            values.append(float(value))
    return series


def _running_mean(values: Sequence[float], window: int) -> list[float]:
    """Mean of the last ``window`` values at each point (fewer at the start)."""
    out, total = [], 0.0
    for k, v in enumerate(values):
        total += v
        if k >= window:
            total -= values[k - window]
        out.append(total / min(k + 1, window))
    return out


def plot_training_curves(runs: Mapping[str, Path], path: Path) -> Path | None:
    """One panel per training run: every loss term of its metrics.jsonl vs step.

    Args:
        runs: panel title -> metrics.jsonl path (missing files are skipped).
    Returns:
        ``path``, or None when no run had a loss to draw.
    """
    panels = []
    for name, metrics in runs.items():
        if metrics is None or not Path(metrics).exists():
            continue
        series = _loss_series(read_metrics(Path(metrics)))
        if series:
            panels.append((name, series))
    if not panels:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), dpi=110,
                             squeeze=False)
    for ax, (name, series) in zip(axes[0], panels, strict=True):
        for n, (key, (steps, values)) in enumerate(sorted(series.items())):
            colour = f"C{n}"
            if len(values) < 25:
                ax.plot(steps, values, lw=1.3, label=key, marker="o", ms=3, color=colour)
                continue
            # noisy per-step losses: faint raw curve, bold running mean over ~1/10 of the run
            ax.plot(steps, values, lw=0.7, alpha=0.3, color=colour)
            ax.plot(steps, _running_mean(values, max(3, len(values) // 10)), lw=1.8,
                    label=f"{key} (running mean)", color=colour)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step")
        if all(v > 0 for _, vals in series.values() for v in vals):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
