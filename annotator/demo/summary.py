"""``OUT/summary.json``: the demo's headline numbers, read from the stages' JSON outputs.

Keys (mm unless named otherwise; ``null`` where a stage has not produced its number):
``project``, ``size``, ``machine_info``, ``human`` (simulate-annotator + evaluate),
``machine``, ``baseline``, ``views_curve``, ``internet`` (the H+M row), ``table4``
(row name -> InterNet metrics), ``internet_mean_pose`` (eval-internet's constant predictor:
the mean pose of the evaluated samples), ``internet_mean_pose_train`` (the mean pose of the
training subjects, :mod:`annotator.demo.baseline`),
``bootstrap`` (per round of ``annotator bootstrap``: labels trained on, steps, training
seconds, the machine labels' errors after the round, the selection's kept joints and 5 mm
precision), ``qc`` (``evaluate``'s review-flag split), ``paper_tables`` (the paper's Tables
3 and 4 over seeds, written into ``OUT/results/paper_tables.json`` by
``bench/paper_tables.py OUT/project``; null until that bench has run),
``trainings`` (every training: ``stage``, ``steps``, ``seconds``, ``stopped_by``: "time"
when its budget ended it, "steps" when its step cap did),
``seconds`` (stage -> wall s), ``total_seconds``, ``commands`` (stage -> command).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from annotator.demo.plan import TABLE4_LABELS, DemoSize, Stage
from annotator.demo.runner import StageRecord, training_end

__all__ = ["build_summary", "read_json", "lookup", "INTERNET_KEYS"]

logger = logging.getLogger(__name__)

INTERNET_KEYS = ("mpjpe_all", "mpjpe_single", "mpjpe_interacting", "mrrpe",
                 "handedness_accuracy")


def read_json(path: Path) -> dict | None:
    """A stage's JSON output, or None when it is absent or unreadable (logged)."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("%s: unreadable (%s)", path, exc)
        return None


def lookup(data: Mapping | None, dotted: str):
    """``data["a"]["b"]`` for ``"a.b"``, also accepting a flat ``data["a.b"]``; None if absent."""
    if data is None:
        return None
    if dotted in data:
        return data[dotted]
    node = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _finite(value) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


#: What summary.json keeps of bench/paper_tables.py's result (its per-run records stay in
#: results/paper_tables.json).
PAPER_TABLES_KEYS = ("tables", "rows", "orderings", "baseline", "minutes", "repeats", "every",
                     "n_test", "held_in", "held_out", "machine", "date", "command",
                     "paper_full", "init_trunk", "augment")


def _paper_tables(data: Mapping | None) -> dict | None:
    if not isinstance(data, Mapping) or not isinstance(data.get("rows"), Mapping):
        return None
    return {k: data.get(k) for k in PAPER_TABLES_KEYS}


def _internet_row(data: Mapping) -> dict:
    """An eval-internet JSON's headline numbers, with the handedness accuracy per hand type
    ("right", "left", "interacting") and the share of two-hand crops (what answering "both"
    everywhere would score)."""
    row: dict = {k: _finite(lookup(data, k)) for k in INTERNET_KEYS}
    by_type = data.get("handedness_by_type")
    row["handedness_by_type"] = ({k: _finite(v) for k, v in by_type.items()}
                                 if isinstance(by_type, Mapping) else None)
    row["interacting_share"] = _finite(data.get("interacting_share"))
    return row


def _trainings(out: Path, size: DemoSize, rounds: Sequence[Mapping]) -> list[dict]:
    """Every training of the demo: its stage, steps, training seconds and what ended it
    ("time": its budget; "steps": its step cap; None where the run did not say)."""
    rows = [{"stage": f"bootstrap round {r.get('round')} (train-labeler)",
             "steps": r.get("steps"), "seconds": r.get("train_seconds"),
             "stopped_by": r.get("stopped_by")} for r in rounds]
    for labels in size.table4:
        end = training_end(out, f"internet/{labels}/metrics.jsonl")
        if end is not None:
            rows.append({"stage": f"train-internet-{labels}", "steps": end.get("step"),
                         "seconds": end.get("seconds"), "stopped_by": end.get("stopped_by")})
    return rows


