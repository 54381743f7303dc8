"""The machine a demo ran on: CPU model, cores, memory, torch version, GPU (if any).

``annotator`` imports no torch (layer contract), so torch is asked in a child process.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

__all__ = ["machine_info"]

_TORCH_PROBE = (
    "import json, torch\n"
    "cuda = torch.cuda.is_available()\n"
    "print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(),\n"
    "  'gpu': torch.cuda.get_device_name(0) if cuda else None,\n"
    "  'gpus': torch.cuda.device_count() if cuda else 0}))\n"
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _torch() -> dict:
    try:
        done = subprocess.run([sys.executable, "-c", _TORCH_PROBE], capture_output=True,
                              text=True, timeout=120, check=False)
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return {"torch": None, "threads": None, "gpu": None, "gpus": 0}


def machine_info() -> dict:
    """A JSON-ready description of this machine (for the report and summary.json)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 0
    info = {
        "cpu": _cpu_model(),
        "cores": cores,
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "host": platform.node(),
    }
    info.update(_torch())
    return info
