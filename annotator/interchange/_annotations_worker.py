"""``python -m annotator.interchange._annotations_worker DATA_JSON OUT_DIR``: the
``annotations`` pass of a streamed InterHand2.6M import, run beside the ``images`` pass.

A separate interpreter started with ``subprocess`` (not multiprocessing: that re-imports
the caller's ``__main__``, which breaks under ``python -`` and re-runs unguarded scripts).
Writes ``OUT_DIR/annotations.npz`` (the numpy columns) and ``OUT_DIR/annotations.json``
(``extra``, ``style``, ``peak_rss_mb``), or ``OUT_DIR/error.json`` (``type``,
``message``) and exits 3 on a bad file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _hwm_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return 0.0


def main(argv: list[str]) -> int:
    import numpy as np

    from annotator.interchange.interhand_stream_data import AnnotationPass

    data, out = Path(argv[0]), Path(argv[1])
    try:
        res = AnnotationPass(data).run()
    except (ValueError, OSError) as exc:
        body = {"type": type(exc).__name__, "message": str(exc)}
        (out / "error.json").write_text(json.dumps(body))
        return 3
    extra = {str(k): v for k, v in res.pop("extra").items()}
    style = res.pop("style")
    np.savez(out / "annotations.npz", **res)
    body = {"extra": extra, "style": style, "peak_rss_mb": _hwm_mb()}
    (out / "annotations.json").write_text(json.dumps(body))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
