"""The files of a labelling team under ``PROJECT/team/`` (``annotator assign / collect / qc``).

- ``team.json``: the project's id and every work package handed out: its id, annotator,
  folder, seed, the calibration version it was cut from, and its queue (per package row:
  the project instant and whether it is ``work``, ``gold`` or ``repeat``). The annotator
  never sees this file; the package holds only its instants.
- ``gold.h5``: ``instant (G,)``, ``joints_mm (G, J, 3)`` NaN = none: the trusted 3D of the
  gold instants, frozen when they were assigned (ground truth on a synthetic capture, else
  the human labels of then), so later edits to the project do not move the yardstick.
- ``answers/<package>.h5``: what ``collect`` brought back from one package, per package
  row: hand presence, clicks and 3D joints with their times, and the digest of the answer;
  ``seen_digests`` keeps every digest that package's answers ever had (``collect`` writes
  only over project labels that are one of them, never over someone's later edit).

Writes are atomic (temporary file + rename) and need the project open for writing; the
caller holds its lock.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from annotator.store.errors import ProjectFormatError, ProjectReadOnlyError
from annotator.store.layout import ANSWERS_DIR, GOLD_NAME, TEAM_NAME, team_dir
from atomic_files import atomic_file, atomic_write_bytes

__all__ = [
    "ROW_KINDS",
    "PackageRecord",
    "TeamLedger",
    "PackageAnswers",
    "read_ledger",
    "write_ledger",
    "read_gold",
    "write_gold",
    "read_answers",
    "write_answers",
    "answered_packages",
]

#: What a package row is for: labelling, measuring against trusted 3D, or measuring agreement.
ROW_KINDS: tuple[str, ...] = ("work", "gold", "repeat")
_VERSION = 1


@dataclass(frozen=True)
class PackageRecord:
    """One work package: ``instants[k]`` is the project instant of package row ``k``."""

    id: str
    annotator: str
    path: str
    created: float
    seed: int
    calibration_version: int
    instants: np.ndarray
    kinds: np.ndarray

    def to_json(self) -> dict:
        return {
            "id": self.id, "annotator": self.annotator, "path": self.path,
            "created": self.created, "seed": self.seed,
            "calibration_version": self.calibration_version,
            "instants": [int(i) for i in self.instants],
            "kinds": [str(k) for k in self.kinds],
        }


@dataclass(frozen=True)
class TeamLedger:
    """``team.json``: the project's id and its packages in the order they were made."""

    project_id: str
    packages: tuple[PackageRecord, ...] = ()

    def package(self, package_id: str) -> PackageRecord | None:
        return next((p for p in self.packages if p.id == package_id), None)

    def annotators(self) -> list[str]:
        """Annotator names in the order of their first package."""
        return list(dict.fromkeys(p.annotator for p in self.packages))


def _ledger_path(project: Path) -> Path:
    return team_dir(project) / TEAM_NAME


def read_ledger(project: Path) -> TeamLedger | None:
    """``team.json`` of ``project``, or None when no package was ever assigned."""
    path = _ledger_path(Path(project))
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("version") != _VERSION:
            raise ValueError(f"unknown version {doc.get('version')!r}")
        packages = []
        for p in doc["packages"]:
            kinds = np.array(p["kinds"], dtype=object).astype(str)
            instants = np.array(p["instants"], np.int64)
            if kinds.shape != instants.shape or not set(kinds.tolist()) <= set(ROW_KINDS):
                raise ValueError(f"package {p.get('id')!r}: bad queue")
            packages.append(PackageRecord(
                id=str(p["id"]), annotator=str(p["annotator"]), path=str(p["path"]),
                created=float(p["created"]), seed=int(p["seed"]),
                calibration_version=int(p["calibration_version"]),
                instants=instants, kinds=kinds,
            ))
        return TeamLedger(str(doc["project_id"]), tuple(packages))
    except (ValueError, KeyError, TypeError) as exc:
        raise ProjectFormatError(f"{path}: not a team ledger this code wrote ({exc})") from None


def write_ledger(store, ledger: TeamLedger) -> None:
    """Atomically write ``team.json`` of ``store`` (open for writing)."""
    _need_write(store)
    doc = {"version": _VERSION, "project_id": ledger.project_id,
           "packages": [p.to_json() for p in ledger.packages]}
    path = _ledger_path(store.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(doc, indent=1) + "\n").encode("utf-8"))


def read_gold(project: Path, num_joints: int) -> tuple[np.ndarray, np.ndarray]:
    """``(instant (G,), joints_mm (G, J, 3))`` of ``gold.h5``; empty when there is none."""
    path = team_dir(project) / GOLD_NAME
    if not path.is_file():
        return np.zeros(0, np.int64), np.zeros((0, num_joints, 3))
    try:
        with h5py.File(path, "r") as f:
            inst = np.asarray(f["instant"], np.int64)
            joints = np.asarray(f["joints_mm"], np.float64)
    except (OSError, KeyError) as exc:
        raise ProjectFormatError(f"{path}: unreadable gold file ({exc})") from None
    if joints.shape != (inst.size, num_joints, 3):
        raise ProjectFormatError(f"{path}: joints_mm has shape {joints.shape}")
    return inst, joints


