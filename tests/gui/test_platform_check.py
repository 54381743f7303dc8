"""The start-up check that replaces Qt's "could not load the Qt platform plugin xcb" abort
with what to install: against the real PyQt5 plugin, a built plugin with a missing
dependency, and ``annotator gui`` in a subprocess."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gui.platform_check import (
    debian_package,
    missing_libraries,
    startup_problem,
    xcb_plugin_path,
)


def test_debian_package_names_follow_the_soname():
    assert debian_package("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert debian_package("libxcb-keysyms.so.1") == "libxcb-keysyms1"
    assert debian_package("libxcb-xinerama.so.0") == "libxcb-xinerama0"
    assert debian_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert debian_package("libX11-xcb.so.1.0.0") == "libx11-xcb1"


def test_the_real_plugin_check_agrees_with_the_loader():
    plugin = xcb_plugin_path()
    if plugin is None:
        pytest.skip("PyQt5 ships no libqxcb.so here")
    missing = missing_libraries(plugin)
    try:
        ctypes.CDLL(str(plugin))
        loads = True
    except OSError:
        loads = False
    assert loads == (not missing), missing
    problem = startup_problem({"DISPLAY": ":0"}, "linux")
    if missing:
        assert all(m in problem for m in missing) and "apt-get install" in problem
    else:
        assert problem is None


def _plugin_with_missing_dependency(tmp_path: Path) -> Path:
    """A shared object that links a library which is then removed (a missing system lib)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build a plugin with a missing dependency")
    (tmp_path / "dep.c").write_text("int dep_value(void) { return 42; }\n")
    (tmp_path / "plugin.c").write_text(
        "int dep_value(void);\nint plugin_value(void) { return dep_value(); }\n")
    dep = tmp_path / "libxcb-fakeicccm.so.4"
    subprocess.run([cc, "-shared", "-fPIC", "-Wl,-soname,libxcb-fakeicccm.so.4", "-o", str(dep),
                    str(tmp_path / "dep.c")], check=True)
    (tmp_path / "libxcb-fakeicccm.so").symlink_to(dep.name)
    plugin = tmp_path / "libqxcb.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(plugin), str(tmp_path / "plugin.c"),
                    f"-L{tmp_path}", "-lxcb-fakeicccm"], check=True)
    dep.unlink()
    (tmp_path / "libxcb-fakeicccm.so").unlink()
    return plugin


def test_a_missing_system_library_is_named_with_its_package(tmp_path):
    plugin = _plugin_with_missing_dependency(tmp_path)
    assert missing_libraries(plugin) == ["libxcb-fakeicccm.so.4"]
    problem = startup_problem({"DISPLAY": ":0"}, "linux", plugin)
    assert "libxcb-fakeicccm.so.4" in problem
    assert "sudo apt-get install libxcb-fakeicccm4" in problem
    # headless platforms and other systems are not checked
    assert startup_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux", plugin) is None
    assert startup_problem({"DISPLAY": ":0"}, "darwin", plugin) is None


def test_no_display_is_said_plainly(tmp_path):
    # a plugin whose libraries all load: only the display is missing
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build a loadable plugin")
    (tmp_path / "p.c").write_text("int plugin_value(void) { return 1; }\n")
    plugin = tmp_path / "libqxcb.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(plugin), str(tmp_path / "p.c")],
                   check=True)
    assert missing_libraries(plugin) == []
    problem = startup_problem({}, "linux", plugin)
    assert "DISPLAY is not set" in problem and "xvfb-run" in problem
    assert startup_problem({"DISPLAY": ":1"}, "linux", plugin) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb plugin is Linux's")
def test_annotator_gui_prints_one_line_instead_of_the_qt_abort(project):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM",)}
    env["QT_QPA_PLATFORM"] = "xcb"
    env["DISPLAY"] = ":97"  # no X server there
    code = "import sys; from annotator.cli.main import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run([sys.executable, "-c", code, "gui", str(project)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    plugin = xcb_plugin_path()
    if plugin is not None and missing_libraries(plugin):
        assert len(lines) == 1, r.stderr
        assert "apt-get install" in lines[0] and "could not load" not in r.stderr
    else:  # the libraries are there: Qt itself reports the missing X server
        assert "could not connect to display" in r.stderr or "DISPLAY" in r.stderr
