"""``annotator bootstrap PROJECT --rounds R``: multiview bootstrapping of the machine labeller.

Round 0 trains the detector on the human labels, labels the other instants and merges them
(and evaluates them where the project has ground truth); each of rounds 1..R then trains
on the human labels plus the machine joints that pass the selection rule
(``train-labeler --labels human+machine``, :mod:`annotator.machine_labels.selection`), starting from
the previous round's checkpoint, and labels, merges and evaluates again::

    round 0:  train-labeler --labels human        -> machine-label -> merge [-> evaluate]
    round r:  train-labeler --labels human+machine --init-weights <round r-1 model.pt>
                                                   -> machine-label -> merge [-> evaluate]

With ``--ensemble`` (the default) round r labels with the detectors of rounds 0..r together
(``machine-label --model`` once per round: every crop through each, outputs averaged): a
round's detector, fine-tuned on machine labels, can be worse than round 0's on its own, and
the ensemble keeps what each learnt (full demo's capture: 12.61 / 12.84 mm median for
rounds 0 / 1 alone, 11.49 mm for the two together, docs/benchmarks.md).

Every step is the real ``annotator`` command, run in this process. Each finished step is
recorded in ``PROJECT/models/bootstrap/state.json`` (written atomically), so the same
command run again after a crash or a kill goes on from the step it stopped in: a training
whose run folder already holds a checkpoint continues it (``--resume``), one that had not
written any starts again, ``machine-label`` redoes only the instants no shard holds.
Per-round evaluation reports go to ``models/bootstrap/round-<r>/evaluate.json``. Human
labels are never touched (``merge`` never writes over them).
"""

from __future__ import annotations

import argparse

from annotator.cli.support import CliError

STATE_NAME = "state.json"
_STATE_VERSION = 1
_EVAL_REPEATS = 2  # random view subsets per count of the views curve: cheap, per round


#: Place in ``annotator --help`` (``annotator.cli.main``).
ORDER = 100


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "bootstrap",
        help="rounds of train-labeler / machine-label / merge / evaluate, each round training "
        "on the human labels plus the machine labels the previous one got right",
        description="Multiview bootstrapping. Round 0: train-labeler --labels human, "
        "machine-label, merge (and evaluate where there is ground truth). Rounds 1..R: "
        "train-labeler --labels human+machine from the previous round's checkpoint, then "
        "machine-label, merge, evaluate. Resumable: run the same command again after a "
        "kill (state in PROJECT/models/bootstrap/state.json).",
    )
    p.add_argument("project", help="project folder")
    p.add_argument("--rounds", type=int, required=True, metavar="R",
                   help="bootstrapping rounds after round 0 (0: only the human-label round)")
    p.add_argument("--steps", type=int, default=None, metavar="N",
                   help="optimiser steps of each training (default: the config's epochs)")
    p.add_argument("--max-minutes", type=float, default=None, metavar="M",
                   help="wall-time budget of each training")
    p.add_argument("--round-steps", type=int, default=None, metavar="N",
                   help="steps of the trainings of rounds 1..R (default: --steps); they "
                   "start from the previous round's weights and need fewer")
    p.add_argument("--round-minutes", type=float, default=None, metavar="M",
                   help="wall-time budget of the trainings of rounds 1..R (default: "
                   "--max-minutes)")
    p.add_argument("--refine", type=int, default=None, metavar="K",
                   help="machine-label's per-hand refinement passes (default: its own, 1)")
    p.add_argument("--ensemble", action=argparse.BooleanOptionalAction, default=True,
                   help="rounds 1..R label with the detectors of every round so far, their "
                   "outputs averaged (machine-label --model given once per round; on by "
                   "default: a round's detector alone can be worse than round 0's)")
    p.add_argument("--config", default="cpu-small", help="cpu-small (default) or paper")
    p.add_argument("--batch-size", type=int, default=None, help="training batch per process")
    p.add_argument("--machine-weight", type=float, default=None, metavar="W",
                   help="loss weight of a selected machine joint (default: the config's, 0.5)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--workers", type=int, default=1,
                   help="image-decoding processes of the trainings (1)")
    p.add_argument("--json", metavar="OUT", help="write the per-round summary as JSON here")
    return p


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from annotator.store import ProjectStore
    from machine_labeler.config import get_config

    if args.rounds < 0:
        raise CliError(f"--rounds must be >= 0, got {args.rounds}")
    if args.steps is not None and args.steps < 1:
        raise CliError(f"--steps must be >= 1, got {args.steps}")
    if args.max_minutes is not None and not args.max_minutes > 0:
        raise CliError(f"--max-minutes must be > 0, got {args.max_minutes}")
    if args.round_steps is not None and args.round_steps < 1:
        raise CliError(f"--round-steps must be >= 1, got {args.round_steps}")
    if args.round_minutes is not None and not args.round_minutes > 0:
        raise CliError(f"--round-minutes must be > 0, got {args.round_minutes}")
    if args.refine is not None and args.refine < 0:
        raise CliError(f"--refine must be >= 0, got {args.refine}")
    if args.batch_size is not None and args.batch_size < 1:
        raise CliError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.machine_weight is not None and not args.machine_weight > 0:
        raise CliError(f"--machine-weight must be > 0, got {args.machine_weight}")
    if args.workers < 0:
        raise CliError(f"--workers must be >= 0, got {args.workers}")
    config = get_config(args.config)
    with ProjectStore.open(args.project, mode="r") as store:
        if store.labelled_instants("human").size == 0:
            raise CliError(
                f"{store.path}: no human 3D labels to bootstrap from (label some instants in "
                "'annotator gui' or with 'annotator simulate-annotator' first)"
            )
        cameras = len(store.camera_names)
        has_truth = bool(store.has_ground_truth) and cameras >= 2
        models_dir = Path(store.models_dir)
    boot = _Bootstrap(args, config.name, models_dir, cameras, has_truth)
    return boot.run()


