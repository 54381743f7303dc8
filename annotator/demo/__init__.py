"""``annotator demo``: the whole annotation loop on the synthetic studio, with a report.

``plan`` (the stages, each an ``annotator`` command), ``runner`` (runs them in order as
subprocesses, resumable through markers in ``OUT/.demo/``), ``summary``/``report``/
``figures``/``pictures`` (``OUT/summary.json``, ``OUT/report.html``).
"""

from __future__ import annotations

from annotator.demo.main import run_demo
from annotator.demo.plan import SIZES, DemoSize, Stage, build_plan

__all__ = ["run_demo", "SIZES", "DemoSize", "Stage", "build_plan"]
