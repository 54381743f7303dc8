"""InterNet's EfficientNet trunk: it is the machine labeller's backbone, starts from a real
labeller checkpoint (``--init-trunk labeler``), rejects weights that do not fit, and the
trainer and CLI use it (not on resume)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from annotator.cli.main import main
from machine_labeler.checkpoint import new_run_dir, save_checkpoint
from machine_labeler.config import get_config as labeler_config
from machine_labeler.model import KeypointDetector
from pose_net.config import get_config
from pose_net.efficientnet_trunk import EfficientNetTrunk, load_trunk_weights
from pose_net.internet import InterNet
from pose_net.train import Trainer, TrainOptions
from tests._bench_loader import load_bench
from tests.pose_net._data_support import (  # one_torch_thread: autouse fixture
    one_torch_thread,  # noqa: F401
    synth_project,
)

SMALL = get_config("cpu-small")


def _trained_looking_detector(seed: int = 1) -> KeypointDetector:
    """A cpu-small detector whose weights and BN statistics are not the initial ones."""
    torch.manual_seed(seed)
    det = KeypointDetector(labeler_config("cpu-small"))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in det.backbone.state_dict().values():
            if t.is_floating_point():
                t.add_(0.05 * torch.randn(t.shape, generator=g))
            for m in det.backbone.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_var.clamp_(min=0.1)
    return det.eval()


def _labeller_checkpoint(det: KeypointDetector, models_dir) -> str:
    run = new_run_dir(models_dir, det.config.name)
    path = run / "model.pt"
    save_checkpoint(path, det, config=det.config, step=7, epoch=0)
    return str(path)


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    return synth_project(tmp_path_factory.mktemp("trunk") / "studio", cameras=4, instants=4)


def test_trunk_levels_and_channels_match_the_config():
    trunk = EfficientNetTrunk("efficientnet-b0", 0.5, 0.5, 96).eval()
    stages = trunk.stages(torch.rand(2, 3, 96, 96))
    assert [tuple(s.shape[1:]) for s in stages] == [(16, 24, 24), (24, 12, 12), (56, 6, 6),
                                                     (640, 3, 3)]
    assert trunk.stage_channels == (16, 24, 56, 640) and trunk.out_channels == 640
    for width in (0.25, 1.0, 1.4):
        cfg = dataclasses.replace(SMALL, trunk_width=width)
        built = EfficientNetTrunk(cfg.trunk, width, cfg.trunk_depth, 64)
        assert cfg.trunk_channels == built.out_channels, width


def test_config_rejects_bad_trunks():
    with pytest.raises(ValueError, match="unknown trunk"):
        dataclasses.replace(SMALL, trunk="efficientnet-b9")
    with pytest.raises(ValueError, match="EfficientNet trunks only"):
        dataclasses.replace(SMALL, trunk="resnet18")  # width 0.5 on a ResNet
    with pytest.raises(ValueError, match="positive"):
        dataclasses.replace(SMALL, trunk_depth=0.0)
    from pose_net.config import RootNetConfig

    with pytest.raises(ValueError, match="unknown trunk"):
        RootNetConfig(trunk="efficientnet-b0")  # RootNet keeps its ResNet


def test_labeller_checkpoint_initialises_the_trunk_to_compute_the_labellers_features(tmp_path):
    det = _trained_looking_detector()
    path = _labeller_checkpoint(det, tmp_path / "models")
    net = InterNet(SMALL)
    assert load_trunk_weights(net.trunk, path) == len(net.trunk.net.state_dict())
    for k, v in det.backbone.state_dict().items():
        torch.testing.assert_close(net.trunk.net.state_dict()[k], v, msg=k)
    # InterNet's input is RGB in [0, 1]; the trunk normalises it as the detector does.
    net.eval()
    x = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        ref = det._features((x - det.mean) / det.std)
        ours = net.trunk.stages(x)
    for stride, got in zip((4, 8, 16, 32), ours, strict=True):
        torch.testing.assert_close(got, ref[stride], rtol=1e-5, atol=1e-5)


def test_weights_that_do_not_fit_are_a_clear_error_and_change_nothing(tmp_path):
    net = InterNet(SMALL)
    before = {k: v.clone() for k, v in net.trunk.state_dict().items()}
    wide = KeypointDetector(dataclasses.replace(labeler_config("cpu-small"),
                                                width_coefficient=1.0))
    bad_shape = _labeller_checkpoint(wide, tmp_path / "wide")
    with pytest.raises(ValueError, match="does not fit the efficientnet-b0 trunk"):
        load_trunk_weights(net.trunk, bad_shape)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a torch weights file"):
        load_trunk_weights(net.trunk, junk)
    partial = tmp_path / "partial.pt"
    torch.save({"_conv_stem.weight": net.trunk.net._conv_stem.weight.detach()}, partial)
    with pytest.raises(ValueError, match="tensors missing"):
        load_trunk_weights(net.trunk, partial)
    with pytest.raises(FileNotFoundError):
        load_trunk_weights(net.trunk, tmp_path / "absent.pt")
    for k, v in net.trunk.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_imagenet_style_efficientnet_weights_load(tmp_path):
    det = _trained_looking_detector(seed=2)
    state = {f"module.{k}": v for k, v in det.backbone.state_dict().items()}
    state["_fc.weight"] = torch.zeros(1000, 640)  # a classifier, which the trunk drops
    path = tmp_path / "imagenet.pth"
    torch.save({"state_dict": state}, path)
    trunk = EfficientNetTrunk("efficientnet-b0", 0.5, 0.5, 96)
    load_trunk_weights(trunk, path)
    torch.testing.assert_close(trunk.net._conv_head.weight, det.backbone._conv_head.weight)


def test_trainer_starts_from_the_weights_but_a_resume_does_not_reread_them(studio, tmp_path):
    from pose_net.data import load_samples

    samples = load_samples(studio, labels="ground-truth").samples
    det = _trained_looking_detector(seed=3)
    path = _labeller_checkpoint(det, tmp_path / "models")
    opts = TrainOptions(config="cpu-small", steps=1, batch_size=2, init_trunk=path)
    trainer = Trainer(samples[:2], tmp_path / "run", opts)
    torch.testing.assert_close(trainer.model.trunk.net._conv_stem.weight,
                               det.backbone._conv_stem.weight)
    trainer.run()
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["train"]["init_trunk"] == path
    # A resume takes the weights from its checkpoint: the init file may even be gone.
    (tmp_path / "models").rename(tmp_path / "moved")
    resumed = Trainer(samples[:2], tmp_path / "run",
                      dataclasses.replace(opts, steps=2, resume=True))
    assert resumed.run().step == 2
    with pytest.raises(ValueError, match="RootNet has none"):
        TrainOptions(net="rootnet", init_trunk=path)


def test_cli_init_trunk_labeler_takes_the_projects_newest_labeller(studio, tmp_path, capsys):
    args = ["train-internet", str(studio), "--labels", "ground-truth", "--config", "cpu-small",
            "--steps", "1", "--batch-size", "2", "--subjects", "0", "--init-trunk", "labeler"]
    assert main([*args, "--out", str(tmp_path / "none")]) == 2
    assert "no machine-labeller checkpoint of config 'cpu-small'" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
    path = _labeller_checkpoint(_trained_looking_detector(seed=4), studio / "models")
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["train"]["init_trunk"] == path
    assert main([*args[:-1], str(tmp_path / "absent.pt"), "--out", str(tmp_path / "x")]) == 2
    assert "--init-trunk" in (err := capsys.readouterr().err) and "no such file" in err


def test_trunk_bench_runs_its_variants(studio, tmp_path, capsys):
    bench = load_bench("internet_trunk")
    if not list((studio / "models").glob("labeler/*-cpu-small/model.pt")):
        _labeller_checkpoint(_trained_looking_detector(seed=5), studio / "models")
    out = tmp_path / "rows.json"
    assert bench.main(["--project", str(studio), "--train-subjects", "0",
                       "--test-subjects", "1", "--labels", "ground-truth", "--minutes", "0.01",
                       "--batch", "2", "--every", "1", "--variants", "resnet18,labeler",
                       "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["variant"] for r in rows] == ["resnet18", "labeler"]
    assert all(r["steps"] >= 1 and r["mpjpe_all"] > 0 for r in rows)
    from pose_net.config import CONFIGS

    assert set(CONFIGS) == {"paper", "cpu-small"}  # the bench's variant is gone again
    assert "MPJPE" in capsys.readouterr().out
