"""Reading a torch file the user names (a checkpoint, ImageNet weights), safely.

Every such file is read with ``weights_only=True``: tensors, numbers, strings and plain
containers, never arbitrary Python objects, since a file given on the command line may come
from anywhere. A file that cannot be read so is a one-line ValueError saying what it is not;
torch's own message (several lines, and the advice to retry with ``weights_only=False``,
which runs whatever code the file holds) is not passed on.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

__all__ = ["load_torch_file"]

_ZIP_MAGIC = b"PK\x03\x04"


def _why_unreadable(path: Path, exc: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` refused ``path``, in a few words."""
    with open(path, "rb") as f:
        head = f.read(4)
    text = str(exc)
    if head == _ZIP_MAGIC and "Weights only load failed" in text:
        return ("it holds Python objects besides tensors, numbers and plain containers, "
                "which a safe load refuses")
    if head == _ZIP_MAGIC:
        return "a damaged or truncated torch file"
    return "not a file torch.save writes"  # the unpickler fails in many ways on other bytes


def load_torch_file(
    path: str | Path,
    what: str,
    *,
    map_location: str | torch.device = "cpu",
    name: str | None = None,
) -> Any:
    """``torch.load(path, weights_only=True)``, or a one-line ValueError (FileNotFoundError
    for a missing file).

    ``what`` says what the file should be ("a torch weights file", "an InterNet
    checkpoint"); ``name`` is how the error names the file (default: the path; e.g.
    ``"--init-weights FILE"``). The error says what the file is not: missing, a folder,
    empty, damaged, foreign, or holding Python objects that a safe load refuses.
    """
    path = Path(path)
    shown = name or str(path)
    if path.is_dir():
        raise ValueError(f"{shown}: is a folder, not {what}")
    if not path.is_file():
        raise FileNotFoundError(f"{shown}: no such file")
    if path.stat().st_size == 0:
        raise ValueError(f"{shown}: an empty file, not {what}")
    try:
        with warnings.catch_warnings():
            # e.g. "Detected pickle protocol 4": noise ahead of the one-line error
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 (torch raises many types for a foreign file)
        raise ValueError(f"{shown}: not {what} ({_why_unreadable(path, exc)})") from None
