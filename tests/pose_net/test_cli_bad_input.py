"""Issue 25: pose_net's commands refuse bad files and paths in one line, before the work.

``infer --out pic`` wrote ``pic.png`` and said ``picture: pic``; ``--out pic.xyz`` failed
after the model ran; a bad weights file gave six lines repeating PyTorch's advice to load it
with ``weights_only=False``; ``eval-internet --json`` was checked after the evaluation;
``train-internet --resume`` left an empty folder behind; OpenCV's warnings came first.
"""

from __future__ import annotations

import argparse
import os

import cv2
import numpy as np
import pytest
import torch

from annotator.cli.main import main
from pose_net.checkpoint import save_checkpoint
from pose_net.config import get_config
from pose_net.internet import InterNet
from tests._support.cli import run_cli, stderr_lines

ROOT = os.geteuid() == 0
BOX = ["20", "20", "40", "40"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("files")
    torch.manual_seed(0)
    save_checkpoint(d / "internet.pt", InterNet(get_config("cpu-small")).eval())
    img = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    cv2.imwrite(str(d / "hand.png"), img)
    cv2.imwrite(str(d / "hand.jpg"), cv2.GaussianBlur(img, (5, 5), 2))
    data = (d / "hand.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(data[: len(data) * 2 // 3])
    # a file torch would only load by running the Python pickle it holds
    torch.save({"args": argparse.Namespace(lr=1.0)}, d / "objects.pt")
    (d / "afile.txt").write_text("x")
    return d


def _one_line(capsys, *needles) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    return err


@pytest.mark.parametrize(
    "out, says",
    [("pic", "no file extension"), ("pic.xyz", "cannot write .xyz files"),
     (".", "is a folder, not a file")],
)
def test_infer_out_is_checked_before_the_model_is_read(files, tmp_path, capsys, out, says):
    out_path = tmp_path / out
    # the checkpoint does not exist: the --out error coming first shows nothing ran before
    assert main(["infer", str(tmp_path / "absent.pt"), str(files / "hand.png"), "--bbox", *BOX,
                 "--out", str(out_path)]) == 2
    _one_line(capsys, f"--out {out_path}", says)
    assert not list(tmp_path.glob("pic*"))


def test_infer_writes_the_named_picture(files, tmp_path, capsys):
    out = tmp_path / "pic.jpg"
    assert main(["infer", str(files / "internet.pt"), str(files / "hand.png"), "--bbox", *BOX,
                 "--out", str(out)]) == 0
    assert cv2.imread(str(out)) is not None and f"picture: {out}" in capsys.readouterr().out


@pytest.mark.parametrize("option", ["checkpoint", "--rootnet"])
def test_infer_bad_weights_file_is_one_line_without_torchs_advice(files, tmp_path, capsys,
                                                                    option):
    ckpt = files / ("objects.pt" if option == "checkpoint" else "internet.pt")
    extra = ["--rootnet", str(files / "objects.pt")] if option == "--rootnet" else []
    assert main(["infer", str(ckpt), str(files / "hand.png"), "--bbox", *BOX, *extra,
                 "--out", str(tmp_path / "o.png")]) == 2
    err = _one_line(capsys, "objects.pt", "holds Python objects")
    assert "weights_only" not in err


def test_eval_internet_bad_files(files, tmp_path, capsys):
    assert main(["eval-internet", str(files / "objects.pt"), str(tmp_path)]) == 2
    assert "weights_only" not in _one_line(capsys, "objects.pt: not a torch checkpoint")
    assert main(["eval-internet", str(files / "internet.pt"), str(tmp_path), "--rootnet",
                 str(files / "objects.pt")]) == 2
    assert "weights_only" not in _one_line(capsys, "objects.pt: not a torch checkpoint")


def test_eval_internet_json_is_checked_before_the_evaluation(files, tmp_path, capsys):
    bad = files / "afile.txt" / "m.json"
    # neither the checkpoint nor the source exist: the --json error comes first
    assert main(["eval-internet", str(tmp_path / "absent.pt"), str(tmp_path / "nowhere"),
                 "--json", str(bad)]) == 2
    _one_line(capsys, f"--json {bad}: {files / 'afile.txt'} is a file, not a folder")


def test_train_internet_out_and_init_trunk_before_the_data(files, tmp_path, capsys):
    nowhere = tmp_path / "no-source"  # never read: each path error comes first
    base = ["train-internet", str(nowhere), "--config", "cpu-small"]
    assert main([*base, "--out", str(files / "afile.txt")]) == 2
    _one_line(capsys, f"--out {files / 'afile.txt'}: is a file, not a folder")
    assert main([*base, "--out", str(files / "afile.txt" / "run")]) == 2
    _one_line(capsys, f"{files / 'afile.txt'} is a file, not a folder")
    assert main([*base, "--out", str(tmp_path / "run"), "--init-trunk",
                 str(files / "objects.pt")]) == 2
    err = _one_line(capsys, f"--init-trunk {files / 'objects.pt'}: not a torch weights file")
    assert "weights_only" not in err
    assert main([*base, "--out", str(tmp_path / "run"), "--init-trunk", str(tmp_path)]) == 2
    _one_line(capsys, f"--init-trunk {tmp_path}: is a folder")
    assert not (tmp_path / "run").exists()


def test_train_internet_resume_with_nothing_to_resume_makes_no_folder(files, tmp_path, capsys):
    empty = tmp_path / "empty-run"
    assert main(["train-internet", str(tmp_path / "no-source"), "--resume", "--out",
                 str(empty)]) == 2
    _one_line(capsys, "--resume", "checkpoint.pth: no checkpoint to resume from")
    assert not empty.exists()


@pytest.mark.skipif(ROOT, reason="root writes into a read-only folder: chmod cannot make one")
def test_train_internet_out_in_a_read_only_folder(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main(["train-internet", str(tmp_path / "src"), "--out", str(ro / "run")]) == 2
    finally:
        ro.chmod(0o755)
    _one_line(capsys, f"--out {ro / 'run'}: cannot write in the folder {ro}")


@pytest.mark.parametrize("image, says", [("truncated.jpg", "truncated JPEG"),
                                         ("absent.jpg", "no such image file")])
def test_infer_unreadable_image_is_one_stderr_line_without_opencv_noise(files, tmp_path,
                                                                        image, says):
    res = run_cli("infer", files / "internet.pt", files / image, "--bbox", *BOX, "--out",
                  tmp_path / "o.png")
    assert res.returncode == 2
    lines = stderr_lines(res)
    assert len(lines) == 1, res.stderr
    assert image in lines[0] and says in lines[0]
