"""``annotator gui`` as a real subprocess: bad arguments are one stderr line, before Qt
starts and prints its own lines; a good screenshot run prints no Qt noise."""

from __future__ import annotations

from tests._support.cli import run_cli, stderr_lines


def test_not_a_project_is_one_line(tmp_path):
    r = run_cli("gui", tmp_path / "nope", "--screenshot", tmp_path / "x.png")
    assert r.returncode == 2
    assert stderr_lines(r) == [f"annotator gui: error: {tmp_path / 'nope'}: not a project "
                               "(no project.toml)"]


def test_a_screenshot_path_qt_cannot_write_is_refused_first(project, tmp_path):
    r = run_cli("gui", project, "--screenshot", tmp_path / "x.xyz")
    assert r.returncode == 2
    (line,) = stderr_lines(r)
    assert "--screenshot" in line and ".xyz" in line
    r = run_cli("gui", project, "--screenshot", tmp_path)
    assert r.returncode == 2 and "is a folder" in stderr_lines(r)[0]
    assert len(stderr_lines(r)) == 1


def test_a_screenshot_prints_no_qt_noise(project, tmp_path):
    out = tmp_path / "new" / "shot.png"  # missing folders are made
    r = run_cli("gui", project, "--screenshot", out, "--size", "800x500")
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 10_000
    assert "propagateSizeHints" not in r.stderr and "XDG_RUNTIME_DIR" not in r.stderr
