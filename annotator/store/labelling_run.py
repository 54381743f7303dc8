"""Markers of machine-labelling processes at work: ``PROJECT/machine/running-<host>-<pid>.json``.

``annotator machine-label`` opens the project read-only (it writes only its own shards), so
the project lock does not show it. Each labelling process (each torchrun rank) writes a
marker when it starts and removes it when it ends, however it ends short of kill -9.
``annotator merge`` refuses while a live one exists (merging half-written shards would call
the run incomplete) and ``annotator status`` lists them.

A marker left by a killed process is stale when its host is this one and its pid is gone, or
now belongs to a process started at another time (pid reuse: the start time in
``/proc/<pid>/stat`` is recorded). A marker from another host cannot be checked from here;
it counts as running, and the message names the file to delete if that run is dead.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from annotator.store.atomic import atomic_write_bytes
from annotator.store.locking import _pid_alive

__all__ = ["RunningLabeller", "labelling_marker", "running_labellers"]

_PREFIX = "running-"


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:  # the command name (field 2) may hold spaces: count fields after its ')'
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


@dataclass(frozen=True)
class RunningLabeller:
    """One labelling process's marker: who and since when."""

    path: Path
    pid: int
    host: str
    since: float
    rank: int
    world_size: int

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        rank = f", rank {self.rank}/{self.world_size}" if self.world_size > 1 else ""
        return f"pid {self.pid} on {self.host}{rank}, since {when}"

    def is_stale(self) -> bool:
        """Dead for sure: this host, and the pid gone or reused (see the module notes)."""
        if self.host != socket.gethostname():
            return False
        if not _pid_alive(self.pid):
            return True
        recorded = _read(self.path).get("start_ticks")
        now = _start_ticks(self.pid)
        return recorded is not None and now is not None and recorded != now


def _read(path: Path) -> dict:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


@contextlib.contextmanager
def labelling_marker(machine_dir: Path, rank: int = 0, world_size: int = 1) -> Iterator[Path]:
    """Mark this process as labelling ``machine_dir`` for the ``with`` block."""
    host, pid = socket.gethostname(), os.getpid()
    machine_dir = Path(machine_dir)
    machine_dir.mkdir(parents=True, exist_ok=True)
    path = machine_dir / f"{_PREFIX}{host}-{pid}.json"
    body = {"pid": pid, "host": host, "since": time.time(), "rank": rank,
            "world_size": world_size, "start_ticks": _start_ticks(pid)}
    atomic_write_bytes(path, json.dumps(body).encode("utf-8"))
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def running_labellers(machine_dir: Path, remove_stale: bool = False) -> list[RunningLabeller]:
    """The labelling processes at work on ``machine_dir`` (stale markers skipped, and
    deleted when ``remove_stale``: a writer of the project may, a reader should not)."""
    found = []
    for path in sorted(Path(machine_dir).glob(f"{_PREFIX}*.json")):
        body = _read(path)
        try:
            run = RunningLabeller(path, int(body["pid"]), str(body["host"]),
                                  float(body["since"]), int(body.get("rank", 0)),
                                  int(body.get("world_size", 1)))
        except (KeyError, TypeError, ValueError):
            continue  # not a marker (or one being written): nothing to report
        if run.is_stale():
            if remove_stale:
                path.unlink(missing_ok=True)
            continue
        found.append(run)
    return found
