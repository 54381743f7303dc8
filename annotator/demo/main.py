"""``annotator demo``: run the plan's stages (resuming), then write the report."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from annotator.demo.plan import SIZES, DemoSize, Stage, build_plan
from annotator.demo.runner import (
    DemoStageError,
    StageRecord,
    check_size,
    read_records,
    run_stages,
    size_of,
)

__all__ = ["run_demo", "write_report", "report_stage"]

logger = logging.getLogger(__name__)


def _size_flag(size: DemoSize) -> tuple[str, ...]:
    return {"quick": ("--quick",), "full": ()}.get(size.name, ("--size", size.name))


def report_stage(out: Path, size: DemoSize) -> Stage:
    """The last stage: the demo's own report (run in-process; its command regenerates it)."""
    return Stage("report", "write report.html, summary.json and the figures",
                 ("demo", str(out), *_size_flag(size), "--report-only"))


def _newest(paths: Sequence[Path]) -> Path | None:
    paths = [p for p in paths if p.is_file()]
    return max(paths, key=lambda p: p.stat().st_mtime) if paths else None


def _checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint file under ``folder`` (or ``folder`` itself if it is a file)."""
    if folder.is_file():
        return folder
    return _newest([p for ext in ("*.pt", "*.pth", "*.pth.tar", "*.ckpt")
                    for p in folder.rglob(ext)])


def _guarded(what: str, make: Callable[[], Path | None]) -> Path | None:
    """Run one figure-making step; a failure is logged and leaves that figure out."""
    try:
        return make()
    except Exception as exc:  # a missing picture must not lose the report's numbers
        logger.warning("report: %s not made: %s: %s", what, type(exc).__name__, exc)
        return None


def write_report(out: Path, size: DemoSize, stages: Sequence[Stage],
                 records: Mapping[str, StageRecord]) -> dict:
    """Figures, pictures, summary.json and report.html from what the stages wrote."""
    from annotator.demo.baseline import mean_pose_baseline
    from annotator.demo.figures import plot_training_curves, plot_views_curve
    from annotator.demo.machine import machine_info
    from annotator.demo.pictures import internet_sheet, label_sheet
    from annotator.demo.report import render_report
    from annotator.demo.summary import build_summary
    from annotator.store.layout import is_project, model_runs_dir

    out = Path(out)
    project = out / "project"
    figs = out / "figures"
    mean_pose = None
    if is_project(project):
        mean_pose = _guarded("mean-pose baseline", lambda: mean_pose_baseline(
            project, size.held_in_subjects, size.held_out_subjects))
    summary = build_summary(out, size, stages, records, machine_info=machine_info(),
                            mean_pose=mean_pose)
    figures: dict[str, Path | None] = {}
    if summary["views_curve"]:
        figures["views"] = _guarded("views curve", lambda: plot_views_curve(
            summary["views_curve"], figs / "views_curve.png",
            human_median_mm=summary["human"]["median_mm"],
            baseline_median_mm=summary["baseline"]["median_mm"]))
    if is_project(project):
        figures["labels"] = _guarded("label pictures",
                                     lambda: label_sheet(project, figs / "labels.png"))
    main_labels = "all" if "all" in size.table4 else size.table4[0]
    ckpt = _checkpoint(out / "internet" / main_labels)
    if ckpt is not None:
        figures["internet"] = _guarded("InterNet pictures", lambda: internet_sheet(
            ckpt, project, size.held_out_subjects, figs / "internet.png", out / ".demo" / "infer",
            count=size.pictures))
    labeler_runs = sorted(model_runs_dir(project, "labeler").glob("*/metrics.jsonl"))
    runs = {(f"machine labeler, round {r}" if len(labeler_runs) > 1 else "machine labeler"): m
            for r, m in enumerate(labeler_runs)}
    for labels in size.table4:
        runs[f"InterNet ({labels})"] = _newest(list((out / "internet" / labels)
                                                    .rglob("metrics.jsonl")))
    figures["training"] = _guarded("training curves", lambda: plot_training_curves(
        {k: v for k, v in runs.items() if v is not None}, figs / "training.png"))
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    render_report(out / "report.html", summary, stages, figures=figures)
    return summary


def _rerun(out: Path, size: DemoSize) -> str:
    return " ".join(["annotator demo", str(out), *_size_flag(size)])


def _final_lines(out: Path, summary: Mapping) -> list[str]:
    def mm(v, d=2):
        return "–" if v is None else f"{v:.{d}f}"

    h, m, b = summary["human"], summary["machine"], summary["baseline"]
    net = summary["internet"]
    mp = summary.get("internet_mean_pose") or summary.get("internet_mean_pose_train") or {}
    return [
        "",
        f"human labels   median {mm(h['median_mm'])} mm (3D error vs ground truth)",
        f"machine labels median {mm(m['median_mm'])} mm   (mean-pose baseline "
        f"{mm(b['median_mm'], 1)} mm)",
        f"InterNet       MPJPE single {mm(net['mpjpe_single'], 1)} / interacting "
        f"{mm(net['mpjpe_interacting'], 1)} mm (mean pose {mm(mp.get('mpjpe_single'), 1)} / "
        f"{mm(mp.get('mpjpe_interacting'), 1)}), MRRPE {mm(net['mrrpe'], 1)} mm, handedness "
        + ("–" if net["handedness_accuracy"] is None
           else f"{100 * net['handedness_accuracy']:.1f} %"),
        f"wall time      {summary['total_seconds'] / 60:.1f} min",
        "",
        f"report:  {out / 'report.html'}",
        f"summary: {out / 'summary.json'}",
        f"open the project in the app (machine proposals in its review queue):  "
        f"annotator gui {out / 'project'}",
    ]


def run_demo(out: Path, size_name: str, *, report_only: bool = False,
             say: Callable[[str], None] = lambda line: None) -> int:
    """Run (or resume) the demo in ``out``; returns the exit status (1: a stage failed)."""
    out = Path(out)
    if report_only:
        size = size_of(out)
        if size is None:
            raise ValueError(f"{out}: holds no demo to report on")
    else:
        size = SIZES[size_name]
        check_size(out, size)
        (out / "results").mkdir(parents=True, exist_ok=True)  # the stages' --json outputs
    stages = build_plan(out, size)
    if report_only:
        records = read_records(out)
        summary = write_report(out, size, stages, records)
        for line in _final_lines(out, summary):
            say(line)
        return 0
    say(f"annotator demo ({size.name}): {len(stages) + 1} stages into {out}; rerun the same "
        "command to resume after an interruption")
    done: dict[str, dict] = {}

    def report() -> None:
        done["summary"] = write_report(out, size, stages, read_records(out))

    try:
        run_stages(out, [*stages, report_stage(out, size)], say=say,
                   in_process={"report": report})
    except KeyboardInterrupt:
        say(f"\nannotator demo: interrupted; rerun `{_rerun(out, size)}` to resume")
        return 130
    except DemoStageError as exc:
        say(f"annotator demo: {exc}")
        say(f"fix the cause and rerun `{_rerun(out, size)}` to resume at that stage")
        return 1
    summary = done.get("summary")
    if summary is None:  # the report was made by an earlier run: reread its numbers
        summary = json.loads((out / "summary.json").read_text())
    for line in _final_lines(out, summary):
        say(line)
    return 0
