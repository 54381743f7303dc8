"""Schema migrations: ``MIGRATIONS[n]`` upgrades a project folder from schema n to n + 1.

They run when a project is opened for writing (``ProjectStore.open(path, "w")``), under the
write lock. Each step rewrites its files atomically and keeps a ``*.schema<n>.bak`` copy of
what it replaced; ``project.toml`` gets the new version last, so a killed migration is
simply run again (every step checks what it finds and is idempotent).

Schema history:

- 0 (pre-release): ``labels.h5`` held dense arrays ``joints_world_mm (F, J, 3)``,
  ``clicks_uv_px (F, C, J, 2)`` and ``hand_present (F, 2)``, NaN / -1 for unset, without
  provenance; ``project.toml`` had no ``skeleton`` key.
- 1: sparse label tables with provenance (annotator, time, source), see
  :mod:`annotator.store.labels`.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from annotator.store.atomic import atomic_file
from annotator.store.errors import ProjectFormatError
from annotator.store.labels import write_labels_file
from annotator.store.layout import LABELS_NAME, PROJECT_NAME
from annotator.store.project_file import (
    SCHEMA_VERSION,
    SKELETON_ID,
    read_project_file,
    read_raw,
    write_project_file,
)

__all__ = ["MIGRATIONS", "migrate", "V0_ANNOTATOR"]

logger = logging.getLogger(__name__)

#: Annotator name given to labels carried over from schema 0, which did not record one.
V0_ANNOTATOR = "unknown (schema 0)"


def _v0_to_v1(project_dir: Path) -> None:
    """Dense schema-0 labels -> sparse schema-1 tables with source "human"."""
    path = project_dir / LABELS_NAME
    if not path.exists():
        return
    try:
        with h5py.File(path, "r") as f:
            if "joints_world_mm" not in f:  # already converted by an interrupted run
                return
            joints = f["joints_world_mm"][...]
            clicks = f["clicks_uv_px"][...] if "clicks_uv_px" in f else None
            hands = f["hand_present"][...] if "hand_present" in f else None
    except OSError as exc:
        raise ProjectFormatError(f"{path}: unreadable schema-0 labels ({exc})") from None
    if joints.ndim != 3 or joints.shape[2] != 3:
        raise ProjectFormatError(f"{path}: schema-0 joints_world_mm must be (F, J, 3)")
    J = joints.shape[1]
    when = float(path.stat().st_mtime)
    strings = ["", V0_ANNOTATOR]
    tables = {}
    inst, jnt = np.nonzero(np.all(np.isfinite(joints), axis=-1))
    n = inst.size
    tables["joints"] = (
        inst,
        jnt,
        {
            "xyz_mm": joints[inst, jnt],
            "source": np.full(n, 1, "i1"),
            "annotator": np.full(n, 1, "i4"),
            "time": np.full(n, when),
        },
    )
    if clicks is not None:
        inst, cam, jc = np.nonzero(np.all(np.isfinite(clicks), axis=-1))
        n = inst.size
        tables["clicks"] = (
            inst,
            cam * J + jc,
            {
                "uv_px": clicks[inst, cam, jc],
                "annotator": np.full(n, 1, "i4"),
                "time": np.full(n, when),
            },
        )
    else:
        tables["clicks"] = (
            np.empty(0, int),
            np.empty(0, int),
            {"uv_px": np.empty((0, 2)), "annotator": np.empty(0, "i4"), "time": np.empty(0)},
        )
    if hands is not None:
        inst, hand = np.nonzero(hands >= 0)
        tables["hands"] = (inst, hand, {"present": hands[inst, hand].astype("i1")})
    else:
        tables["hands"] = (np.empty(0, int), np.empty(0, int), {"present": np.empty(0, "i1")})
    tables["flags"] = (np.empty(0, int), np.empty(0, int), {"reason": np.empty(0, "i4")})
    shutil.copy2(path, path.with_name(LABELS_NAME + ".schema0.bak"))
    with atomic_file(path) as tmp:
        write_labels_file(tmp, strings, tables, J)
    logger.info("%s: converted schema-0 dense labels to sparse tables", path)


#: MIGRATIONS[n] takes a project folder from schema n to n + 1.
MIGRATIONS: list[Callable[[Path], None]] = [_v0_to_v1]
assert len(MIGRATIONS) == SCHEMA_VERSION  # a new schema needs its migration


def migrate(project_dir: Path) -> int:
    """Upgrade ``project_dir`` to :data:`SCHEMA_VERSION`; returns the version it had.

    The caller must hold the project's write lock.
    """
    project_dir = Path(project_dir)
    pf = read_project_file(project_dir)
    start = pf.schema_version
    if start > SCHEMA_VERSION:
        raise ProjectFormatError(
            f"{project_dir / PROJECT_NAME}: schema {start} is newer than this version of the "
            f"toolkit understands ({SCHEMA_VERSION}); upgrade the toolkit"
        )
    for version in range(start, SCHEMA_VERSION):
        logger.warning("%s: migrating project schema %d -> %d", project_dir, version, version + 1)
        MIGRATIONS[version](project_dir)
        raw = read_raw(project_dir)
        pf = read_project_file(project_dir).replace(
            schema_version=version + 1, skeleton=raw.get("skeleton", SKELETON_ID)
        )
        write_project_file(project_dir, pf)
    return start