def write_gold(store, instants: np.ndarray, joints_mm: np.ndarray) -> None:
    """Add (or replace) the trusted 3D of ``instants`` in ``gold.h5``; rows already there for
    other instants stay."""
    _need_write(store)
    J = joints_mm.shape[1]
    old_i, old_j = read_gold(store.path, J)
    keep = ~np.isin(old_i, instants)
    inst = np.concatenate([old_i[keep], np.asarray(instants, np.int64)])
    joints = np.concatenate([old_j[keep], np.asarray(joints_mm, np.float64)])
    order = np.argsort(inst, kind="stable")
    path = team_dir(store.path) / GOLD_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp, h5py.File(tmp, "w") as f:
        f["instant"] = inst[order]
        f["joints_mm"] = joints[order]


@dataclass(frozen=True)
class PackageAnswers:
    """What one package brought back, per package row ``k`` (project instant ``instants[k]``).

    hands (K, 2) int8 -1/0/1; clicks as rows ``click_row, click_camera`` (project camera
    index), ``click_joint, click_uv (N, 2), click_time``; 3D joints as rows ``joint_row,
    joint_joint, joint_xyz (M, 3), joint_time``; the app's per-view occluded / locked marks
    as rows ``state_row, state_camera, state_joint, state_value``; ``digests (K,)`` of each
    row's answer ("" = nothing labelled) and ``seen_digests``, every digest it ever had.
    """

    package: str
    annotator: str
    collected_at: float
    instants: np.ndarray
    hands: np.ndarray
    click_row: np.ndarray
    click_camera: np.ndarray
    click_joint: np.ndarray
    click_uv: np.ndarray
    click_time: np.ndarray
    joint_row: np.ndarray
    joint_joint: np.ndarray
    joint_xyz: np.ndarray
    joint_time: np.ndarray
    state_row: np.ndarray
    state_camera: np.ndarray
    state_joint: np.ndarray
    state_value: np.ndarray
    digests: np.ndarray
    seen_digests: frozenset[str] = field(default_factory=frozenset)

    def joints_dense(self, num_joints: int) -> np.ndarray:
        """(K, J, 3) every row's 3D joints, NaN where the row has none."""
        out = np.full((self.instants.size, num_joints, 3), np.nan)
        out[self.joint_row, self.joint_joint] = self.joint_xyz
        return out

    def same_answers(self, other: PackageAnswers | None) -> bool:
        return other is not None and np.array_equal(self.digests, other.digests) and \
            np.array_equal(self.instants, other.instants)


_ARRAYS = ("instants", "hands", "click_row", "click_camera", "click_joint", "click_uv",
           "click_time", "joint_row", "joint_joint", "joint_xyz", "joint_time", "state_row",
           "state_camera", "state_joint", "state_value")


def _answers_path(project: Path, package_id: str) -> Path:
    return team_dir(project) / ANSWERS_DIR / f"{package_id}.h5"


def answered_packages(project: Path) -> list[str]:
    """Ids of the packages collected into ``project`` (sorted)."""
    folder = team_dir(project) / ANSWERS_DIR
    return sorted(p.stem for p in folder.glob("*.h5")) if folder.is_dir() else []


def read_answers(project: Path, package_id: str) -> PackageAnswers | None:
    """The collected answers of one package, or None if it was never collected."""
    path = _answers_path(Path(project), package_id)
    if not path.is_file():
        return None
    try:
        with h5py.File(path, "r") as f:
            arrays = {k: np.asarray(f[k]) for k in _ARRAYS}
            digests = np.asarray(f["digests"]).astype(str)
            attrs = dict(f.attrs)
        return PackageAnswers(
            package=str(attrs["package"]), annotator=str(attrs["annotator"]),
            collected_at=float(attrs["collected_at"]), digests=digests,
            seen_digests=frozenset(json.loads(str(attrs["seen_digests"]))), **arrays,
        )
    except (OSError, KeyError, ValueError) as exc:
        raise ProjectFormatError(f"{path}: unreadable answers file ({exc})") from None


def write_answers(store, answers: PackageAnswers) -> None:
    """Atomically write ``answers/<package>.h5`` of ``store`` (open for writing)."""
    _need_write(store)
    if not math.isfinite(answers.collected_at):
        raise ValueError("collected_at must be finite")
    path = _answers_path(store.path, answers.package)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp, h5py.File(tmp, "w") as f:
        for k in _ARRAYS:
            f[k] = np.asarray(getattr(answers, k))
        f["digests"] = np.asarray(answers.digests, dtype=h5py.string_dtype())
        f.attrs["package"] = answers.package
        f.attrs["annotator"] = answers.annotator
        f.attrs["collected_at"] = answers.collected_at
        f.attrs["seen_digests"] = json.dumps(sorted(answers.seen_digests))


def _need_write(store) -> None:
    if not store.writable:
        raise ProjectReadOnlyError(f"{store.path}: open the project for writing to change team/")
