"""The machine stage on a project read from videos: training, labelling in every loader and
thread layout, merge and evaluation, through the real commands."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from annotator.cli.main import main
from annotator.store import ProjectStore
from annotator.video import close_video_readers
from machine_labeler.hand_finding import HandFindingSettings
from tests.machine_labeler.labeling_support import make_detector_checkpoint

pytest.importorskip("av")


@pytest.fixture(scope="module")
def video_project(tmp_path_factory):
    path = tmp_path_factory.mktemp("vlabel") / "v"
    assert main(["synth", str(path), "--video", "--cameras", "8", "--instants", "6",
                 "--subjects", "1", "--width", "256", "--height", "168", "--workers", "1"]) == 0
    make_detector_checkpoint(path)
    yield path
    close_video_readers()


def _records(store, det, settings):
    from machine_labeler.labeling import label_instants

    class Keep:
        records: list = []

        def add(self, rec):
            self.records.append(rec)

        def flush(self):
            pass

    keep = Keep()
    keep.records = []
    stats = label_instants(store, det.model, det.config, range(store.num_instants), keep,
                           settings)
    by_instant = {}
    for rec in keep.records:
        for k, i in enumerate(rec.instants.tolist()):
            by_instant[i] = (rec.joints_world_mm[k], rec.uv_px[k])
    return by_instant, stats


def test_every_reading_layout_gives_the_same_labels(video_project):
    """Frames decoded in order, by threads sharing the decoders, or by loader processes
    that each take a run of instants: the same pixels, so the same labels."""
    from machine_labeler.checkpoint import load_detector, newest_checkpoint
    from machine_labeler.labeling import LabelingSettings

    base = LabelingSettings(workers=0, pipeline_depth=1, batch_size=8, threshold_px=1000.0,
                            hands=HandFindingSettings(coarse_threshold_px=1000.0))
    with ProjectStore.open(video_project) as store:
        det = load_detector(newest_checkpoint(store))
        ref, ref_stats = _records(store, det, base)
        assert ref_stats.images == 6 * 8 and not ref_stats.bad_images
        assert any(np.isfinite(j).any() for j, _ in ref.values())
        for workers, depth, threads in ((0, 4, 3), (2, 2, 1)):
            s = dataclasses.replace(base, workers=workers, pipeline_depth=depth,
                                    cpu_threads=threads)
            got, stats = _records(store, det, s)
            assert stats.images == ref_stats.images
            assert sorted(got) == sorted(ref)
            for i in ref:
                np.testing.assert_array_equal(got[i][0], ref[i][0])
                np.testing.assert_array_equal(got[i][1], ref[i][1])


def test_blocked_order_gives_each_worker_one_run():
    from machine_labeler.labeling import _blocked_order

    for n, w in ((10, 3), (7, 2), (4, 4), (3, 5)):
        order = _blocked_order(n, w)
        assert sorted(order) == list(range(n))
        per_worker = [order[k::w] for k in range(w)]  # the DataLoader's round robin
        for items in per_worker:
            assert items == list(range(items[0], items[0] + len(items))) if items else True


def test_train_label_merge_evaluate_from_videos(video_project, tmp_path):
    import shutil

    p = tmp_path / "v"
    shutil.copytree(video_project, p)
    assert main(["simulate-annotator", str(p), "--fraction", "0.5", "--seed", "1"]) == 0
    assert main(["train-labeler", str(p), "--steps", "3", "--batch-size", "4"]) == 0
    make_detector_checkpoint(p, seed=2)  # image-dependent output, so labels get written
    assert main(["machine-label", str(p), "--threshold-px", "1000",
                 "--coarse-threshold-px", "1000"]) == 0
    assert main(["merge", str(p)]) == 0
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(p), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    with ProjectStore.open(p) as store:
        assert store.labelled_instants("machine").size == 3
    assert report["machine"]["joints"] > 0  # scored against the video project's ground truth


def test_training_keeps_decoded_frames_within_its_budget(video_project):
    from annotator.video import VideoFrame
    from machine_labeler.train_data import FrameCache

    with ProjectStore.open(video_project) as store:
        frames = [p for i in range(3) for p in store.image_paths(i)]
    one = 256 * 168 * 3
    cache = FrameCache(max_bytes=5 * one)
    first = [cache.read(f) for f in frames[:5]]
    assert all(isinstance(f, VideoFrame) for f in frames)
    assert all(cache.read(f) is img for f, img in zip(frames[:5], first, strict=True))
    for f in frames[5:8]:
        cache.read(f)
    assert cache._bytes <= 5 * one and len(cache._items) == 5
    assert cache.read(frames[0]) is not first[0]  # dropped (least recently used), read again
    assert np.array_equal(cache.read(frames[0]), first[0])
    import pickle

    assert pickle.loads(pickle.dumps(cache))._bytes == 0  # a loader worker starts empty
