"""machine-label under real torchrun processes (gloo, CPU): same labels as one process; a
rank SIGKILLed mid-run and a rerun leave no instant missing or duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from annotator.machine_labels.merge import merge_machine_labels
from annotator.store import ProjectStore
from annotator.store.machine_shards import read_shard, shard_paths
from tests.machine_labeler.labeling_support import (
    copy_project,
    make_detector_checkpoint,
    make_synth,
)

pytestmark = pytest.mark.slow

ARGS = [
    "--threshold-px",
    "1000",
    "--coarse-threshold-px",
    "1000",
    "--batch-size",
    "12",
    "--workers",
    "0",
    "--flush-every",
    "1",
]


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _torchrun(project: Path, nproc: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "annotator.cli.main",
        "machine-label",
        str(project),
        *ARGS,
        *extra,
    ]


def _merged(project: Path) -> dict[str, np.ndarray]:
    with ProjectStore.open(project, "w") as store:
        merge_machine_labels(store)
    with ProjectStore.open(project) as store:
        labs = [store.labels(i) for i in range(store.num_instants)]
        return {
            "joints": np.stack([lab.joints_world_mm for lab in labs]),
            "source": np.stack([lab.joint_source for lab in labs]),
            "hands": np.stack([lab.hand_present for lab in labs]),
            "flags": [sorted(lab.flags) for lab in labs],
        }


def _assert_same(a: dict, b: dict) -> None:
    np.testing.assert_array_equal(np.isnan(a["joints"]), np.isnan(b["joints"]))
    np.testing.assert_allclose(a["joints"], b["joints"], atol=1e-3)  # mm
    np.testing.assert_array_equal(a["source"], b["source"])
    np.testing.assert_array_equal(a["hands"], b["hands"])
    assert a["flags"] == b["flags"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A tiny project labelled by one process, and its merged labels."""
    root = tmp_path_factory.mktemp("torchrun")
    src = make_synth(root / "src", cameras=12, instants=6, subjects=1)
    make_detector_checkpoint(src)
    ref = copy_project(src, root / "ref")
    subprocess.run(
        [sys.executable, "-m", "annotator.cli.main", "machine-label", str(ref), *ARGS],
        check=True,
        env=_env(),
        timeout=300,
    )
    merged = _merged(ref)
    assert (merged["source"] == "machine").sum() > 100  # real numbers flow through
    return src, merged


def test_two_ranks_give_the_same_labels_as_one(reference, tmp_path):
    src, ref = reference
    project = copy_project(src, tmp_path / "p")
    out = subprocess.run(
        _torchrun(project, 2), env=_env(), timeout=300, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    shards = shard_paths(project / "machine")
    ranks = {int(p.name[6:11]) % 2 for p in shards}
    assert ranks == {0, 1}  # both ranks wrote shards
    _assert_same(_merged(project), ref)


def _rank_pid(parent: int, rank: int) -> int | None:
    """The pid of torchrun worker ``rank`` (a child of ``parent``) from /proc."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            env = (d / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and f"RANK={rank}".encode() in env:
            return int(d.name)
    return None


def test_killed_rank_then_rerun_leaves_nothing_missing_or_twice(reference, tmp_path):
    src, ref = reference
    project = copy_project(src, tmp_path / "p")
    # groups in turn: with the pipeline's 6 groups in flight, rank 1's 3 instants finish
    # within moments of each other, and the kill would often come after the last
    proc = subprocess.Popen(
        _torchrun(project, 2, "--pipeline-depth", "1"), env=_env(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 240
        victim = None
        while time.monotonic() < deadline and proc.poll() is None:
            odd = [p for p in shard_paths(project / "machine") if int(p.name[6:11]) % 2]
            if odd:  # rank 1 flushed its first instant: kill it mid-run
                victim = _rank_pid(proc.pid, 1)
                if victim is not None:
                    os.kill(victim, signal.SIGKILL)
                    break
            time.sleep(0.05)
        assert victim is not None, "rank 1 never started writing"
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc != 0  # torchrun reports the dead rank
    with ProjectStore.open(project) as store:
        done = np.concatenate([read_shard(p).instants for p in shard_paths(store.machine_dir)])
        assert len(done) < store.num_instants  # the kill really left work undone
    rerun = subprocess.run(
        _torchrun(project, 2), env=_env(), timeout=300, capture_output=True, text=True
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    all_done = np.concatenate([read_shard(p).instants for p in shard_paths(project / "machine")])
    assert sorted(all_done.tolist()) == list(range(6))  # each instant exactly once
    _assert_same(_merged(project), ref)
