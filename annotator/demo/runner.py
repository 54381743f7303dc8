"""Run the demo's stages in order, each as the ``annotator`` command a user would type.

Every stage runs in its own process (``python -m annotator.cli.main ...``): the command in the
report is literally what ran, torch's thread pools and memory die with each stage, and a
crash in one stage cannot corrupt the runner. Resuming is by markers in ``OUT/.demo/``:

- ``<stage>.started`` is written before a stage starts, ``<stage>.done`` (with its wall time
  and command) only after it exits with status 0;
- a rerun skips every stage with a ``.done`` marker, and a stage that was started but never
  finished (killed, crashed, failed) runs again with its ``resume_argv`` (``--resume`` for
  training, ``--overwrite`` for a half-rendered capture).

Children get ``PR_SET_PDEATHSIG`` on Linux, so a ``kill -9`` of the demo also ends the stage it
was running; the project's write lock is a flock the kernel releases with it.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from annotator.demo.plan import SIZES, DemoSize, Stage

__all__ = [
    "DemoStageError",
    "StageRecord",
    "run_stages",
    "read_records",
    "check_size",
    "state_dir",
    "annotator_argv",
    "size_of",
    "steps_logged",
]

logger = logging.getLogger(__name__)


class DemoStageError(RuntimeError):
    """A stage's command failed; rerunning the demo resumes at that stage."""

    def __init__(self, stage: Stage, returncode: int, log_path: Path | None):
        self.stage, self.returncode, self.log_path = stage, returncode, log_path
        where = f"; its output is in {log_path}" if log_path else ""
        super().__init__(
            f"stage {stage.name!r} failed (exit status {returncode}): {stage.command}{where}"
        )


@dataclass(frozen=True)
class StageRecord:
    """What the ``.done`` marker of a stage holds."""

    name: str
    command: str
    seconds: float  # wall time of the successful attempt
    attempts: int  # 1 + the interrupted or failed attempts before it
    finished: float  # unix time
    items: int
    unit: str
    cpu_seconds: float | None = None  # user + system CPU time of the stage's processes
    load_average: float | None = None  # the machine's 1-min load average at the stage's end


def state_dir(out: Path) -> Path:
    return Path(out) / ".demo"


def _marker(out: Path, stage: str, kind: str) -> Path:
    return state_dir(out) / f"{stage}.{kind}"


def check_size(out: Path, size: DemoSize) -> None:
    """Record the size of a new demo folder; refuse to resume one made at another size."""
    path = state_dir(out) / "size.json"
    if path.exists():
        try:
            recorded = json.loads(path.read_text())["name"]
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{path}: unreadable demo state ({exc}); remove {out}") from None
        if recorded != size.name:
            flag = {"quick": "--quick", "full": "(no --quick)"}.get(recorded, f"--size {recorded}")
            raise ValueError(
                f"{out}: holds a {recorded!r} demo; resume it with {flag} or choose a new folder"
            )
        return
    if Path(out).exists() and any(p.name != ".demo" for p in Path(out).iterdir()):
        raise ValueError(f"{out}: folder is not empty and holds no demo; choose a new folder")
    state_dir(out).mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(size)))


def read_records(out: Path) -> dict[str, StageRecord]:
    """The finished stages of the demo in ``out``, by name."""
    records = {}
    for path in sorted(state_dir(out).glob("*.done")):
        data = json.loads(path.read_text())
        records[data["name"]] = StageRecord(**data)
    return records


#: What the ``annotator`` console script does (``python -m annotator.cli.main`` would load the
#: module twice, as ``__main__`` and by name, and its CliError would not be caught).
_ENTRY = "import sys; from annotator.cli.main import main; sys.exit(main(sys.argv[1:]))"


def _set_pdeathsig() -> None:  # pragma: no cover - runs in the child
    """Linux: the child gets SIGKILL when the demo process dies (even by kill -9)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except Exception:
        pass


def annotator_argv(argv: Sequence[str]) -> list[str]:
    """The process argv that runs ``annotator *argv`` with this Python."""
    return [sys.executable, "-c", _ENTRY, *argv]


def _command(stage: Stage, resuming: bool) -> list[str]:
    return annotator_argv([*stage.argv, *(stage.resume_argv if resuming else ())])


def _run_one(cmd: list[str], log_path: Path, tee: bool, on_start: Callable[[int], None]) -> int:
    """Run one stage's process; returns its exit status. ``on_start(pid)`` once it runs."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    preexec = _set_pdeathsig if sys.platform.startswith("linux") else None
    with log_path.open("w") as log:
        if not tee:
            # Straight to the terminal: the stage's own tqdm bars show as for a user.
            log.write("(output went to the terminal)\n")
            log.flush()
            with subprocess.Popen(cmd, env=env, preexec_fn=preexec) as proc:
                on_start(proc.pid)
                return proc.wait()
        with subprocess.Popen(
            cmd, env=env, preexec_fn=preexec, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, errors="replace",
        ) as proc:
            on_start(proc.pid)
            for line in proc.stdout or ():
                log.write(line)
                log.flush()
                sys.stdout.write("    " + line)
                sys.stdout.flush()
            return proc.wait()


