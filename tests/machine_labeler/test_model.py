"""Detector shapes, checkpoints and local ImageNet weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from efficientnet_pytorch import EfficientNet

from machine_labeler.checkpoint import load_detector, newest_checkpoint, save_checkpoint
from machine_labeler.codec import HeatmapCodec
from machine_labeler.config import CONFIGS, get_config
from machine_labeler.model import KeypointDetector, load_imagenet_weights
from machine_labeler.predict import predict_crops


@pytest.mark.parametrize("name", ["cpu-small", "paper"])
def test_output_shapes(name: str) -> None:
    cfg = get_config(name)
    model = KeypointDetector(cfg).eval()
    s = cfg.crop_px if name == "cpu-small" else 64  # paper: one small forward is enough
    with torch.no_grad():
        out = model(torch.rand(1, 3, s, s))
    assert out.shape == (1, 42, s // cfg.stride, s // cfg.stride)


def test_unknown_config_and_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown labeler config"):
        get_config("huge")
    model = KeypointDetector(CONFIGS["cpu-small"])
    with pytest.raises(ValueError):
        model(torch.rand(1, 3, 50, 50))


def test_checkpoint_reload_gives_identical_outputs(tmp_path: Path) -> None:
    cfg = CONFIGS["cpu-small"]
    torch.manual_seed(0)
    model = KeypointDetector(cfg)
    model.final.weight.data.normal_()  # non-trivial outputs
    model.to(memory_format=torch.channels_last).eval()  # as load_detector returns it
    run = tmp_path / "models" / "labeler" / "20260101-000000-cpu-small"
    save_checkpoint(run / "model.pt", model, cfg, step=7, epoch=1)
    assert newest_checkpoint(tmp_path / "models") == run / "model.pt"
    loaded = load_detector(run / "model.pt")
    assert loaded.config == cfg and loaded.meta["step"] == 7 and loaded.meta["code_version"]
    crops = np.random.default_rng(0).integers(0, 255, (2, 96, 96, 3), dtype=np.uint8)
    codec = HeatmapCodec.from_config(cfg)
    a = predict_crops(model, codec, crops)
    b = predict_crops(loaded.model, codec, crops)
    np.testing.assert_array_equal(a.uv_crop_px, b.uv_crop_px)
    np.testing.assert_array_equal(a.confidence, b.confidence)
    assert a.uv_crop_px.shape == (2, 42, 2)


def test_bad_checkpoint_is_one_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "model.pt"
    p.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="model.pt"):
        load_detector(p)


def test_init_weights_from_local_file(tmp_path: Path) -> None:
    # A randomly initialised efficientnet-pytorch b0 (with its classifier) stands in for the
    # ImageNet file: same key names and shapes.
    torch.manual_seed(1)
    ref = EfficientNet.from_name("efficientnet-b0", image_size=256)
    f = tmp_path / "efficientnet-b0.pth"
    torch.save(ref.state_dict(), f)
    model = KeypointDetector(CONFIGS["paper"])
    missing = load_imagenet_weights(model, f)
    assert missing == []
    torch.testing.assert_close(model.backbone._conv_stem.weight, ref._conv_stem.weight)
    torch.testing.assert_close(
        model.backbone._blocks[5]._depthwise_conv.weight, ref._blocks[5]._depthwise_conv.weight
    )
    # The width-scaled config cannot take b0 tensors: a clear error, nothing loaded.
    small = KeypointDetector(CONFIGS["cpu-small"])
    before = small.backbone._conv_stem.weight.clone()
    with pytest.raises(ValueError, match="do not fit config 'cpu-small'"):
        load_imagenet_weights(small, f)
    torch.testing.assert_close(small.backbone._conv_stem.weight, before)
    with pytest.raises(FileNotFoundError):
        load_imagenet_weights(small, tmp_path / "absent.pth")
