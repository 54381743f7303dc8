"""``annotator demo [OUT] [--quick]``: the whole loop on the synthetic studio, with a report.

Synthetic capture -> simulated human stage -> propagation -> machine labeler -> machine
labels -> merge -> evaluation against ground truth -> InterNet trained on held-in subjects and
evaluated on held-out ones -> ``OUT/report.html`` and ``OUT/summary.json``. Every stage is an
``annotator`` command (the report lists them); rerunning on the same OUT resumes.
"""

from __future__ import annotations

import argparse

#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 10


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "demo",
        help="run the whole loop on a synthetic capture and write a report",
        description="Run the whole annotation loop on a synthetic studio capture: human stage "
        "(simulated annotator), machine labeler, merge, evaluation, InterNet training on "
        "held-in subjects and evaluation on held-out subjects; writes OUT/report.html and "
        "OUT/summary.json. Each stage is the annotator command the report lists; rerunning "
        "on the same OUT resumes where it stopped. Full: <= 60 min on 2 CPU cores; "
        "--quick: <= 10 min.",
    )
    p.add_argument("out", nargs="?", default="demo_out", help="demo folder (./demo_out)")
    p.add_argument(
        "--quick", action="store_true",
        help="a smaller capture and shorter training (<= 10 min on 2 CPU cores), InterNet's "
        "H+M row only",
    )
    # CI's end-to-end test: every stage for real at the smallest size (hidden from --help)
    p.add_argument("--size", choices=("tiny", "quick", "full"), help=argparse.SUPPRESS)
    p.add_argument(
        "--report-only", action="store_true",
        help="only (re)write the report from the stages already done",
    )
    return p


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from annotator.demo.main import run_demo

    size = args.size or ("quick" if args.quick else "full")
    return run_demo(Path(args.out), size, report_only=args.report_only, say=print)
