"""Work packages of a project read from videos decode the project's frames."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.cli.main import main
from annotator.images import read_image_bgr
from annotator.store import ProjectStore
from annotator.video import VideoFrame, close_video_readers

pytest.importorskip("av")


def test_packages_of_a_video_project_show_its_frames(tmp_path):
    proj = tmp_path / "v"
    assert main(["synth", str(proj), "--video", "--cameras", "4", "--instants", "6",
                 "--subjects", "1", "--width", "256", "--height", "168", "--workers", "1"]) == 0
    assert main(["assign", str(proj), "--annotators", "ann,bob", "--out",
                 str(tmp_path / "pk")]) == 0
    try:
        with ProjectStore.open(proj) as parent:
            for name in ("ann", "bob"):
                with ProjectStore.open(tmp_path / "pk" / name) as pkg:
                    assert pkg.is_video_project
                    for row in range(pkg.num_instants):
                        got = pkg.image_paths(row)
                        assert all(isinstance(p, VideoFrame) and p.pts is not None for p in got)
                        i = got[0].index  # synth --video: frame k is instant k
                        want = parent.image_paths(i)
                        assert [(p.video.resolve(), p.index, p.pts) for p in got] == [
                            (p.video.resolve(), p.index, p.pts) for p in want]
                        assert np.array_equal(read_image_bgr(got[1]), read_image_bgr(want[1]))
        assert main(["simulate-annotator", str(tmp_path / "pk" / "ann")]) == 0
        assert main(["collect", str(proj), str(tmp_path / "pk" / "ann")]) == 0
    finally:
        close_video_readers()