def _newest_records(out: Path, pattern: str) -> list[dict]:
    """The JSON records of the most recently modified file matching ``pattern`` under
    ``out`` (a metrics.jsonl); unreadable lines, such as a killed run's torn last line, are
    left out. [] when no file matches."""
    files = sorted(Path(out).glob(pattern), key=lambda p: p.stat().st_mtime)
    if not files:
        return []
    rows = []
    for line in files[-1].read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def steps_logged(out: Path, pattern: str) -> int | None:
    """The last step a training logged in the newest metrics.jsonl matching ``pattern``
    (relative to ``out``); None when there is none (or nothing readable in it)."""
    steps = [r["step"] for r in _newest_records(out, pattern) if isinstance(r.get("step"), int)]
    return max(steps) if steps else None


def training_end(out: Path, pattern: str) -> dict | None:
    """The end record (``{"end": true, "step", "seconds", "stopped_by"}``) of the newest
    metrics.jsonl matching ``pattern`` (relative to ``out``); None when the run has none (a
    killed run, or one written before such records)."""
    ends = [r for r in _newest_records(out, pattern) if r.get("end") is True]
    return ends[-1] if ends else None


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # pragma: no cover - not Unix
        return None


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished children (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _clean_partial(out: Path, stage: Stage) -> None:
    """Remove what an interrupted attempt of ``stage`` left behind that its rerun can't use."""
    if stage.name == "synth":
        # the synthetic studio builds in a hidden sibling folder; a killed run leaves it
        for staging in Path(out).glob(".project.synth-*"):
            shutil.rmtree(staging, ignore_errors=True)


def run_stages(
    out: Path,
    stages: Sequence[Stage],
    *,
    say: Callable[[str], None] = lambda line: None,
    tee: bool | None = None,
    in_process: dict[str, Callable[[], None]] | None = None,
) -> dict[str, StageRecord]:
    """Run every stage of ``stages`` not yet done in ``out``, in order.

    Args:
        out: the demo folder (its ``.demo/`` holds the markers and logs).
        stages: from :func:`annotator.demo.plan.build_plan`.
        say: where progress lines go (the CLI passes ``print``).
        tee: copy each stage's output into its log *and* stdout through a pipe (default: when
            stdout is not a terminal; on a terminal the output goes straight there).
        in_process: stage name -> function run in this process instead of a command (the
            report, which is the demo's own).

    Returns:
        the records of all finished stages. Raises DemoStageError when a stage fails.
    """
    out = Path(out)
    state = state_dir(out)
    (state / "logs").mkdir(parents=True, exist_ok=True)
    tee = (not sys.stdout.isatty()) if tee is None else tee
    in_process = in_process or {}
    records = read_records(out)
    for n, stage in enumerate(stages, 1):
        head = f"[{n}/{len(stages)}] {stage.name}"
        if stage.name in records:
            say(f"{head}: done before ({records[stage.name].seconds:.0f} s), skipped")
            continue
        started = _marker(out, stage.name, "started")
        attempts = 1
        resuming = False
        if started.exists():
            attempts = json.loads(started.read_text()).get("attempts", 1) + 1
            _clean_partial(out, stage)
            resuming = bool(stage.resume_argv) and (
                not stage.resume_if or any(out.glob(stage.resume_if)))
        begun = {"attempts": attempts, "time": time.time()}
        started.write_text(json.dumps(begun))
        cmd = _command(stage, resuming)
        shown = " ".join([stage.command, *(stage.resume_argv if resuming else ())])
        again = f" (attempt {attempts}{', resuming' if resuming else ''})" if attempts > 1 else ""
        say(f"{head}: {stage.title}{again}")
        log_path = state / "logs" / f"{stage.name}.log"
        t0, cpu0 = time.perf_counter(), _children_cpu()
        if stage.name in in_process:
            in_process[stage.name]()
        else:
            say(f"    $ {shown}")
            def note_pid(pid: int, started=started, begun=begun) -> None:
                started.write_text(json.dumps({**begun, "pid": pid}))  # for diagnostics

            code = _run_one(cmd, log_path, tee, note_pid)
            if code != 0:
                raise DemoStageError(stage, code, log_path if tee else None)
        seconds = time.perf_counter() - t0
        counted = stage.cpu_counted and stage.name not in in_process
        cpu = _children_cpu() - cpu0 if counted else None
        items = stage.items
        if stage.steps_from:  # a time budget may have ended the training before its steps
            items = steps_logged(out, stage.steps_from) or items
        record = StageRecord(stage.name, stage.command, seconds, attempts, time.time(),
                             items, stage.unit, cpu, _load_average())
        _marker(out, stage.name, "done").write_text(json.dumps(asdict(record)))
        records[stage.name] = record
        rate = f", {items / seconds:.1f} {stage.unit}s/s" if items else ""
        cpu_note = f", {cpu:.0f} CPU-s" if cpu is not None else ""
        say(f"    done in {seconds:.1f} s{cpu_note}{rate}")
    return records


def size_of(out: Path) -> DemoSize | None:
    """The size a demo folder was made at (None for a folder that holds no demo)."""
    path = state_dir(out) / "size.json"
    if not path.exists():
        return None
    return SIZES.get(json.loads(path.read_text())["name"])
