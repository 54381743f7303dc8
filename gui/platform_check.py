"""Check, before Qt starts, that the app can open a window on this Linux desktop.

Qt aborts the whole process with a generic "could not load the Qt platform plugin xcb"
when a system library of its X11 plugin is missing (a bare desktop or a minimal container
often lacks libxcb-icccm4, libxcb-keysyms1 and libxcb-xinerama0), or when there is no
display. :func:`startup_problem` finds either case first and says what to install or set.
No Qt imported here (so the check runs before Qt can abort).
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["startup_problem", "missing_libraries", "debian_package", "xcb_plugin_path"]

#: Platforms that draw without a display server (screenshots, tests).
_HEADLESS = ("offscreen", "minimal", "vnc", "linuxfb", "eglfs", "webgl")


def xcb_plugin_path() -> Path | None:
    """The X11 platform plugin of the installed PyQt5 wheel (None when not found)."""
    try:
        import PyQt5
    except ImportError:
        return None
    base = Path(PyQt5.__file__).parent
    for sub in ("Qt5/plugins/platforms", "Qt/plugins/platforms"):
        p = base / sub / "libqxcb.so"
        if p.is_file():
            return p
    return None


def missing_libraries(plugin: Path) -> list[str]:
    """Shared libraries ``plugin`` needs that the dynamic loader cannot find (sonames).

    Uses ``ldd`` (which lists every missing one); without it, a trial load names the first.
    """
    ldd = shutil.which("ldd")
    if ldd:
        try:
            out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True,
                                 timeout=30, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        found = re.findall(r"^\s*(\S+)\s*=>\s*not found", out, flags=re.MULTILINE)
        if found or out:
            return sorted(set(found))
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        m = re.match(r"([^:\s]+\.so[.\d]*):", str(exc))
        return [m.group(1)] if m else [str(exc)]
    return []


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that ships ``soname`` (their names follow the soname:
    ``libxcb-icccm.so.4`` -> ``libxcb-icccm4``, ``libxkbcommon-x11.so.0`` ->
    ``libxkbcommon-x11-0``)."""
    m = re.fullmatch(r"(lib[^/]+?)\.so\.(\d+)(?:\.\d+)*", soname)
    if not m:
        return soname
    stem, major = m.group(1).lower(), m.group(2)
    return f"{stem}-{major}" if stem[-1].isdigit() else f"{stem}{major}"


def startup_problem(env: dict | None = None, platform: str | None = None,
                    plugin: Path | None = None) -> str | None:
    """Why Qt cannot open a window here (one message saying what to do), or None.

    Args:
        env: environment (default ``os.environ``).
        platform: ``sys.platform`` (default the running one); only Linux is checked.
        plugin: the xcb plugin to check (default :func:`xcb_plugin_path`).
    """
    env = os.environ if env is None else env
    if not (platform or sys.platform).startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if qpa in _HEADLESS or qpa.startswith("wayland"):
        return None
    plugin = plugin if plugin is not None else xcb_plugin_path()
    if plugin is not None:
        missing = missing_libraries(plugin)
        if missing:
            pkgs = " ".join(dict.fromkeys(debian_package(m) for m in missing))
            return (f"Qt cannot start its X11 (xcb) plugin: missing system "
                    f"librar{'ies' if len(missing) > 1 else 'y'} {', '.join(missing)}. "
                    f"On Debian/Ubuntu: sudo apt-get install {pkgs} "
                    "(for screenshots without a display: QT_QPA_PLATFORM=offscreen)")
    if not env.get("DISPLAY"):
        return ("no X display to open the window on (DISPLAY is not set): run it in a "
                "desktop session, over ssh -X, or under xvfb-run; for screenshots without "
                "a display set QT_QPA_PLATFORM=offscreen")
    return None