class _Bootstrap:
    """The rounds, their state file and their summary lines."""

    def __init__(self, args, config_name: str, models_dir, cameras: int, has_truth: bool):
        from pathlib import Path

        self.args = args
        self.project = str(args.project)
        self.config = config_name
        self.models_dir = Path(models_dir)
        self.dir = self.models_dir / "bootstrap"
        self.state_path = self.dir / STATE_NAME
        self.has_truth = has_truth
        self.views = ",".join(str(v) for v in sorted({2, min(4, cameras)}))

    # -- state -------------------------------------------------------------------------
    def _load_state(self) -> dict:
        import json


        if not self.state_path.exists():
            return {"version": _STATE_VERSION, "project": self.project, "config": self.config,
                    "rounds": {}}
        try:
            state = json.loads(self.state_path.read_text())
            if not isinstance(state, dict) or not isinstance(state.get("rounds"), dict):
                raise ValueError("not a bootstrap state")
        except ValueError as exc:
            raise CliError(f"{self.state_path}: unreadable bootstrap state ({exc}); move it "
                           "away to start over") from None
        if state.get("config") != self.config:
            raise CliError(f"{self.state_path}: this bootstrap runs config "
                           f"{state.get('config')!r}, not {self.config!r} (use --config "
                           f"{state.get('config')}, or move models/bootstrap away)")
        return state

    def _save(self) -> None:
        import json

        from annotator.store.atomic import atomic_write_bytes

        text = json.dumps(self.state, indent=1, allow_nan=False) + "\n"
        atomic_write_bytes(self.state_path, text.encode("utf-8"))

    def _round(self, r: int) -> dict:
        return self.state["rounds"].setdefault(str(r), {"done": []})

    def _mark(self, r: int, step: str, **info) -> None:
        rs = self._round(r)
        rs.update(info)
        if step not in rs["done"]:
            rs["done"].append(step)
        self._save()

    # -- running -----------------------------------------------------------------------
    def run(self) -> int:
        import fcntl
        import json

        from annotator.store.atomic import atomic_write_bytes

        self.dir.mkdir(parents=True, exist_ok=True)
        lock = open(self.dir / ".lock", "a+")  # noqa: SIM115 (held for the whole run)
        try:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise CliError(f"{self.dir}: another 'annotator bootstrap' is running on "
                               "this project") from None
            self.state = self._load_state()
            for r in range(self.args.rounds + 1):
                self._run_round(r)
                print(self._round_line(r), flush=True)
            summary = self.summary()
            if self.args.json:
                from pathlib import Path

                text = json.dumps(summary, indent=1, allow_nan=False) + "\n"
                atomic_write_bytes(Path(self.args.json), text.encode("utf-8"))
        finally:
            lock.close()
        return 0

    def _run_round(self, r: int) -> None:
        rs = self._round(r)
        if "train" not in rs["done"]:
            self._train(r)
        ckpt = rs["checkpoint"]
        if "machine-label" not in rs["done"]:
            refine = [] if self.args.refine is None else ["--refine", str(self.args.refine)]
            ckpts = [ckpt]
            if self.args.ensemble and r > 0:
                ckpts = [self.state["rounds"][str(k)]["checkpoint"] for k in range(r)] + ckpts
            models = [a for c in ckpts for a in ("--model", c)]
            self._step(r, "machine-label", ["machine-label", self.project, *models,
                                            "--device", self.args.device, *refine])
            self._mark(r, "machine-label", labelled_with=ckpts)
        if "merge" not in rs["done"]:
            self._step(r, "merge", ["merge", self.project])
            self._mark(r, "merge")
        if self.has_truth and "evaluate" not in rs["done"]:
            out = self.dir / f"round-{r}" / "evaluate.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            self._step(r, "evaluate", ["evaluate", self.project, "--json", str(out),
                                       "--views", self.views, "--repeats", str(_EVAL_REPEATS)])
            self._mark(r, "evaluate", evaluate_json=str(out), machine=_machine_errors(out))

    def _step(self, r: int, name: str, argv: list[str]) -> None:
        from annotator.cli.main import main

        print(f"bootstrap round {r}: annotator {' '.join(argv)}", flush=True)
        rc = main(argv)
        if rc != 0:
            raise CliError(f"round {r}: '{name}' failed (exit {rc}); fix the problem above "
                           "and run the same bootstrap command again to go on from there")

    def _labeler_runs(self) -> dict[str, bool]:
        """The ``models/labeler`` run folders of this config -> whether they hold a checkpoint."""
        from machine_labeler.checkpoint import CHECKPOINT_NAME, labeler_dir

        root = labeler_dir(self.models_dir)
        if not root.is_dir():
            return {}
        return {d.name: (d / CHECKPOINT_NAME).is_file() for d in root.iterdir()
                if d.is_dir() and d.name.endswith("-" + self.config)}

    def _train(self, r: int) -> None:
        import shutil

        from machine_labeler.checkpoint import CHECKPOINT_NAME, labeler_dir, newest_checkpoint

        a = self.args
        rs = self._round(r)
        labels = "human" if r == 0 else "human+machine"
        argv = ["train-labeler", self.project, "--config", self.config, "--labels", labels,
                "--device", a.device, "--workers", str(a.workers)]
        steps = a.round_steps if r > 0 and a.round_steps is not None else a.steps
        minutes = a.round_minutes if r > 0 and a.round_minutes is not None else a.max_minutes
        if steps is not None:
            argv += ["--steps", str(steps)]
        if minutes is not None:
            argv += ["--max-minutes", str(minutes)]
        if a.batch_size is not None:
            argv += ["--batch-size", str(a.batch_size)]
        if r > 0 and a.machine_weight is not None:
            argv += ["--machine-weight", str(a.machine_weight)]
        root = labeler_dir(self.models_dir)
        resume = None
        if "runs_before" in rs:  # this training started before: find its run folder
            new = {n: has for n, has in self._labeler_runs().items()
                   if n not in rs["runs_before"]}
            for name, has in new.items():
                if not has:  # killed before its first checkpoint: nothing to keep
                    shutil.rmtree(root / name, ignore_errors=True)
            with_ck = sorted((root / n / CHECKPOINT_NAME for n, h in new.items() if h),
                             key=lambda p: p.stat().st_mtime)
            if with_ck:
                resume = with_ck[-1]
                if newest_checkpoint(self.models_dir, self.config) != resume:
                    raise CliError(f"{resume}: round {r}'s interrupted training is no longer "
                                   "the newest checkpoint, so --resume would continue another "
                                   "run; move the newer runs out of models/labeler")
        if resume is not None:
            argv += ["--resume"]
        else:
            if r > 0:
                argv += ["--init-weights", self.state["rounds"][str(r - 1)]["checkpoint"]]
            rs["runs_before"] = sorted(self._labeler_runs())
            rs["labels"] = labels
            self._save()
        self._step(r, "train-labeler", argv)
        new = [n for n, has in self._labeler_runs().items()
               if has and n not in rs["runs_before"]]
        if not new:
            raise CliError(f"round {r}: train-labeler wrote no checkpoint under {root}")
        ckpt = max((root / n / CHECKPOINT_NAME for n in new), key=lambda p: p.stat().st_mtime)
        self._mark(r, "train", run_dir=str(ckpt.parent), checkpoint=str(ckpt),
                   **_training_record(ckpt))

    # -- reporting ---------------------------------------------------------------------
    def _round_line(self, r: int) -> str:
        rs = self._round(r)
        m = rs.get("machine")
        if m:
            errors = (f"machine median {_mm(m['median_mm'])}, mean {_mm(m['mean_mm'])}, "
                      f"two-hand median {_mm(m['interacting_median_mm'])}")
        else:
            errors = "no ground truth to evaluate against"
        sel = rs.get("selection")
        if sel:
            p = sel.get("precision_5mm")
            prec = "" if p is None else f", {100 * p:.1f} % within 5 mm"
            trained = (f"trained on {sel['kept']} of {sel['candidates']} machine joints"
                       f"{prec}")
        else:
            trained = "trained on the human labels"
        n = len(rs.get("labelled_with") or ())
        ens = f", labelled by {n} detectors together" if n > 1 else ""
        return (f"round {r} ({rs.get('labels', '?')}, {rs.get('steps', '?')} steps{ens}): "
                f"{errors}; {trained}")

    def summary(self) -> dict:
        rounds = []
        for r in range(self.args.rounds + 1):
            rs = self._round(r)
            rounds.append({
                "round": r,
                "labels": rs.get("labels"),
                "checkpoint": rs.get("checkpoint"),
                # the detectors that labelled this round (several: an ensemble)
                "labelled_with": rs.get("labelled_with"),
                "init_weights": rs.get("init_weights"),
                "steps": rs.get("steps"),
                "train_seconds": rs.get("train_seconds"),
                "stopped_by": rs.get("stopped_by"),
                "selection": rs.get("selection"),
                "machine": rs.get("machine"),
                "evaluate_json": rs.get("evaluate_json"),
            })  # fmt: skip
        return {"project": self.project, "config": self.config,
                "state": str(self.state_path), "rounds": rounds}


def _training_record(ckpt) -> dict:
    """What the round keeps of its training: steps, time, init and the machine selection."""
    from machine_labeler.checkpoint import load_checkpoint

    ck = load_checkpoint(ckpt)
    extra = ck.get("extra", {})
    return {"steps": int(ck["step"]), "train_seconds": extra.get("train_seconds"),
            "stopped_by": "time" if extra.get("stopped_by_time") else "steps",
            "init_weights": extra.get("init_weights"), "selection": extra.get("selection")}


def _machine_errors(path) -> dict:
    """The machine-label errors of one evaluate report (None where it has no number)."""
    import json

    m = json.loads(path.read_text())["machine"]
    return {
        "median_mm": m["median_mm"], "mean_mm": m["mean_mm"],
        "single_median_mm": m["single"]["median_mm"],
        "interacting_median_mm": m["interacting"]["median_mm"],
        "joints": m["joints"], "coverage": m["coverage"],
    }  # fmt: skip


def _mm(value) -> str:
    return "n/a" if value is None else f"{value:.2f} mm"