def build_summary(
    out: Path, size: DemoSize, stages: Sequence[Stage], records: Mapping[str, StageRecord],
    *, machine_info: Mapping, mean_pose: Mapping | None,
) -> dict:
    """Assemble summary.json's dict from ``OUT/results/*.json`` and the stage records."""
    out = Path(out)
    results = out / "results"
    sim = read_json(results / "human.json")
    ev = read_json(results / "evaluate.json")
    human = {
        "median_mm": _finite(lookup(ev, "human.median_mm") or lookup(sim, "median_mm")),
        "mean_mm": _finite(lookup(ev, "human.mean_mm") or lookup(sim, "mean_mm")),
        "simulated_median_mm": _finite(lookup(sim, "median_mm")),
        "instants": lookup(sim, "instants"),
        "joints": lookup(sim, "joints"),
    }
    machine = dict(lookup(ev, "machine") or {}) if isinstance(lookup(ev, "machine"), Mapping) \
        else {}
    machine["median_mm"] = _finite(lookup(ev, "machine.median_mm"))
    machine["mean_mm"] = _finite(lookup(ev, "machine.mean_mm"))
    baseline = dict(lookup(ev, "baseline") or {}) if isinstance(lookup(ev, "baseline"), Mapping) \
        else {}
    baseline["median_mm"] = _finite(lookup(ev, "baseline.median_mm"))
    table4 = {}
    for labels in size.table4:
        data = read_json(results / f"internet-{labels}.json")
        table4[TABLE4_LABELS[labels]] = None if data is None else _internet_row(data)
    main_row = table4.get("H+M") or next((r for r in table4.values() if r), None)
    main_labels = "all" if "all" in size.table4 else size.table4[0]
    main_json = read_json(results / f"internet-{main_labels}.json")
    oracle = None
    if lookup(main_json, "baseline_mpjpe_all") is not None:
        oracle = {k: _finite(lookup(main_json, f"baseline_{k}"))
                  for k in ("mpjpe_all", "mpjpe_single", "mpjpe_interacting")}
    boot = read_json(results / "bootstrap.json")
    rounds = [
        {k: r.get(k) for k in ("round", "labels", "steps", "train_seconds", "stopped_by",
                               "machine", "selection")}
        for r in (lookup(boot, "rounds") or [])
    ]
    seconds = {s.name: round(records[s.name].seconds, 2) for s in stages if s.name in records}
    cpu = {s.name: round(records[s.name].cpu_seconds, 1) for s in stages
           if s.cpu_counted and s.name in records and records[s.name].cpu_seconds is not None}
    return {
        "project": str((out / "project").resolve()),
        "report": str((out / "report.html").resolve()),
        "size": asdict(size),
        "machine_info": dict(machine_info),
        "human": human,
        "machine": machine,
        "baseline": baseline,
        "views_curve": lookup(ev, "views_curve") or [],
        "qc": dict(lookup(ev, "qc") or {}),
        "bootstrap": rounds,
        "internet": main_row or {k: None for k in INTERNET_KEYS},
        "table4": table4,
        "paper_tables": _paper_tables(read_json(results / "paper_tables.json")),
        # eval-internet's: the mean pose of the evaluated samples themselves (an oracle constant)
        "internet_mean_pose": oracle,
        # ours: the mean pose of the training subjects' views, applied to the held-out ones
        "internet_mean_pose_train": dict(mean_pose) if mean_pose else None,
        "seconds": seconds,
        "total_seconds": round(sum(seconds.values()), 1),
        # steps each training actually took (a time budget may end one before its steps)
        "steps": {s.name: records[s.name].items for s in stages
                  if s.steps_from and s.name in records},
        # every training: steps, seconds and what ended it ("time" | "steps")
        "trainings": _trainings(out, size, rounds),
        # CPU time of each stage's processes: with wall time, shows how loaded the machine was
        "cpu_seconds": cpu,
        # the machine's 1-min load average as each stage ended (> cores: shared, slower)
        "load_average": {s.name: records[s.name].load_average for s in stages
                         if s.name in records and records[s.name].load_average is not None},
        # what ran (the record's command) where the stage ran, else what would run
        "commands": {s.name: records[s.name].command if s.name in records else s.command
                     for s in stages},
    }
