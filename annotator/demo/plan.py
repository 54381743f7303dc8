"""The demo's stages: each one an ``annotator`` command a user could run by hand.

``build_plan(out, size)`` turns a :class:`DemoSize` (how big the synthetic capture is, how long
each network trains) into the ordered list of :class:`Stage` s that ``annotator demo`` runs.
The plan is pure data: nothing here runs or imports anything heavy, so the report can list
exactly the commands that made each number and a user can rerun or replace any one of them.

Layout of a demo folder ``OUT``::

    OUT/project/            the produced project (images, labels, machine labels, models)
    OUT/results/*.json      each stage's machine-readable result (the ``--json`` outputs)
    OUT/internet/<labels>/  InterNet checkpoints, one folder per label set (Table 4 rows)
    OUT/report.html, OUT/summary.json, OUT/figures/*.png
    OUT/.demo/              stage markers (resume) and logs
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DemoSize", "SIZES", "Stage", "build_plan", "TABLE4_LABELS", "FASTEST_STEPS_PER_S"]

#: The fastest training rates seen for the demo's trainings on a 2-core CPU (steps/s at the
#: demo's batch sizes, 2026-12-07): the step caps of the timed sizes stay well above what
#: these reach in the budgets, so the budgets end the trainings.
FASTEST_STEPS_PER_S = {"labeler": 8.4, "internet": 9.0}

#: Table 4 of the paper: InterNet trained on human (H), machine (M) and both (H+M) labels.
#: ``--labels`` value -> the paper's row name.
TABLE4_LABELS: dict[str, str] = {"human": "H", "machine": "M", "all": "H+M"}


@dataclass(frozen=True)
class DemoSize:
    """How big one demo run is. Times are for the 2-core CPU machine of this project."""

    name: str
    cameras: int  # cameras in the synthetic dome
    instants: int  # time instants in total (split evenly over the subjects)
    subjects: int  # subjects = captures; the last ``held_out`` are InterNet's test set
    held_out: int  # subjects InterNet never sees in training (evaluated on their ground truth)
    human_fraction: float  # share of instants the simulated human labels (the rest: machine)
    human_views: int  # views the simulated annotator clicks per joint (paper: 2)
    noise_px: float  # std of the simulated annotator's click noise
    labeler_steps: int  # train-labeler steps (cpu-small): a cap; the time budget ends it first
    internet_steps: int  # train-internet steps per label set (cpu-small): likewise a cap
    table4: tuple[str, ...]  # --labels values to train InterNet on (Table 4 rows)
    views_repeats: int  # random view subsets per point of the views curve (paper's Fig. 4)
    views: tuple[int, ...] = field(default=())  # views-curve points; () = derived from cameras
    labeler_batch: int | None = None  # train-labeler --batch-size (None: the config's)
    internet_batch: int | None = None  # train-internet --batch-size (None: the config's)
    pictures: int = 4  # held-out images drawn by ``annotator infer`` in the report
    # Wall-clock budgets of the trainings (``--max-minutes``): on a slow or shared machine the
    # clock ends a training before its steps, so the demo keeps its promised wall time (the
    # steps actually taken are in the report). None: the steps alone.
    labeler_minutes: float | None = None
    internet_minutes: float | None = None
    # multiview bootstrapping (``annotator bootstrap``): rounds after the human-label round,
    # each training on human + selected machine labels from the previous round's weights,
    # with its own steps cap and time budget (fine-tuning needs less than round 0)
    bootstrap_rounds: int = 1
    round_steps: int | None = None
    round_minutes: float | None = None

    @property
    def held_in_subjects(self) -> list[int]:
        return list(range(self.subjects - self.held_out))

    @property
    def held_out_subjects(self) -> list[int]:
        return list(range(self.subjects - self.held_out, self.subjects))

    def views_curve(self) -> tuple[int, ...]:
        """Views counts of the Fig. 4 curve: 2, 4, 8, ... up to every camera."""
        if self.views:
            return self.views
        points, v = [], 2
        while v < self.cameras:
            points.append(v)
            v *= 2
        return (*points, self.cameras)


SIZES: dict[str, DemoSize] = {
    # CI's end-to-end test: every stage runs for real, at a size that takes ~1-2 minutes.
    "tiny": DemoSize(
        name="tiny", cameras=8, instants=9, subjects=3, held_out=1, human_fraction=0.34,
        human_views=2, noise_px=1.5, labeler_steps=3, internet_steps=3, table4=("all",),
        views_repeats=5, labeler_batch=8, internet_batch=4, pictures=2, round_steps=2,
    ),
    # ``annotator demo --quick``: <= 10 minutes on 2 CPU cores; InterNet's H+M row only.
    # The same 2-core machine type (AMD EPYC) ran the stages at rates that varied 2x between
    # hours (2026-12-02/03: synth 20-36 images/s, train-labeler 2.1-4.6 steps/s at batch 16,
    # train-internet 1.5-2.5 steps/s at batch 8), so the trainings have time budgets: the
    # other stages took 2.7 minutes at the slowest rates seen (7.7 minutes in all with
    # budgets of 3.5 + 1.5), the trainings get 4 + 2 minutes (the labeller's 4 now split into
    # 2.5 for round 0 and 1.5 for one bootstrapping round). The time budgets bound every
    # training; the step counts are safety caps >= 5x what the fastest CPU rate seen reaches in
    # the budget (FASTEST_STEPS_PER_S), so a faster machine trains more instead of idling.
    "quick": DemoSize(
        name="quick", cameras=24, instants=72, subjects=3, held_out=1, human_fraction=1 / 3,
        human_views=2, noise_px=1.5, labeler_steps=20_000, internet_steps=8_000,
        table4=("all",), views_repeats=20, labeler_batch=16, internet_batch=8, pictures=2,
        labeler_minutes=2.5, internet_minutes=2.0, round_steps=12_000, round_minutes=1.5,
    ),
    # ``annotator demo``: <= 60 minutes on 2 CPU cores; the paper's Table 4 (H, M, H+M).
    # 80 cameras for the views curve (the paper's Fig. 4 goes to 90); 40 human instants.
    # At the slowest rates seen the other stages take ~22 minutes (synth 7, machine-label 6,
    # eval-internet 3 x 2.5); the trainings get 10 + 6 (the labeller: round 0 and one
    # bootstrapping round, plus a second labelling pass) + 3 x 5.5 minutes; the steps are
    # safety caps the budgets end first (a faster machine hit the old 4,500 / 2,000 caps in
    # 620 s of 15 minutes and 216-257 s of 5.5).
    "full": DemoSize(
        name="full", cameras=80, instants=160, subjects=4, held_out=1, human_fraction=0.25,
        human_views=2, noise_px=1.5, labeler_steps=60_000, internet_steps=20_000,
        table4=("human", "machine", "all"), views_repeats=50, labeler_batch=16,
        internet_batch=8, labeler_minutes=10.0, internet_minutes=5.5,
        round_steps=40_000, round_minutes=6.0,
    ),
}


@dataclass(frozen=True)
class Stage:
    """One step of the demo: an ``annotator`` command and what it writes.

    ``argv`` follows the word ``annotator``; ``resume_argv`` is appended when the stage is
    run again after an interrupted attempt (e.g. ``--resume`` for training) and something
    matches the glob ``resume_if`` (relative to the demo folder; e.g. a checkpoint: a run
    killed before its first checkpoint starts over instead).
    """

    name: str  # unique, used for the marker file and in summary.json's "seconds"
    title: str  # one line for people
    argv: tuple[str, ...]
    resume_argv: tuple[str, ...] = ()
    resume_if: str = ""
    # False where the stage's work runs in a forkserver pool, whose workers' CPU time never
    # reaches this process's RUSAGE_CHILDREN (synth): its CPU time is then not reported
    cpu_counted: bool = True
    items: int = 0  # work items, for throughput in the report (0: not meaningful)
    unit: str = ""  # what an item is ("image", "instant", "step")
    # A training's metrics.jsonl (glob relative to the demo folder; the newest match): the
    # steps it logged replace ``items`` (a time budget may end a training before its steps)
    steps_from: str = ""

    @property
    def command(self) -> str:
        """The shell command a user would type."""
        return "annotator " + shlex.join(self.argv)


def _subjects_arg(subjects: list[int]) -> str:
    return ",".join(str(s) for s in subjects)


def _batch(batch: int | None) -> tuple[str, ...]:
    return () if batch is None else ("--batch-size", str(batch))


def _budget(minutes: float | None) -> tuple[str, ...]:
    return () if minutes is None else ("--max-minutes", f"{minutes:g}")


def _length(steps: int, minutes: float | None) -> str:
    if minutes is None:
        return f"{steps} steps"
    return f"{minutes:g} minutes, at most {steps:,} steps"


def build_plan(out: Path | str, size: DemoSize) -> list[Stage]:
    """The ordered stages of a demo writing into ``out`` (see the module docstring)."""
    out = Path(out)
    project = str(out / "project")
    results = out / "results"
    images = size.cameras * size.instants
    human_instants = max(1, round(size.human_fraction * size.instants))
    machine_images = (size.instants - human_instants) * size.cameras
    held_in = _subjects_arg(size.held_in_subjects)
    held_out = _subjects_arg(size.held_out_subjects)
    stages = [
        Stage(
            "synth",
            f"render a {size.cameras}-camera studio capture: {size.subjects} subjects, "
            f"{size.instants} instants, single and interacting hands",
            ("synth", project, "--cameras", str(size.cameras), "--instants", str(size.instants),
             "--subjects", str(size.subjects), "--seed", "0"),
            resume_argv=("--overwrite",), resume_if="project/project.toml", cpu_counted=False,
            items=images, unit="image",
        ),
        Stage(
            "simulate-annotator",
            f"human stage: a simulated annotator clicks every visible joint in "
            f"{size.human_views} views ({size.noise_px} px noise) on "
            f"{size.human_fraction:.0%} of the instants",
            ("simulate-annotator", project, "--fraction", f"{size.human_fraction:g}",
             "--views", str(size.human_views), "--noise-px", f"{size.noise_px:g}",
             "--seed", "0", "--json", str(results / "human.json")),
            items=human_instants, unit="instant",
        ),
        Stage(
            "propagate",
            "propagate the human 3D joints into 2D labels in every camera",
            ("propagate", project),
            items=human_instants * size.cameras, unit="image",
        ),
        Stage(
            "bootstrap",
            f"machine labels by multiview bootstrapping: train the EfficientNet labeller "
            f"(cpu-small) on the human labels ({_length(size.labeler_steps, size.labeler_minutes)}"
            f"), label every unlabelled instant (each crop also mirrored, RANSAC-lifted, "
            f"per-hand refinement) and merge; then {size.bootstrap_rounds} round(s) of training "
            f"on the human plus the selected machine labels from the previous weights "
            f"({_length(size.round_steps or size.labeler_steps, size.round_minutes)}), "
            "labelling again with every round's detector together and merging",
            ("bootstrap", project, "--rounds", str(size.bootstrap_rounds), "--config",
             "cpu-small", "--steps", str(size.labeler_steps), *_budget(size.labeler_minutes),
             *(("--round-steps", str(size.round_steps)) if size.round_steps else ()),
             *(("--round-minutes", f"{size.round_minutes:g}") if size.round_minutes else ()),
             "--device", "auto", *_batch(size.labeler_batch),
             "--json", str(results / "bootstrap.json")),
            items=machine_images * (size.bootstrap_rounds + 1), unit="image",
        ),
        Stage(
            "evaluate",
            "score human and machine labels against ground truth; 3D error vs number of views",
            ("evaluate", project, "--json", str(results / "evaluate.json"),
             "--views", ",".join(str(v) for v in size.views_curve()),
             "--repeats", str(size.views_repeats)),
        ),
    ]
    for labels in size.table4:
        row = TABLE4_LABELS[labels]
        ckpt_dir = out / "internet" / labels
        stages.append(Stage(
            f"train-internet-{labels}",
            f"train InterNet (cpu-small, trunk started from the machine labeller's backbone, "
            f"no augmentation) "
            f"on the {row} labels of held-in subjects {held_in}, "
            f"{_length(size.internet_steps, size.internet_minutes)}",
            ("train-internet", project, "--labels", labels, "--subjects", held_in,
             # the M row has no instant whose hands people decided: the machine's verdicts
             # are the only hand types it has
             *(("--hand-types", "stored") if labels == "machine" else ()),
             "--config", "cpu-small", "--init-trunk", "labeler", "--no-augment",
             "--steps", str(size.internet_steps),
             *_budget(size.internet_minutes), "--device", "auto",
             *_batch(size.internet_batch), "--out", str(ckpt_dir)),
            resume_argv=("--resume",), resume_if=f"internet/{labels}/checkpoint.pth",
            items=size.internet_steps, unit="step",
            steps_from=f"internet/{labels}/metrics.jsonl",
        ))
        stages.append(Stage(
            f"eval-internet-{labels}",
            f"evaluate InterNet ({row}) on the ground truth of held-out subjects {held_out}",
            ("eval-internet", str(ckpt_dir / "checkpoint.pth"), project, "--subjects", held_out,
             "--labels", "ground-truth", "--json", str(results / f"internet-{labels}.json")),
        ))
    return stages
