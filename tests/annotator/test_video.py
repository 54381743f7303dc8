"""Frames of video files: frame-exact reads, the decoder pool, bad files."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from annotator.images import read_image_bgr, try_read_image_bgr
from annotator.video import (
    VideoFrame,
    VideoWriter,
    close_video_readers,
    frame_to_bgr,
    probe_video,
    read_video_frame,
)

av = pytest.importorskip("av")

N_FRAMES = 45
SIZE = (96, 64)


def _frames(n: int = N_FRAMES) -> list[np.ndarray]:
    """Frames that differ from each other everywhere (a moving block on a ramp)."""
    rng = np.random.default_rng(7)
    base = rng.integers(0, 255, (SIZE[1] // 16, SIZE[0] // 16, 3)).astype(np.uint8)
    out = []
    for k in range(n):
        img = np.kron(base, np.ones((16, 16, 1), np.uint8))
        img = np.roll(img, 4 * k, axis=1)
        img[4:20, (2 * k) % 70:(2 * k) % 70 + 16] = (255, 255 - 5 * k, 5 * k)
        out.append(np.ascontiguousarray(img))
    return out


def _sequential(path) -> list[np.ndarray]:
    """Every frame by a plain sequential PyAV decode (the reference)."""
    with av.open(str(path)) as c:
        return [frame_to_bgr(f) for f in c.decode(c.streams.video[0])]


@pytest.fixture(params=["h264", "mpeg4", "mjpeg"])
def video(request, tmp_path):
    suffix = ".avi" if request.param == "mjpeg" else ".mp4"
    path = tmp_path / f"cam{suffix}"
    with VideoWriter(path, SIZE, codec=request.param, gop=10) as w:
        for img in _frames():
            w.write(img)
    yield path
    close_video_readers()


def test_seeking_reads_frame_k_of_a_sequential_decode(video):
    ref = _sequential(video)
    assert len(ref) == N_FRAMES
    info = probe_video(video)
    assert info.frames == N_FRAMES and info.size == SIZE
    order = np.random.default_rng(0).permutation(N_FRAMES).tolist() + [0, 44, 1, 43, 2]
    for k in order:  # with the stored timestamp (as a project reads) and without
        assert np.array_equal(read_video_frame(VideoFrame(video, k, int(info.pts[k]))), ref[k])
        assert np.array_equal(read_video_frame(VideoFrame(video, k)), ref[k])
    # frames are the codec's approximation of what was written, frame by frame
    written = _frames()
    errs = [np.abs(ref[k].astype(int) - written[k]).mean() for k in range(N_FRAMES)]
    others = [np.abs(ref[k].astype(int) - written[k + 1]).mean() for k in range(N_FRAMES - 1)]
    assert max(errs) < min(others) / 3


def test_threads_reading_one_video_at_two_places_get_the_right_frames(video):
    ref = _sequential(video)
    got: dict[int, list] = {0: [], 1: []}

    def run(t: int) -> None:
        start = 0 if t == 0 else 22
        for k in range(start, start + 22):
            got[t].append((k, read_video_frame(VideoFrame(video, k))))

    threads = [threading.Thread(target=run, args=(t,)) for t in (0, 1)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t in (0, 1):
        assert len(got[t]) == 22
        for k, img in got[t]:
            assert np.array_equal(img, ref[k])


def test_image_readers_take_video_frames(video):
    ref = _sequential(video)
    assert np.array_equal(read_image_bgr(VideoFrame(video, 5)), ref[5])
    img, why = try_read_image_bgr(VideoFrame(video, N_FRAMES + 3))
    assert img is None and str(video) in why and "frame" in why


def test_bad_videos_are_one_line_errors_naming_the_file(tmp_path):
    missing = tmp_path / "none.mp4"
    with pytest.raises(FileNotFoundError, match="none.mp4: no such video file"):
        probe_video(missing)
    with pytest.raises(FileNotFoundError):
        read_image_bgr(VideoFrame(missing, 0))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00not a video" * 100)
    with pytest.raises(OSError, match="junk.mp4: cannot open the video") as e:
        probe_video(junk)
    assert "\n" not in str(e.value)
    img, why = try_read_image_bgr(VideoFrame(junk, 0))
    assert img is None and "junk.mp4" in why
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(OSError, match="empty.mp4"):
        probe_video(empty)


def test_writer_refuses_a_frame_of_another_size(tmp_path):
    with VideoWriter(tmp_path / "a.mp4", SIZE) as w, pytest.raises(ValueError, match="96x64"):
        w.write(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="codec"):
        VideoWriter(tmp_path / "b.mp4", SIZE, codec="prores")


def test_frame_index_must_not_be_negative(tmp_path):
    with pytest.raises(ValueError, match="frame index"):
        VideoFrame(tmp_path / "a.mp4", -1)
