"""Machine-labelling shard files: round trip, roll-over, numbering, crash safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from annotator.store.errors import ProjectFormatError
from annotator.store.machine_shards import (
    QUALITY_BONE_LENGTH,
    QUALITY_FEW_INLIERS,
    BadImage,
    ShardRecords,
    ShardWriter,
    completed_instants,
    quality_reason,
    read_manifest,
    read_shard,
    shard_paths,
    write_manifest,
)

CAMS = ["a", "b", "c"]
J = 42


def _records(instants, seed=0) -> ShardRecords:
    rng = np.random.default_rng(seed)
    n = len(instants)
    return ShardRecords(
        instants=np.asarray(instants, np.int64),
        uv_px=rng.normal(100, 10, (n, len(CAMS), J, 2)),
        confidence=rng.random((n, len(CAMS), J)),
        joints_world_mm=rng.normal(0, 100, (n, J, 3)),
        inliers=rng.integers(0, 4, (n, J)),
        reproj_error_px=rng.random((n, J)),
        quality=rng.integers(0, 16, (n, J)),
        hand_present=rng.integers(-1, 2, (n, 2)),
        bad_images=tuple(BadImage(int(i), 1, "corrupt JPEG") for i in instants[:1]),
    )


def test_round_trip_and_roll_over(tmp_path):
    w = ShardWriter(tmp_path, 0, 1, CAMS, J, meta={"model": "m.pt"}, max_instants_per_file=4)
    rec = _records(list(range(10)))
    w.add(rec)
    w.close()
    paths = shard_paths(tmp_path)
    assert [p.name for p in paths] == ["shard-00000.h5", "shard-00001.h5", "shard-00002.h5"]
    back = [read_shard(p, CAMS) for p in paths]
    assert [len(b) for b in back] == [4, 4, 2]
    got = np.concatenate([b.instants for b in back])
    np.testing.assert_array_equal(got, np.arange(10))
    uv = np.concatenate([b.uv_px for b in back])
    np.testing.assert_allclose(uv, rec.uv_px.astype(np.float32))
    np.testing.assert_array_equal(np.concatenate([b.quality for b in back]), rec.quality)
    np.testing.assert_array_equal(
        np.concatenate([b.joints_world_mm for b in back]), rec.joints_world_mm
    )
    assert back[0].bad_images == (BadImage(0, 1, "corrupt JPEG"),)
    assert back[0].meta == {"model": "m.pt"}
    np.testing.assert_array_equal(completed_instants(tmp_path), np.arange(10))


def test_flush_rewrites_current_file(tmp_path):
    w = ShardWriter(tmp_path, 0, 1, CAMS, J, max_instants_per_file=100)
    w.add(_records([5, 6]))
    w.flush()
    w.add(_records([9], seed=1))
    w.flush()
    assert [p.name for p in shard_paths(tmp_path)] == ["shard-00000.h5"]
    np.testing.assert_array_equal(read_shard(shard_paths(tmp_path)[0]).instants, [5, 6, 9])


def test_numbers_follow_rank_and_never_reuse(tmp_path):
    writers = [ShardWriter(tmp_path, r, 3, CAMS, J, max_instants_per_file=1) for r in range(3)]
    for r, w in enumerate(writers):
        w.add(_records([10 * r, 10 * r + 1]))
        w.close()
    names = sorted(p.name for p in shard_paths(tmp_path))
    assert names == [f"shard-0000{n}.h5" for n in range(6)]
    # a rerun (any world size) starts above every existing number
    w = ShardWriter(tmp_path, 1, 2, CAMS, J)
    w.add(_records([99]))
    w.close()
    assert shard_paths(tmp_path)[-1].name == "shard-00007.h5"


def test_bad_input(tmp_path):
    w = ShardWriter(tmp_path, 0, 1, CAMS, J)
    with pytest.raises(ValueError, match="uv_px must have shape"):
        w.add(ShardRecords(**{**_records([1]).__dict__, "uv_px": np.zeros((1, 2, J, 2))}))
    with pytest.raises(ValueError, match="twice"):
        w.add(_records([1, 1]))
    with pytest.raises(ValueError, match="rank"):
        ShardWriter(tmp_path, 2, 2, CAMS, J)
    w.add(_records([3]))
    w.close()
    with pytest.raises(ProjectFormatError, match="cameras"):
        read_shard(shard_paths(tmp_path)[0], ["a", "b", "x"])
    (tmp_path / "shard-00009.h5").write_bytes(b"not hdf5")
    with pytest.raises(ProjectFormatError, match="shard-00009.h5"):
        read_shard(tmp_path / "shard-00009.h5")


def test_quality_reason_text():
    assert quality_reason(0) is None
    text = quality_reason(QUALITY_FEW_INLIERS | QUALITY_BONE_LENGTH)
    assert text.startswith("machine: ") and "inlier" in text and "bone" in text


def test_manifest(tmp_path):
    assert read_manifest(tmp_path) is None
    write_manifest(tmp_path, np.array([3, 1, 2]), {"model": "x"})
    inst, meta = read_manifest(tmp_path)
    np.testing.assert_array_equal(inst, [3, 1, 2])
    assert meta == {"model": "x"}
    (tmp_path / "run.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ProjectFormatError, match="run.json"):
        read_manifest(tmp_path)


_WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    sys.path.insert(0, {tests!r})
    from machine_labeler_shards_child import run
    run({dir!r})
    """
)


def test_killed_writer_keeps_flushed_instants(tmp_path):
    """SIGKILL a real writer process while it flushes: every shard left is readable and
    holds exactly the instants flushed before it (at most the unflushed ones are lost)."""
    child = tmp_path / "machine_labeler_shards_child.py"
    child.write_text(
        textwrap.dedent(
            f"""
        import os, sys, numpy as np
        from annotator.store.machine_shards import ShardRecords, ShardWriter
        J = {J}
        def run(d):
            w = ShardWriter(d, 0, 1, {CAMS!r}, J, max_instants_per_file=50)
            rng = np.random.default_rng(0)
            for i in range(100000):
                rec = ShardRecords(
                    instants=np.array([i]), uv_px=rng.random((1, 3, J, 2)),
                    confidence=rng.random((1, 3, J)), joints_world_mm=np.full((1, J, 3), i),
                    inliers=np.zeros((1, J)), reproj_error_px=np.zeros((1, J)),
                    quality=np.zeros((1, J)), hand_present=np.zeros((1, 2)))
                w.add(rec)
                w.flush()
                with open(os.path.join(d, "flushed.tmp"), "w") as f:
                    f.write(str(i))
                os.replace(os.path.join(d, "flushed.tmp"), os.path.join(d, "flushed.txt"))
        """
        )
    )
    sizes = []
    for target, delay in ((2, 0.0), (7, 0.013), (15, 0.029)):
        out = tmp_path / f"m{target}"
        out.mkdir()
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER.format(tests=str(tmp_path), dir=str(out))]
        )
        marker = out / "flushed.txt"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:  # wait until the writer is well into its run, then kill it mid-flush
                if int(marker.read_text() or -1) >= target:
                    break
            except (FileNotFoundError, ValueError):
                pass
            time.sleep(0.01)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        flushed = int(marker.read_text())
        done = completed_instants(out)
        # contiguous from 0; the instant being flushed at the kill may or may not be there
        np.testing.assert_array_equal(done, np.arange(done.size))
        assert flushed + 1 <= done.size <= flushed + 2
        sizes.append(done.size)
        for p in shard_paths(out):
            rec = read_shard(p)
            np.testing.assert_array_equal(rec.joints_world_mm[:, 0, 0], rec.instants)
    assert max(sizes) > 0
