"""Issue 25: output paths and counts checked before the work, one line naming the argument.

Each bad path used to surface after the work as raw OS text (``[Errno 21] Is a directory:
'.jdir.tmp-…'``) or not at all (``--views 500`` on a 20-camera project ran).
"""

from __future__ import annotations

import hashlib
import os

import pytest

from annotator.cli.main import main
from annotator.store import ProjectStore

ROOT = os.geteuid() == 0


def _digest(project) -> dict[str, str]:
    """Content hash of every file of the project (nothing may change on an error)."""
    return {str(p.relative_to(project)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(project.rglob("*")) if p.is_file() and p.name != ".lock"}


def _one_line_error(capsys, *needles) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Errno" not in err and ".tmp" not in err, err
    for n in needles:
        assert n in err, err
    return err


def test_evaluate_json_that_is_a_folder(synth_copy, tmp_path, capsys):
    folder = tmp_path / "reports"
    folder.mkdir()
    assert main(["evaluate", str(synth_copy), "--json", str(folder)]) == 2
    _one_line_error(capsys, f"--json {folder}: is a folder, not a file")


def test_export_coco_under_a_file(synth_copy, tmp_path, capsys):
    afile = tmp_path / "afile.txt"
    afile.write_text("x")
    before = _digest(synth_copy)
    assert main(["export-coco", str(synth_copy), str(afile / "out.json")]) == 2
    _one_line_error(capsys, f"OUT {afile / 'out.json'}: {afile} is a file, not a folder")
    assert _digest(synth_copy) == before


def test_export_coco_into_a_folder(synth_copy, tmp_path, capsys):
    assert main(["export-coco", str(synth_copy), str(tmp_path)]) == 2
    _one_line_error(capsys, f"OUT {tmp_path}: is a folder, not a file")


def test_export_interhand_into_a_file(synth_copy, tmp_path, capsys):
    afile = tmp_path / "afile.txt"
    afile.write_text("x")
    assert main(["export-interhand", str(synth_copy), str(afile), "--split", "train"]) == 2
    _one_line_error(capsys, f"OUT {afile}: is a file, not a folder")
    assert afile.read_text() == "x"


def test_simulate_annotator_views_beyond_the_cameras(synth_copy, capsys):
    with ProjectStore.open(synth_copy) as store:
        cameras = len(store.camera_names)
    before = _digest(synth_copy)
    assert main(["simulate-annotator", str(synth_copy), "--views", "500"]) == 2
    _one_line_error(capsys, f"--views 500: more than the project's {cameras} cameras")
    assert _digest(synth_copy) == before


def test_simulate_annotator_json_under_a_file(synth_copy, tmp_path, capsys):
    afile = tmp_path / "afile.txt"
    afile.write_text("x")
    before = _digest(synth_copy)
    assert main(["simulate-annotator", str(synth_copy), "--json", str(afile / "s.json")]) == 2
    _one_line_error(capsys, f"--json {afile / 's.json'}: {afile} is a file, not a folder")
    assert _digest(synth_copy) == before  # refused before labelling anything


@pytest.mark.skipif(ROOT, reason="root writes into a read-only folder: chmod cannot make one")
def test_simulate_annotator_on_a_read_only_project(synth_copy, capsys):
    before = _digest(synth_copy)
    synth_copy.chmod(0o555)
    try:
        assert main(["simulate-annotator", str(synth_copy)]) == 2
    finally:
        synth_copy.chmod(0o755)
    _one_line_error(capsys, f"PROJECT {synth_copy}: cannot write in this folder")
    assert _digest(synth_copy) == before


@pytest.mark.skipif(ROOT, reason="root writes into a read-only folder: chmod cannot make one")
def test_evaluate_json_in_a_read_only_folder(synth_copy, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main(["evaluate", str(synth_copy), "--json", str(ro / "r.json")]) == 2
    finally:
        ro.chmod(0o755)
    _one_line_error(capsys, f"--json {ro / 'r.json'}: cannot write in the folder {ro}")
