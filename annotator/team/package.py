"""A work package: a small project holding one annotator's queue.

It shares the capture's images (its image root is the project's, no image is copied) and
holds a copy of the project's cameras (a few kB), one instant per queue row (capture as in
the project, sequence ``"queue"``, frame = the row number, so gold and repeat rows look like
any other), the per-instant ``subject`` where the project has one, and on a synthetic
capture the ground truth of its rows (so ``simulate-annotator`` can work on it). Its
``project.toml`` ``[metadata.work_package]`` names the package id, the annotator and the
project it came from; which rows are gold or repeats is kept in the project only.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from annotator.store import ProjectStore
from annotator.store.paths import EncodedPaths
from annotator.store.store_instants import VIDEO_PTS_ATTR

__all__ = ["PACKAGE_KEY", "SEQUENCE", "ANNOTATOR_NAME", "create_package", "package_info"]

#: The ``[metadata]`` table of a package's project.toml that makes it a package.
PACKAGE_KEY = "work_package"
#: The sequence name of every package instant.
SEQUENCE = "queue"
#: Annotator names double as folder names: letters, digits, ``_``, ``-``, ``.``.
ANNOTATOR_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


def package_info(store) -> dict | None:
    """``{"id", "annotator", "project_id", "project", "project_name"}`` of a package, or None
    when ``store`` is an ordinary project."""
    info = store.metadata.get(PACKAGE_KEY)
    return dict(info) if isinstance(info, dict) else None


def create_package(
    parent,
    folder: Path,
    package_id: str,
    annotator: str,
    instants: np.ndarray,
    project_id: str,
) -> None:
    """Write the package for ``instants`` (project rows, in queue order) at ``folder``."""
    instants = np.asarray(instants, np.int64)
    root = Path(parent.image_root).resolve()
    info = {
        "id": package_id, "annotator": annotator, "project_id": project_id,
        "project": str(Path(parent.path).resolve()), "project_name": parent.name,
    }
    video = {k: parent.settings[k] for k in ("source", "videos") if k in parent.settings}
    pkg = ProjectStore.create(folder, name=f"{parent.name} · {annotator}", rigs=parent.rigs,
                              image_root=str(root), metadata={PACKAGE_KEY: info},
                              settings=video)
    try:
        perm = np.array([parent.camera_index(n) for n in pkg.camera_names], np.int64)
        table = parent.instants()
        enc = parent.image_paths_encoded()  # relative to the shared image root
        rows = np.ix_(instants, perm)
        paths = EncodedPaths(enc.templates, enc.template[rows], enc.number[rows])
        pkg.add_instants(
            capture=table.capture[instants].tolist(),
            sequence=[SEQUENCE] * instants.size,
            frame=np.arange(instants.size, dtype=np.int64),
            image_paths=paths,
            instant_id=np.arange(instants.size, dtype=np.int64),
        )
        if VIDEO_PTS_ATTR in parent.image_attr_names():  # frames of videos: their timestamps
            pkg.set_image_attr(VIDEO_PTS_ATTR, parent.image_attr(VIDEO_PTS_ATTR)[rows])
        if "subject" in parent.instant_attr_names():
            pkg.set_instant_attr("subject", np.asarray(parent.instant_attr("subject"))[instants])
        if parent.has_ground_truth:
            _copy_ground_truth(parent, pkg, instants, perm)
        pkg.save()
    except BaseException:
        pkg.close(save=False)
        raise
    pkg.close()


def _copy_ground_truth(parent, pkg, instants: np.ndarray, perm: np.ndarray) -> None:
    gts = [parent.ground_truth(int(i)) for i in instants.tolist()]
    if any(g is None for g in gts):
        return
    pkg.write_ground_truth(
        joints_world_mm=np.stack([g.joints_world_mm for g in gts]),
        visible=np.stack([g.visible[perm] for g in gts]),
        uv_px=np.stack([g.uv_px[perm] for g in gts]),
        hand_present=np.stack([g.hand_present for g in gts]),
    )
