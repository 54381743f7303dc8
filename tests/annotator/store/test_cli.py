"""``annotator init / status / propagate`` run in-process through ``main(argv)``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annotator import skeleton
from annotator.cli.main import main
from annotator.store import ProjectStore
from tests.annotator.store.conftest import ring_rig
from triangulation import save_rig


def _image_tree(root, cameras, captures=("cap0",), seqs=("seqA", "seqB"), frames=(0, 5)):
    for cap in captures:
        for seq in seqs:
            for cam in cameras:
                d = root / cap / seq / f"cam{cam}"
                d.mkdir(parents=True)
                for f in frames:
                    (d / f"image{f:04d}.jpg").write_bytes(b"\xff\xd8\xff")


@pytest.fixture
def capture(tmp_path):
    rig = ring_rig(4)
    save_rig(rig, tmp_path / "calib.toml")
    _image_tree(tmp_path / "images", rig.names)
    return tmp_path, rig


def test_init_status_propagate(capture, capsys):
    tmp, rig = capture
    proj = tmp / "proj"
    rc = main(["init", str(proj), "--images", str(tmp / "images"), "--calibration",
               str(tmp / "calib.toml"), "--name", "demo"])
    assert rc == 0
    assert "4 instants, 4 cameras, 16 images" in capsys.readouterr().out
    with ProjectStore.open(proj, "w") as w:
        assert w.name == "demo" and w.captures == ["cap0"]
        assert w.instants().sequence.tolist() == ["seqA", "seqA", "seqB", "seqB"]
        i = w.find_instant("cap0", "seqB", 5)
        assert w.image_paths(i)[1].is_file()
        w.set_joints_3d(i, np.zeros((skeleton.NUM_JOINTS, 3)))
        w.set_flag(0, 3, "check")
    assert main(["status", str(proj), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["instants"], info["cameras"], info["images"]) == (4, 4, 16)
    assert (info["human_labelled"], info["machine_labelled"], info["flagged"]) == (1, 0, 1)
    assert main(["propagate", str(proj), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["instants"] == 1 and summary["joint_views"] == 4 * skeleton.NUM_JOINTS
    assert (proj / "propagated.h5").is_file()
    assert main(["status", str(proj)]) == 0
    assert "human_labelled: 1" in capsys.readouterr().out


def test_init_errors_are_one_line(capture, capsys):
    tmp, rig = capture
    _image_tree(tmp / "images", ["999"], captures=("cap0",), seqs=("seqC",))
    rc = main(["init", str(tmp / "p"), "--images", str(tmp / "images"), "--calibration",
               str(tmp / "calib.toml")])
    err = capsys.readouterr().err
    assert rc == 2 and "cameras 999 have images" in err and err.count("\n") == 1
    assert not (tmp / "p" / "project.toml").exists()
    rc = main(["init", str(tmp / "q"), "--images", str(tmp / "nowhere"), "--calibration",
               str(tmp / "calib.toml")])
    assert rc == 2 and "image folder does not exist" in capsys.readouterr().err
    (tmp / "empty").mkdir()
    rc = main(["init", str(tmp / "q"), "--images", str(tmp / "empty"), "--calibration",
               str(tmp / "calib.toml")])
    assert rc == 2 and "no images found" in capsys.readouterr().err
    (tmp / "bad.toml").write_text("this is [ not toml")
    rc = main(["init", str(tmp / "q"), "--images", str(tmp / "images"), "--calibration",
               str(tmp / "bad.toml")])
    assert rc == 2 and "bad.toml" in capsys.readouterr().err


def test_status_of_missing_project(capture, capsys):
    tmp, _ = capture
    assert main(["status", str(tmp / "missing")]) == 2
    assert "not a project" in capsys.readouterr().err


def test_propagate_without_human_labels_writes_an_empty_result(capture, capsys):
    # Regression: h5py refused the zero-row chunked datasets ("Chunk shape must not be
    # greater than data shape"), so `annotator propagate` failed on a fresh project.
    tmp, rig = capture
    proj = tmp / "proj"
    assert main(["init", str(proj), "--images", str(tmp / "images"), "--calibration",
                 str(tmp / "calib.toml")]) == 0
    capsys.readouterr()
    assert main(["propagate", str(proj), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["instants"] == 0 and summary["joint_views"] == 0
    with ProjectStore.open(proj, "r") as store:
        prop = store.propagated()
    assert prop.uv_px.shape == (0, len(rig), skeleton.NUM_JOINTS, 2)


def test_regression_interrupted_init_left_a_half_made_project(capture, monkeypatch):
    # Fault injection: the run is interrupted after the project folder was created.
    tmp, _ = capture
    proj = tmp / "proj"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ProjectStore, "add_instants", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(["init", str(proj), "--images", str(tmp / "images"), "--calibration",
              str(tmp / "calib.toml")])
    assert not proj.exists()


def test_regression_fractional_instants_were_truncated(capture):
    tmp, _ = capture
    proj = tmp / "proj"
    assert main(["init", str(proj), "--images", str(tmp / "images"), "--calibration",
                 str(tmp / "calib.toml")]) == 0
    with ProjectStore.open(proj, "r") as store:
        with pytest.raises(ValueError, match="integer indices"):
            store.propagate(instants=[1.5])
        with pytest.raises(IndexError, match="out of range"):
            store.propagate(instants=[store.num_instants])
        assert store.propagate(instants=[0, 1]).instants.tolist() == [0, 1]
