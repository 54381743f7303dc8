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


def _plugin(root, name: str, module: str, body: str) -> None:
    """An installed distribution (a dist-info folder on sys.path) declaring one command."""
    (root / f"{module}.py").write_text(body)
    info = root / "annotator_plugin_test-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: annotator-plugin-test\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text(f"[annotator.commands]\n{name} = {module}\n")


def _run_with(root, *argv):
    import os

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(root), *filter(None, [os.environ.get("PYTHONPATH")])]))
    return subprocess.run([sys.executable, "-m", "annotator.cli.main", *argv],
                          capture_output=True, text=True, env=env)


def test_another_package_adds_a_command_through_its_entry_point(tmp_path):
    _plugin(tmp_path, "hello", "hello_cmd", (
        "def register(sub):\n"
        "    p = sub.add_parser('hello', help='say hello from a plugin')\n"
        "    p.add_argument('who')\n"
        "    return p\n"
        "def run(args):\n"
        "    print('hello', args.who)\n"
        "    return 0\n"))
    listed = _run_with(tmp_path, "--help")
    assert listed.returncode == 0 and "say hello from a plugin" in listed.stdout
    # plugins without an ORDER come after the toolkit's own commands
    assert listed.stdout.index("hello") > listed.stdout.index("export-coco")
    done = _run_with(tmp_path, "hello", "world")
    assert done.returncode == 0 and done.stdout.strip() == "hello world"


def test_a_command_module_without_run_or_a_clashing_name_is_refused(tmp_path):
    _plugin(tmp_path, "broken", "broken_cmd", "def register(sub):\n    return None\n")
    out = _run_with(tmp_path, "--help")
    assert out.returncode != 0
    assert "command 'broken' (broken_cmd) has no run() function" in out.stderr
    clash = tmp_path / "clash"
    clash.mkdir()
    _plugin(clash, "status", "status_clone",
            "def register(sub):\n    pass\ndef run(a):\n    pass\n")
    out = _run_with(clash, "--help")
    assert out.returncode != 0 and "two packages declare the command 'status'" in out.stderr
