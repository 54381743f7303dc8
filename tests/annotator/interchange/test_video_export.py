"""Exports of a project read from videos write the exported frames as image files that the
InterHand2.6M loader (and COCO tools) read."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from annotator.cli.main import main
from annotator.images import read_image_bgr
from annotator.store import ProjectStore
from annotator.video import close_video_readers
from tests.annotator.interchange._interhand_reader import load_split

pytest.importorskip("av")


@pytest.fixture(scope="module")
def labelled_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("vexport") / "v"
    assert main(["synth", str(path), "--video", "--cameras", "4", "--instants", "6",
                 "--subjects", "1", "--width", "256", "--height", "168", "--workers", "1"]) == 0
    assert main(["simulate-annotator", str(path), "--fraction", "1", "--seed", "0"]) == 0
    yield path
    close_video_readers()


def _frame_of(store, capture, sequence, frame, camera):
    t = store.instants()
    i = next(k for k in range(len(t)) if (t.capture[k], t.sequence[k], int(t.frame[k]))
             == (str(capture), sequence, int(frame)))
    return read_image_bgr(store.image_paths(i)[store.camera_index(str(camera))])


def test_interhand_export_writes_frames_the_loader_reads(labelled_video, tmp_path):
    out = tmp_path / "ih"
    assert main(["export-interhand", str(labelled_video), str(out), "--split", "train"]) == 0
    samples, _ = load_split(out, "train")
    assert samples
    data = json.loads((out / "annotations/train/InterHand2.6M_train_data.json").read_text())
    with ProjectStore.open(labelled_video) as store:
        for im in data["images"][:8]:
            path = out / "images" / "train" / im["file_name"]
            assert path.suffix == ".jpg" and path.is_file()
            got = cv2.imread(str(path))
            want = _frame_of(store, im["capture"], im["seq_name"], im["frame_idx"], im["camera"])
            assert got.shape == want.shape
            assert np.abs(got.astype(int) - want).mean() < 2.0  # JPEG at quality 95
    assert all(s.img_path.is_file() for s in samples)


def test_coco_export_writes_frames_beside_the_json(labelled_video, tmp_path):
    out = tmp_path / "coco" / "labels.json"
    assert main(["export-coco", str(labelled_video), str(out)]) == 0
    doc = json.loads(out.read_text())
    root = out.parent / doc["info"]["image_root"]
    assert root == out.parent / "labels_images"
    assert len(doc["images"]) == 6 * 4 and doc["annotations"]
    with ProjectStore.open(labelled_video) as store:
        for im in doc["images"][::5]:
            got = cv2.imread(str(root / im["file_name"]))
            want = _frame_of(store, im["capture"], im["sequence"], im["frame"], im["camera"])
            assert np.abs(got.astype(int) - want).mean() < 2.0
