"""Image decoding and the cache (real files, real threads)."""

from __future__ import annotations

import cv2
import numpy as np

from gui.image_cache import ImageCache, decode_image


def _jpeg(path, value: int, size=(40, 30)):
    img = np.full((size[1], size[0], 3), value, np.uint8)
    cv2.imwrite(str(path), img)
    return path


def test_decode_reports_why_instead_of_raising(tmp_path):
    assert "no image" in decode_image(None).error
    assert "no such image file" in decode_image(tmp_path / "nope.jpg").error
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert "empty file" in decode_image(tmp_path / "empty.jpg").error
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not a jpeg at all" * 10)
    bad = decode_image(tmp_path / "bad.jpg")
    assert bad.bgr is None and "corrupt" in bad.error and "bad.jpg" in bad.error
    ok = decode_image(_jpeg(tmp_path / "ok.jpg", 100))
    assert ok.error == "" and ok.bgr.shape == (30, 40, 3) and ok.bgr.flags.c_contiguous


def test_lru_is_bounded_in_bytes_and_prefetch_fills_it(tmp_path):
    paths = [_jpeg(tmp_path / f"{k}.jpg", 10 * k) for k in range(6)]
    one = 40 * 30 * 3
    cache = ImageCache(max_bytes=3 * one, workers=2)
    try:
        assert cache.prefetch(paths[:3]) == 3
        cache.wait_idle(timeout=10)
        assert all(cache.contains(p) for p in paths[:3])
        assert cache.prefetch(paths[:3]) == 0
        hits = cache.hits
        assert abs(int(cache.get(paths[1]).bgr.mean()) - 10) <= 2
        assert cache.hits == hits + 1
        for p in paths[3:5]:
            cache.get(p)
        assert cache.nbytes <= 3 * one and len(cache) == 3
        # least recently used went first: 0 and 2 (1 was touched)
        assert not cache.contains(paths[0]) and not cache.contains(paths[2])
        assert cache.contains(paths[1])
        # missing files are not cached: they may appear later
        missing = tmp_path / "later.jpg"
        assert cache.get(missing).bgr is None
        _jpeg(missing, 200)
        assert cache.get(missing).bgr is not None
    finally:
        cache.close()


def test_a_second_display_size_is_prepared_while_the_first_is_still_queued(tmp_path):
    path = tmp_path / "a.jpg"
    cv2.imwrite(str(path), np.full((334, 512, 3), 90, np.uint8))
    cache = ImageCache(workers=1)
    try:
        # one worker busy with a slow job, so both requests below are queued together
        import threading

        gate = threading.Event()
        cache._pool.submit(gate.wait, 5)
        assert cache.prefetch_display([(path, (256, 167))]) == 1
        assert cache.prefetch_display([(path, (300, 196))]) == 1  # after a panel resize
        gate.set()
        cache.wait_idle(timeout=10)
        assert cache.shrunk(path, (256, 167)).shape[:2] == (167, 256)
        assert cache.shrunk(path, (300, 196)).shape[:2] == (196, 300)
    finally:
        cache.close()
