"""Calibration versions of :class:`~annotator.store.ProjectStore`.

``cameras.toml`` always holds the **active** calibration, so every reader (the app, every
command) uses it without knowing about versions. Refining the cameras from the labels
(``annotator refine-calibration``) adds a version instead of overwriting:

- ``calibrations/v0001.toml``, ``v0002.toml`` ...: every calibration the project has had,
  written once and never changed (v0001 is the calibration the project was created with,
  saved the first time another one is set);
- ``calibrations.json``: ``{"format": 1, "active": N, "versions": [{"version", "file",
  "created", "note"}, ...]}``.

:meth:`set_calibration` is an edit like the label edits: pending (and already what
:attr:`rigs` returns) until :meth:`save`, which writes the new version's file and then moves
``cameras.toml``, ``calibrations.json`` and the other changed files into place as one
journaled commit. A project without ``calibrations.json`` has one version, the one it was
created with. Restoring a version adds a new version with its cameras (the history only
grows).

A mixin relying on the store's ``path``, ``_rigs``, ``_captures``, ``_need_write``.
"""

from __future__ import annotations

import json
import time as _time
from dataclasses import dataclass
from pathlib import Path

from annotator.store.atomic import atomic_write_bytes, stage_bytes
from annotator.store.errors import ProjectFormatError
from annotator.store.layout import CALIBRATIONS_DIR, CALIBRATIONS_NAME, CAMERAS_NAME
from triangulation.camera import CameraRig

__all__ = ["CalibrationVersion", "CalibrationMixin"]

_FORMAT = 1


@dataclass(frozen=True)
class CalibrationVersion:
    """One calibration of the project: its number, file, creation time, why it was made."""

    version: int
    file: str  # relative to the project folder
    created: float
    note: str
    active: bool


class CalibrationMixin:
    """calibration_versions(), active_calibration, calibration_rigs(), set_calibration()."""

    _pending_calibration: tuple[dict[str, CameraRig], str, dict[str, CameraRig]] | None = None

    # -- reading ---------------------------------------------------------------------------
    def _calibration_index(self) -> dict:
        path = self.path / CALIBRATIONS_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            created = (self.path / CAMERAS_NAME).stat().st_mtime
            return {"format": _FORMAT, "active": 1, "versions": [
                {"version": 1, "file": CAMERAS_NAME, "created": created,
                 "note": "the calibration the project was created with"}]}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProjectFormatError(f"{path}: unreadable ({exc})") from None
        versions = data.get("versions") if isinstance(data, dict) else None
        if (not isinstance(versions, list) or not versions
                or not all(isinstance(v, dict) and {"version", "file"} <= set(v)
                           for v in versions)
                or data.get("active") not in [v["version"] for v in versions]):
            raise ProjectFormatError(f"{path}: not a calibration index of this toolkit")
        return data

    def calibration_versions(self) -> list[CalibrationVersion]:
        """Every calibration of the project, oldest first (saved ones; a pending
        :meth:`set_calibration` is not listed until :meth:`save`)."""
        data = self._calibration_index()
        return [CalibrationVersion(int(v["version"]), str(v["file"]),
                                   float(v.get("created", 0.0)), str(v.get("note", "")),
                                   int(v["version"]) == int(data["active"]))
                for v in data["versions"]]

    @property
    def active_calibration(self) -> int:
        """The number of the saved calibration ``cameras.toml`` holds."""
        return int(self._calibration_index()["active"])

    def calibration_rigs(self, version: int) -> dict[str, CameraRig]:
        """The rigs of calibration ``version`` (a ProjectFormatError for an unknown one)."""
        from triangulation.io import load_rigs

        known = {v.version: v for v in self.calibration_versions()}
        if version not in known:
            raise ProjectFormatError(
                f"{self.path}: no calibration version {version} (have "
                f"{', '.join(str(k) for k in sorted(known))})")
        return load_rigs(self.path / known[version].file)

    # -- editing ---------------------------------------------------------------------------
    def set_calibration(self, rigs: dict[str, CameraRig], note: str) -> int:
        """Make ``rigs`` the project's cameras from now (pending until :meth:`save`).

        The rigs must have the project's captures, and per capture the same camera names
        (in order) and image sizes. Returns the version number :meth:`save` gives them.
        """
        self._need_write()
        if not isinstance(rigs, dict) or set(rigs) != set(self._captures):
            got = sorted(rigs) if isinstance(rigs, dict) else type(rigs).__name__
            raise ProjectFormatError(
                f"set_calibration: rigs must be given for the captures {self._captures}, "
                f"got {got}")
        for cap in self._captures:
            old, new = self._rigs[cap], rigs[cap]
            same_names = isinstance(new, CameraRig) and new.names == old.names
            if not same_names or any((a.width, a.height) != (b.width, b.height)
                                     for a, b in zip(old, new, strict=True)):
                raise ProjectFormatError(
                    f"set_calibration: capture {cap!r} must keep its cameras "
                    f"{', '.join(old.names)} in order, with their image sizes")
        before = (self._pending_calibration[2] if self._pending_calibration is not None
                  else dict(self._rigs))
        self._pending_calibration = ({c: rigs[c] for c in self._captures}, str(note), before)
        self._rigs = dict(self._pending_calibration[0])
        return max(v.version for v in self.calibration_versions()) + 1

    def _discard_calibration(self) -> None:
        if self._pending_calibration is not None:
            self._rigs = dict(self._pending_calibration[2])
            self._pending_calibration = None

    @property
    def _calibration_dirty(self) -> bool:
        return self._pending_calibration is not None

    def _stage_calibration(self) -> tuple[list[tuple[Path, Path]], int | None]:
        """Write the pending calibration's version file(s) and stage ``cameras.toml`` and
        ``calibrations.json`` for the save's commit; ([], None) when nothing is pending."""
        if self._pending_calibration is None:
            return [], None
        from triangulation.io import dumps_rigs

        rigs, note, _ = self._pending_calibration
        data = self._calibration_index()
        versions = list(data["versions"])
        folder = self.path / CALIBRATIONS_DIR
        folder.mkdir(exist_ok=True)
        if versions[0]["file"] == CAMERAS_NAME:  # the first refinement: keep the original
            first = f"{CALIBRATIONS_DIR}/v0001.toml"
            atomic_write_bytes(self.path / first, (self.path / CAMERAS_NAME).read_bytes())
            versions[0] = {**versions[0], "file": first}
        number = max(int(v["version"]) for v in versions) + 1
        text = dumps_rigs(rigs).encode("utf-8")
        name = f"{CALIBRATIONS_DIR}/v{number:04d}.toml"
        atomic_write_bytes(self.path / name, text)  # a new file: no reader depends on it yet
        versions.append({"version": number, "file": name, "created": _time.time(),
                         "note": note})
        index = json.dumps({"format": _FORMAT, "active": number, "versions": versions},
                           indent=1).encode("utf-8")
        staged = [(stage_bytes(self.path / CAMERAS_NAME, text), self.path / CAMERAS_NAME),
                  (stage_bytes(self.path / CALIBRATIONS_NAME, index),
                   self.path / CALIBRATIONS_NAME)]
        return staged, number

    def _calibration_committed(self) -> None:
        self._pending_calibration = None
