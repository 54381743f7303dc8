"""The InterHand2.6M-root dataset on the real released sample (four images, four captures),
put into the official layout; skipped when the sample is absent."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from annotator.cli.main import main
from annotator.images import read_image_rgb
from annotator.interchange import enlarged_bbox_xywh
from annotator.skeleton import LEFT_ROOT, RIGHT_ROOT
from pose_net.checkpoint import save_checkpoint
from pose_net.config import get_config
from pose_net.data import interhand_samples, interhand_splits, load_samples, make_crop
from pose_net.internet import InterNet
from tests.pose_net._data_support import (  # one_torch_thread: autouse fixture
    interhand_sample_root,
    one_torch_thread,  # noqa: F401
)


@pytest.fixture
def root(realdata_dir, tmp_path):
    return interhand_sample_root(realdata_dir("interhand2.6m_sample"), tmp_path / "ih")


def test_reads_the_real_sample_with_the_public_conventions(root):
    assert interhand_splits(root) == ["test"]
    samples = interhand_samples(root)  # the only split is taken
    assert len(samples) == 4
    names = sorted(s.hand_type_name for s in samples)
    assert names == ["interacting", "interacting", "left", "right"]
    for s in samples:
        assert s.image_path.is_file()
        assert np.all(s.joints_cam_mm[s.joint_valid, 2] > 0)  # in front of the camera
        # The released box is the tight box of the projected valid joints x1.2: our
        # x_cam = camrot (X - campos) and pinhole projection must reproduce it.
        np.testing.assert_allclose(enlarged_bbox_xywh(s.joints_uv_px, s.joint_valid),
                                   s.bbox_xywh, atol=1.0)
        # Right and left roots are on the right and left hand in 3D: a hand spans < 250 mm.
        for root_j in (RIGHT_ROOT, LEFT_ROOT):
            if s.joint_valid[root_j]:
                hand = slice(root_j - 20, root_j + 1)
                spread = np.linalg.norm(s.joints_cam_mm[hand][s.joint_valid[hand]]
                                        - s.joints_cam_mm[root_j], axis=1)
                assert spread.max() < 250
        crop = make_crop(s, read_image_rgb(s.image_path), input_px=128, depth_range_mm=400,
                         rel_root_range_mm=400)
        assert crop.joint_valid.sum() == s.joint_valid.sum()  # whole hands inside the crop
        assert crop.image.shape == (3, 128, 128)


def test_subject_filter_and_errors(root):
    subjects = {s.subject for s in interhand_samples(root, "test")}
    one = str(sorted(subjects)[0])
    kept = interhand_samples(root, "test", subjects=[one])
    assert {s.subject for s in kept} == {int(one)}
    rest = interhand_samples(root, "test", exclude_subjects=[one])
    assert len(kept) + len(rest) == 4
    with pytest.raises(ValueError, match="subject 99"):
        interhand_samples(root, "test", subjects=["99"])
    with pytest.raises(FileNotFoundError):
        interhand_samples(root, "train")
    with pytest.raises(ValueError, match="applies to a project"):
        load_samples(root, labels="machine")


def test_hands_keeps_the_images_of_one_or_two_hands(root):
    single = load_samples(root, hands="single").samples
    interacting = load_samples(root, hands="interacting").samples
    assert sorted(s.hand_type_name for s in single) == ["left", "right"]
    assert [s.hand_type_name for s in interacting] == ["interacting", "interacting"]
    assert len(load_samples(root, hands="all").samples) == 4
    with pytest.raises(ValueError, match="--hands must be"):
        load_samples(root, hands="both")


def test_eval_internet_on_the_real_sample(root, tmp_path, capsys):
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "net.pth", InterNet(get_config("cpu-small")))
    out = tmp_path / "m.json"
    assert main(["eval-internet", str(ckpt), str(root), "--device", "cpu",
                 "--json", str(out)]) == 0
    import json

    d = json.loads(out.read_text())
    assert d["n_samples"] == 4 and d["n_interacting"] == 2 and d["n_single"] == 2
    assert np.isfinite(d["mpjpe_all"]) and np.isfinite(d["baseline_mpjpe_all"])
    # --hands interacting: the two-hand images only, so no single-hand figure.
    assert main(["eval-internet", str(ckpt), str(root), "--device", "cpu", "--hands",
                 "interacting", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["n_samples"] == 2 and d["n_interacting"] == 2 and d["n_single"] == 0
    assert "samples: 4" in capsys.readouterr().out
