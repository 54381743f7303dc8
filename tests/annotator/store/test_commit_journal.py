"""The journaled multi-file commit of save(): interrupted at each step, then reopened."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest

import atomic_files as atomic_write
from annotator import skeleton
from annotator.store import ProjectFormatError, ProjectLockedError, ProjectStore, atomic, locking
from annotator.store.atomic import COMMIT_NAME, remove_stale_temps
from annotator.store.labels import LABELS_NAME
from annotator.store.locking import ProjectLock
from tests.annotator.store.conftest import make_project, standard_paths

J = skeleton.NUM_JOINTS


class _Killed(BaseException):
    """Stands for the SIGKILL: nothing after it runs (BaseException, like a kill)."""


def _edit(store: ProjectStore, k: int) -> None:
    """Save k's edits: one new instant, its click and joint, metadata saves = k + 1."""
    paths = standard_paths(store.camera_names, "0", "s", [100 + k])
    (i,) = store.add_instants(["0"], ["s"], [100 + k], paths)
    store.set_click(int(i), 0, 0, (10.0 + k, 20.0), annotator="t")
    xyz = np.full((J, 3), np.nan)
    xyz[0] = [k, k, k]
    store.set_joints_3d(int(i), xyz, annotator="t")
    store.metadata["saves"] = k + 1


def _state(path) -> int:
    """Saves in the project; asserts frames, labels and project.toml agree on it."""
    with ProjectStore.open(path) as r:
        n = int(r.metadata.get("saves", 0))
        assert r.num_instants == 2 + n
        for k in range(n):
            lab = r.labels(2 + k)
            np.testing.assert_array_equal(lab.clicks_uv_px[0, 0], [10.0 + k, 20.0])
            np.testing.assert_array_equal(lab.joints_world_mm[0], [k, k, k])
        assert r.status().human_labelled == n
    return n


def _interrupted_save(store, monkeypatch, func: str, calls_before_kill: int) -> None:
    """save() with ``os.replace`` or ``fsync_dir`` "killing" the process at its given call."""
    owner = atomic.os if func == "replace" else atomic_write
    real = getattr(owner, func)
    calls = []

    def dying(*args):
        if len(calls) == calls_before_kill:
            raise _Killed
        calls.append(args)
        return real(*args)

    with monkeypatch.context() as m:
        m.setattr(owner, func, dying)
        with pytest.raises(_Killed):
            store.save()


@pytest.fixture
def saved_once(tmp_path):
    path = tmp_path / "p"
    store = make_project(path, n_instants=2, n_cameras=3)
    _edit(store, 0)
    store.save()
    _edit(store, 1)  # pending: changes frames.h5, labels.h5 and project.toml
    return path, store


# os.replace calls of a 3-file save: 0 the journal, 1 frames.h5, 2 labels.h5, 3 project.toml;
# fsync_dir calls: 0 after the journal, 1 after the renames.
@pytest.mark.parametrize("reader", [True, False])
@pytest.mark.parametrize(
    "func, n", [("replace", 1), ("replace", 2), ("replace", 3), ("fsync_dir", 1)]
)
def test_kill_after_the_journal_gives_the_new_state(saved_once, monkeypatch, reader, func, n):
    path, store = saved_once
    _interrupted_save(store, monkeypatch, func, n)
    assert (path / COMMIT_NAME).exists()
    assert not store.writable  # closed, lock released, journaled temporaries kept
    if reader:
        assert _state(path) == 2  # the reader completes the commit
    else:
        ProjectStore.open(path, "w").close()
        assert _state(path) == 2
    assert not (path / COMMIT_NAME).exists()
    assert not [p.name for p in path.iterdir() if ".tmp-" in p.name]


def test_kill_before_the_journal_keeps_the_old_state_and_the_edits(saved_once, monkeypatch):
    path, store = saved_once
    _interrupted_save(store, monkeypatch, "replace", 0)
    assert not (path / COMMIT_NAME).exists()
    assert _state(path) == 1
    assert store.dirty and store.writable
    store.save()  # the edits were kept: retrying succeeds
    store.close()
    assert _state(path) == 2
    assert not [p.name for p in path.iterdir() if ".tmp-" in p.name]


