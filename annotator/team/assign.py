"""``annotator assign``: cut a project's instants into one work package per annotator.

The queues come from :func:`annotator.team.queues.plan_queues`; each package is written by
:func:`annotator.team.package.create_package` to ``OUT/<annotator>``; the project keeps the
secret part (which rows are gold or repeats) in ``team/team.json`` and freezes the trusted
3D of the gold instants in ``team/gold.h5``.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import numpy as np

from annotator import skeleton
from annotator.store import is_project
from annotator.store.team_files import (
    PackageRecord,
    TeamLedger,
    read_ledger,
    write_gold,
    write_ledger,
)
from annotator.team.package import ANNOTATOR_NAME, create_package
from annotator.team.queues import parse_instants, plan_queues

__all__ = ["PROJECT_ID_KEY", "assign", "project_id", "trusted_joints"]

#: ``[metadata]`` key of the project's id (made on the first ``assign``).
PROJECT_ID_KEY = "project_id"
_PRESENT = np.repeat(np.arange(len(skeleton.HANDS)), skeleton.JOINTS_PER_HAND)


def project_id(store) -> str:
    """The project's id, made (pending until save) if it has none yet."""
    pid = store.metadata.get(PROJECT_ID_KEY)
    if not isinstance(pid, str) or not pid:
        pid = uuid.uuid4().hex
        store.metadata[PROJECT_ID_KEY] = pid
    return pid


def trusted_joints(store, i: int) -> np.ndarray:
    """(J, 3) the trusted 3D of instant ``i``: ground truth of present hands on a synthetic
    capture, else its human labels (NaN where none)."""
    gt = store.ground_truth(int(i)) if store.has_ground_truth else None
    if gt is not None:
        return np.where(gt.hand_present[_PRESENT][:, None], gt.joints_world_mm, np.nan)
    lab = store.labels(int(i))
    return np.where((lab.joint_source == "human")[:, None], lab.joints_world_mm, np.nan)


def assign(
    store,
    annotators: list[str],
    out: Path,
    instants: str = "unlabelled",
    gold: float = 0.1,
    repeat: float = 0.1,
    seed: int = 0,
) -> list[PackageRecord]:
    """Write one package per annotator under ``out`` and record them in ``store`` (open for
    writing; saved). Returns the new packages. ValueError on a bad name, an empty
    selection, a package folder that already exists, or gold without trusted 3D."""
    for name in annotators:
        if not ANNOTATOR_NAME.match(name):
            raise ValueError(
                f"annotator name {name!r}: use letters, digits, '_', '-' or '.' (it names the "
                "package folder)"
            )
    out = Path(out)
    for name in annotators:
        if (out / name).exists():
            raise ValueError(
                f"{out / name} already exists: an annotator's package is never overwritten "
                "(choose another --out)"
            )
    if Path(store.path).resolve() in {(out / n).resolve() for n in annotators} or \
            is_project(out):
        raise ValueError(f"{out}: packages go in a folder of their own, not into a project")
    labelled = store.labelled_instants("human")
    chosen = parse_instants(instants, store.num_instants, labelled)
    if chosen.size == 0:
        raise ValueError(f"--instants {instants}: no instant selected (all labelled already?)")
    pool = np.arange(store.num_instants) if store.has_ground_truth else labelled
    queues = plan_queues(chosen, annotators, pool, gold, repeat, seed)
    pid = project_id(store)
    ledger = read_ledger(store.path) or TeamLedger(pid)
    if ledger.project_id != pid:
        raise ValueError(f"{store.path}: team/team.json belongs to another project id")
    now = time.time()
    records = []
    for q in queues:
        package_id = f"{q.annotator}-{uuid.uuid4().hex[:8]}"
        folder = out / q.annotator
        create_package(store, folder, package_id, q.annotator, q.instants, pid)
        records.append(PackageRecord(
            id=package_id, annotator=q.annotator, path=str(folder.resolve()), created=now,
            seed=int(seed), calibration_version=int(store.active_calibration),
            instants=q.instants, kinds=q.kinds,
        ))
    gold_instants = np.unique(np.concatenate(
        [r.instants[r.kinds == "gold"] for r in records] + [np.zeros(0, np.int64)]
    ))
    if gold_instants.size:
        write_gold(store, gold_instants,
                   np.stack([trusted_joints(store, i) for i in gold_instants.tolist()]))
    write_ledger(store, TeamLedger(pid, ledger.packages + tuple(records)))
    store.save()
    return records
