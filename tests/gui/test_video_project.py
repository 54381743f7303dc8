"""The app on a project read from videos: the six views are decoded frames, instants switch,
and a missing video is a placeholder that names it."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt5.QtCore import Qt

from annotator.images import read_image_bgr
from annotator.video import VideoFrame, close_video_readers

pytest.importorskip("av")


@pytest.fixture(scope="module")
def video_master(tmp_path_factory):
    from annotator.synth.studio import StudioConfig
    from annotator.synth.writer import write_capture

    out = tmp_path_factory.mktemp("gui_video") / "proj"
    write_capture(out, StudioConfig(cameras=8, instants=3, subjects=1, seed=3), workers=1,
                  video="h264")
    yield out
    close_video_readers()


@pytest.fixture
def video_project(video_master, tmp_path):
    import shutil

    dst = tmp_path / "proj"
    shutil.copytree(video_master, dst)
    return dst


def test_panels_show_the_frames_and_follow_the_instant(open_window, video_project, qtbot):
    win = open_window(video_project)
    for step in range(3):
        i = win.session.instant
        assert i == step
        paths = win.store.image_paths(i)
        for p in win.panels:
            img = p._image
            assert isinstance(img.path, VideoFrame) and img.path.index == i
            assert img.bgr is not None
            want = read_image_bgr(paths[win.store.camera_index(p.camera)])
            assert np.array_equal(img.bgr, want)
        qtbot.keyClick(win, Qt.Key_D)
    assert not win.grab().isNull()


def test_a_missing_video_is_a_placeholder_naming_it(open_window, video_project):
    close_video_readers()
    gone = sorted((video_project / "videos").glob("*.mp4"))
    for v in gone:
        v.unlink()
    win = open_window(video_project)
    reasons = [p._image.error for p in win.panels]
    assert all("no such video file" in r and ".mp4" in r for r in reasons), reasons
    assert not win.grab().isNull()