def test_reader_waits_for_the_live_writer_that_holds_the_lock(saved_once, monkeypatch):
    path, store = saved_once
    _interrupted_save(store, monkeypatch, "replace", 2)
    holder = ProjectLock(path)  # a live writer, mid-commit
    holder.acquire()
    result = {}

    def read():
        try:
            result["saves"] = _state(path)
        except BaseException as exc:  # reported below
            result["error"] = exc

    t = threading.Thread(target=read)
    t.start()
    atomic.recover_commit(path)  # the writer finishes its commit
    holder.release()
    t.join()
    assert "error" not in result, result.get("error")
    assert result["saves"] == 2


def test_reader_gives_up_on_a_writer_stuck_in_its_commit(saved_once, monkeypatch):
    path, store = saved_once
    _interrupted_save(store, monkeypatch, "replace", 1)
    monkeypatch.setattr(locking, "READER_WAIT_S", 0.05)
    holder = ProjectLock(path)
    holder.acquire()
    try:
        with pytest.raises(ProjectLockedError, match="still being committed"):
            ProjectStore.open(path)
    finally:
        holder.release()
    assert _state(path) == 2


def test_stale_temp_cleanup_spares_journaled_temporaries(saved_once, monkeypatch):
    path, store = saved_once
    _interrupted_save(store, monkeypatch, "replace", 1)  # journal written, no rename yet
    journaled = {e["temp"] for e in json.loads((path / COMMIT_NAME).read_text())["renames"]}
    stale = path / f".{LABELS_NAME}.tmp-1-dead"
    stale.write_bytes(b"left by a killed writer before its journal")
    assert remove_stale_temps(path, LABELS_NAME) == 1
    assert not stale.exists()
    left = {p.name for p in path.iterdir() if ".tmp-" in p.name}
    assert left == journaled and len(journaled) == 3
    ProjectStore.open(path, "w").close()
    assert _state(path) == 2


@pytest.mark.parametrize(
    "journal, problem",
    [
        (b"{not json", "malformed commit journal"),
        (b'{"version": 7, "renames": []}', "not a version-1 commit journal"),
        (b'{"version": 1, "renames": [{"temp": ".x.tmp-1", "target": "../x"}]}', "not a file"),
        (b'{"version": 1, "renames": [{"temp": ".a.tmp-1", "target": "labels.h5"}]}',
         "not a temporary of"),
        (b'{"version": 1, "renames": [{"temp": ".gone.tmp-1", "target": "gone"}]}',
         "neither"),
    ],
)
@pytest.mark.parametrize("mode", ["r", "w"])
def test_nonsense_journal_is_a_clear_error(tmp_path, journal, problem, mode):
    path = tmp_path / "p"
    make_project(path, n_instants=2, n_cameras=3).close()
    (path / COMMIT_NAME).write_bytes(journal)
    with pytest.raises(ProjectFormatError, match=problem) as err:
        ProjectStore.open(path, mode)
    assert COMMIT_NAME in str(err.value)
    stale = path / f".{LABELS_NAME}.tmp-1-dead"
    stale.write_bytes(b"x")
    unreadable = problem != "neither"  # that one parses, it just cannot be completed
    assert remove_stale_temps(path, LABELS_NAME) == (0 if unreadable else 1)
    assert stale.exists() == unreadable  # an unreadable journal: delete nothing
    assert not ProjectLock(path).held  # the failed open left the lock free
    lock = ProjectLock(path)
    lock.acquire()
    lock.release()


def test_single_file_save_writes_no_journal(tmp_path, monkeypatch):
    path = tmp_path / "p"
    store = make_project(path, n_instants=2, n_cameras=3)
    store.metadata["only"] = 1
    seen = []
    real = os.replace
    with monkeypatch.context() as m:
        m.setattr(atomic.os, "replace", lambda s, d: (seen.append(os.path.basename(d)), real(s, d)))
        store.save()
    store.close()
    assert seen == ["project.toml"]
