"""load_torch_file: a safe load, or one line saying what the file is not (issue 25, item 5)."""

from __future__ import annotations

import argparse
import pickle

import pytest
import torch

from torch_common import load_torch_file

WHAT = "a torch weights file"


def _files(tmp_path):
    good = tmp_path / "good.pt"
    torch.save({"w": torch.ones(2)}, good)
    data = good.read_bytes()
    made = {
        "objects": None,
        "truncated": data[: len(data) // 2],
        "garbage": b"this is not a torch file\n" * 8,
        "empty": b"",
        "plain pickle": pickle.dumps({"w": [1, 2]}),
    }
    paths = {}
    for name, content in made.items():
        p = tmp_path / f"{name.replace(' ', '_')}.pt"
        if content is None:  # a file whose unpickling would build arbitrary Python objects
            torch.save({"args": argparse.Namespace(lr=1.0), "w": torch.ones(2)}, p)
        else:
            p.write_bytes(content)
        paths[name] = p
    return good, paths


def test_a_weights_file_loads(tmp_path):
    good, _ = _files(tmp_path)
    torch.testing.assert_close(load_torch_file(good, WHAT)["w"], torch.ones(2))


@pytest.mark.parametrize(
    "name, says",
    [
        ("objects", "holds Python objects besides tensors"),
        ("truncated", "damaged or truncated"),
        ("garbage", "not a file torch.save writes"),
        ("empty", "an empty file"),
        ("plain pickle", "not a file torch.save writes"),
    ],
)
def test_a_bad_file_is_one_line_without_the_unsafe_advice(tmp_path, name, says):
    _, paths = _files(tmp_path)
    with pytest.raises(ValueError) as info:
        load_torch_file(paths[name], WHAT, name=f"--init-weights {paths[name]}")
    msg = str(info.value)
    assert msg.startswith(f"--init-weights {paths[name]}: ")
    assert says in msg and WHAT in msg
    assert "\n" not in msg
    assert "weights_only" not in msg and "trust" not in msg.lower()


def test_a_folder_and_a_missing_file_are_named(tmp_path):
    with pytest.raises(ValueError, match="is a folder, not a torch weights file"):
        load_torch_file(tmp_path, WHAT)
    with pytest.raises(FileNotFoundError, match="absent.pt: no such file"):
        load_torch_file(tmp_path / "absent.pt", WHAT)
