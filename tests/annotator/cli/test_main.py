"""The ``annotator`` entry point: lazy imports, help, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

from annotator.cli.main import commands, main


def test_help_imports_nothing_heavy():
    # `annotator --help` must answer at once: building the parser may not import the
    # numerical stack, HDF5, OpenCV or torch (each subcommand imports them inside run()).
    code = (
        "import json, sys\n"
        "from annotator.cli.main import build_parser\n"
        "build_parser().format_help()\n"
        "heavy = ['numpy', 'h5py', 'cv2', 'scipy', 'torch', 'numba', 'PyQt5', 'tqdm']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_every_subcommand_has_help(capsys):
    for name in commands():
        try:
            main([name, "--help"])
        except SystemExit as exc:
            assert exc.code == 0
        assert f"usage: annotator {name}" in capsys.readouterr().out


def test_toolkit_status_json(capsys):
    assert main(["status", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert "triangulate_ransac" in info["triangulation"]


def test_missing_project_is_one_line_error(tmp_path, capsys):
    assert main(["status", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("annotator status: error:") and "\n" not in err


def test_second_writer_cli_error_is_one_line_not_a_traceback(tmp_path, capsys):
    from annotator.store import ProjectStore
    from tests.annotator.store.conftest import make_project

    holder = make_project(tmp_path / "p")
    try:
        assert main(["propagate", str(tmp_path / "p")]) == 2
    finally:
        holder.close()
    err = capsys.readouterr().err.strip()
    assert err.startswith("annotator propagate: error:") and "\n" not in err
    assert "project is open for writing by" in err
    with ProjectStore.open(tmp_path / "p", "w") as w:  # the lock was not left behind
        assert w.writable
