"""``write_capture`` when things go wrong: interrupted runs, failures, ``overwrite``."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from annotator.cli.main import main
from annotator.store import ProjectStore
from annotator.synth import StudioConfig, make_dome, write_capture

_TINY = StudioConfig(cameras=3, instants=3, subjects=1, seed=4)


def _fail_after_first(done: int, total: int) -> None:
    raise RuntimeError("disk full (simulated)")


@pytest.mark.parametrize("workers", [1, 2])
def test_failed_run_leaves_no_partial_project(tmp_path, workers):
    out = tmp_path / "capture"
    with pytest.raises(RuntimeError, match="simulated"):
        write_capture(out, _TINY, workers=workers, progress=_fail_after_first)
    assert list(tmp_path.iterdir()) == []  # no project, no staging folder left behind


def test_failed_overwrite_keeps_the_old_project(tmp_path):
    out = tmp_path / "capture"
    write_capture(out, _TINY)
    with pytest.raises(RuntimeError, match="simulated"):
        write_capture(out, StudioConfig(cameras=2, instants=2, subjects=1, seed=5),
                      overwrite=True, progress=_fail_after_first)
    assert [p.name for p in tmp_path.iterdir()] == ["capture"]
    with ProjectStore.open(out) as store:
        assert store.num_instants == 3 and len(store.camera_names) == 3
        assert all(p.is_file() for i in range(3) for p in store.image_paths(i))


def test_overwrite_leaves_no_stale_images_of_the_old_capture(tmp_path):
    out = tmp_path / "capture"
    write_capture(out, _TINY)
    write_capture(out, StudioConfig(cameras=2, instants=2, subjects=1, seed=5), overwrite=True)
    with ProjectStore.open(out) as store:
        expected = {p for i in range(2) for p in store.image_paths(i)}
    assert set((out / "images").rglob("*.jpg")) == expected


def test_overwrite_refuses_a_project_that_is_not_synthetic(tmp_path, capsys):
    human = tmp_path / "human"
    ProjectStore.create(human, rigs=make_dome(2)).close()
    marker = human / "notes.txt"
    marker.write_text("precious")
    with pytest.raises(ValueError, match="not a synthetic studio"):
        write_capture(human, _TINY, overwrite=True)
    assert marker.read_text() == "precious"
    assert main(["synth", str(human), "--cameras", "2", "--instants", "1", "--overwrite"]) == 2
    assert "not a synthetic studio" in capsys.readouterr().err
    with ProjectStore.open(human) as store:
        assert "synthetic_studio" not in store.metadata


def test_overwrite_refuses_a_synthetic_project_with_human_labels(tmp_path):
    out = tmp_path / "capture"
    write_capture(out, _TINY)
    with ProjectStore.open(out, mode="w") as store:
        store.set_click(0, store.camera_names[0], 0, (10.0, 20.0))
    with pytest.raises(ValueError, match="labels.h5"):
        write_capture(out, _TINY, overwrite=True)
    with ProjectStore.open(out) as store:
        assert store.labels(0).clicks_uv_px[0, 0].tolist() == [10.0, 20.0]


def test_synth_refuses_a_folder_that_holds_other_files(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"not really")
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="not empty"):
            write_capture(folder, _TINY, overwrite=overwrite)
    assert [p.name for p in folder.iterdir()] == ["holiday.jpg"]
def test_interrupted_run_stops_its_workers_and_leaves_nothing(tmp_path):
    # Ctrl-C reaches every process of the group: the workers are interrupted mid-task too.
    # The pool must be terminated, not joined (a join waits forever for the lost tasks).
    script = textwrap.dedent(
        """
        import multiprocessing as mp, os, signal, sys
        from annotator.synth import StudioConfig, write_capture

        def progress(done, total):
            for child in mp.active_children():
                os.kill(child.pid, signal.SIGINT)
            raise KeyboardInterrupt

        try:
            write_capture(sys.argv[1], StudioConfig(cameras=6, instants=8, subjects=1, seed=1),
                          workers=2, progress=progress)
        except KeyboardInterrupt:
            print("interrupted", sorted(os.listdir(os.path.dirname(sys.argv[1]))),
                  mp.active_children())
        """
    )
    out = tmp_path / "capture"
    run = subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "interrupted [] []"


def test_workers_start_after_opencv_threads_ran_in_the_parent(tmp_path):
    # Forked workers of a process whose OpenCV thread pool had run deadlocked in their
    # first cv2 call (the pool is now started with forkserver/spawn).
    script = textwrap.dedent(
        """
        import sys
        import cv2, numpy as np
        from annotator.synth import StudioConfig, write_capture

        cv2.setNumThreads(4)
        img = np.zeros((2000, 2000, 3), np.float32)
        for _ in range(5):
            img = cv2.GaussianBlur(img, (3, 3), 0.6)
        res = write_capture(sys.argv[1], StudioConfig(cameras=3, instants=4, subjects=1),
                            workers=2)
        print(res.images)
        """
    )
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path / "capture")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "12"
