"""Memory figures of the bench scripts' processes (Linux /proc)."""

from __future__ import annotations


def hwm_mb() -> float:
    """This process's peak resident memory (VmHWM), MB; NaN where /proc has none."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return float("nan")
