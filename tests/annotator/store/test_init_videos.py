"""``annotator init --videos``: a project from one video per camera, and its bad inputs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from annotator.cli.main import main
from annotator.images import read_image_bgr
from annotator.store import ProjectStore
from annotator.video import VideoFrame, VideoWriter, close_video_readers

pytest.importorskip("av")
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """The same synthetic capture written as JPEG images and as H.264 videos."""
    from annotator.synth.studio import StudioConfig
    from annotator.synth.writer import write_capture

    root = tmp_path_factory.mktemp("videos")
    config = StudioConfig(cameras=4, instants=8, subjects=1, seed=5)
    write_capture(root / "img", config, workers=1)
    write_capture(root / "vid", config, workers=1, video="h264")
    yield root / "img", root / "vid"
    close_video_readers()


def _init(*args) -> int:
    return main(["init", *map(str, args)])


def test_synth_video_project_matches_the_image_project(pair):
    img, vid = pair
    with ProjectStore.open(img) as a, ProjectStore.open(vid) as b:
        assert b.is_video_project and not a.is_video_project
        assert a.num_instants == b.num_instants and a.camera_names == b.camera_names
        assert np.array_equal(b.instant_attr("subject"), a.instant_attr("subject"))
        for i in range(a.num_instants):
            ga, gb = a.ground_truth(i), b.ground_truth(i)
            assert np.array_equal(ga.joints_world_mm, gb.joints_world_mm, equal_nan=True)
            assert np.array_equal(ga.visible, gb.visible)
        errs = []
        for i in (0, 3, 7):
            for pa, pb in zip(a.image_paths(i), b.image_paths(i), strict=True):
                assert isinstance(pb, VideoFrame) and pb.index == i
                x, y = read_image_bgr(pa).astype(int), read_image_bgr(pb).astype(int)
                errs.append(np.abs(x - y).mean())
        # two lossy codecs of one rendering: a few grey levels apart, not another picture
        assert max(errs) < 6.0


def test_init_videos_rebuilds_the_synth_video_project(pair, tmp_path, capsys):
    _, vid = pair
    out = tmp_path / "p"
    assert _init(out, "--videos", vid / "videos", "--calibration", vid / "cameras.toml") == 0
    assert "8 instants, 4 cameras, 32 frames of videos" in capsys.readouterr().out
    assert main(["status", str(out)]) == 0
    assert "source: 4 videos (h264) in" in capsys.readouterr().out
    with ProjectStore.open(out) as p, ProjectStore.open(vid) as q:
        assert p.num_instants == q.num_instants and p.camera_names == q.camera_names
        assert p.instants().frame.tolist() == q.instants().frame.tolist()
        assert p.image_root == (vid / "videos").resolve() or p.image_root.resolve() == (
            vid / "videos").resolve()
        for i in (1, 6):
            for x, y in zip(p.image_paths(i), q.image_paths(i), strict=True):
                assert (x.video.resolve(), x.index, x.pts) == (y.video.resolve(), y.index, y.pts)


def test_every_frames_and_offsets_choose_the_frames(pair, tmp_path):
    _, vid = pair
    cal = vid / "cameras.toml"
    with ProjectStore.open(vid) as q:
        cams = q.camera_names
        ref = {c: [read_image_bgr(q.image_paths(i)[k]) for i in range(8)]
               for k, c in enumerate(cams)}
    assert _init(tmp_path / "e", "--videos", vid / "videos", "--calibration", cal,
                 "--every", "3") == 0
    with ProjectStore.open(tmp_path / "e") as p:
        assert p.instants().frame.tolist() == [0, 3, 6]
    offsets = tmp_path / "offsets.toml"
    offsets.write_text(f'"{cams[1]}" = 2\n"{cams[2]}" = -1\n')
    assert _init(tmp_path / "o", "--videos", vid / "videos", "--calibration", cal,
                 "--offsets", offsets) == 0
    with ProjectStore.open(tmp_path / "o") as p:
        frames = p.instants().frame.tolist()
        assert frames == list(range(1, 6))  # f - 1 >= 0 and f + 2 < 8
        i = frames.index(3)
        paths = p.image_paths(i)
        assert [x.index for x in paths] == [3, 5, 2, 3]
        assert np.array_equal(read_image_bgr(paths[1]), ref[cams[1]][5])
    listed = tmp_path / "frames.txt"
    listed.write_text("# frame sequence\n1 grasp\n4 grasp\n2, point\n")
    assert _init(tmp_path / "f", "--videos", vid / "videos", "--calibration", cal,
                 "--frames", listed) == 0
    with ProjectStore.open(tmp_path / "f") as p:
        t = p.instants()
        assert sorted(zip(t.sequence.tolist(), t.frame.tolist(), strict=True)) == [
            ("grasp", 1), ("grasp", 4), ("point", 2)]


def _one_line_error(capsys, args, *needles):
    rc = _init(*args)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    return err


def test_bad_inputs_are_one_line_errors_and_make_nothing(pair, tmp_path, capsys):
    _, vid = pair
    cal = vid / "cameras.toml"
    with ProjectStore.open(vid) as q:
        cams = q.camera_names
    folder = tmp_path / "videos"
    shutil.copytree(vid / "videos", folder)
    out = tmp_path / "p"
    # a camera without its video, and a video of no calibrated camera
    (folder / f"{cams[0]}.mp4").rename(folder / "999999.mp4")
    _one_line_error(capsys, [out, "--videos", folder, "--calibration", cal],
                    f"no video for camera(s) {cams[0]}", "999999 not in the calibration")
    (folder / "999999.mp4").rename(folder / f"{cams[0]}.mp4")
    # a video of another size than its camera
    small = folder / f"{cams[1]}.mp4"
    with VideoWriter(small, (64, 48)) as w:
        for _ in range(8):
            w.write(np.zeros((48, 64, 3), np.uint8))
    close_video_readers()
    _one_line_error(capsys, [out, "--videos", folder, "--calibration", cal],
                    f"{small}: video is 64x48, camera {cams[1]} is 512x")
    shutil.copy(vid / "videos" / f"{cams[1]}.mp4", small)
    # a file that is not a video
    (folder / f"{cams[2]}.mp4").write_bytes(b"garbage" * 99)
    _one_line_error(capsys, [out, "--videos", folder, "--calibration", cal],
                    f"{cams[2]}.mp4: cannot open the video")
    shutil.copy(vid / "videos" / f"{cams[2]}.mp4", folder / f"{cams[2]}.mp4")
    # instants the videos are too short for
    listed = tmp_path / "frames.txt"
    listed.write_text("2\n8\n")
    _one_line_error(capsys, [out, "--videos", folder, "--calibration", cal, "--frames", listed],
                    "has 8 frames; frame 8")
    offsets = tmp_path / "offsets.toml"
    offsets.write_text('"nocam" = 1\n')
    _one_line_error(capsys, [out, "--videos", folder, "--calibration", cal,
                             "--offsets", offsets], "nocam")
    _one_line_error(capsys, [out, "--videos", folder, "--calibration", cal,
                             "--pattern", "{camera}.mkv"], "no video matches")
    _one_line_error(capsys, [out, "--videos", folder, "--calibration", cal,
                             "--pattern", "video.mp4"], "{camera}")
    _one_line_error(capsys, [out, "--images", folder, "--calibration", cal, "--every", "2"],
                    "only apply to --videos")
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".p.init")]
    # and a project already there is kept without --overwrite
    assert _init(out, "--videos", folder, "--calibration", cal) == 0
    _one_line_error(capsys, [out, "--videos", folder, "--calibration", cal], "already holds")
    with ProjectStore.open(out) as p:
        assert p.num_instants == 8


_KILLED_CHILD = textwrap.dedent("""
    import os, signal, sys
    from annotator.store import store_instants
    from annotator.cli.main import main

    real = store_instants.InstantsMixin.set_image_attr

    def killed(self, *a, **k):  # the index rows are written, the project is not complete
        real(self, *a, **k)
        os.kill(os.getpid(), signal.SIGKILL)

    store_instants.InstantsMixin.set_image_attr = killed
    sys.exit(main(sys.argv[1:]))
""")


def test_kill_9_during_init_leaves_no_project_and_the_next_init_cleans_up(pair, tmp_path):
    _, vid = pair
    out = tmp_path / "p"
    args = ["init", str(out), "--videos", str(vid / "videos"), "--calibration",
            str(vid / "cameras.toml")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.run([sys.executable, "-c", _KILLED_CHILD, *args], env=env,
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL
    assert not out.exists()
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".p.init-")]
    assert len(left) == 1 and (left[0] / "frames.h5").exists()  # the half-made one
    time.sleep(0.01)
    done = subprocess.run([sys.executable, "-m", "annotator.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "half-made project left by an interrupted init" in done.stdout
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".p.init-")]
    with ProjectStore.open(out) as p:
        assert p.num_instants == 8
