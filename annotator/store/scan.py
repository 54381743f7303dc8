"""Build a project from an image folder laid out as a capture studio writes it.

Layout: ``<root>/<capture>/<sequence>/cam<camera>/image<frame>.<jpg|jpeg|png>``. Used by
``annotator init``; the CLI only parses arguments and shows progress.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annotator.store.errors import ProjectFormatError
from annotator.store.staging import staged_project

__all__ = ["ImageScan", "scan_image_folder", "init_project", "natural_key", "relative_root"]

logger = logging.getLogger(__name__)

_IMAGE_RE = re.compile(r"^image(\d+)\.(?:jpe?g|png)$", re.IGNORECASE)
_CAM_RE = re.compile(r"^cam(.+)$")


def natural_key(s: str) -> tuple:
    """Sort key that orders ``cam2`` before ``cam10``."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s))


def _subdirs(path: Path) -> list[str]:
    with os.scandir(path) as it:
        return sorted(
            (e.name for e in it if e.is_dir() and not e.name.startswith(".")), key=natural_key
        )


@dataclass(frozen=True)
class ImageScan:
    """What an image folder holds.

    images: {(capture, sequence, frame): {camera: relative path}}; cameras: {capture:
    camera names seen, natural order}.
    """

    root: Path
    images: dict[tuple[str, str, int], dict[str, str]]
    cameras: dict[str, list[str]]


def scan_image_folder(
    root: Path,
    captures: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImageScan:
    """Find every ``<capture>/<sequence>/cam<id>/image<frame>.*`` under ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise ProjectFormatError(f"{root}: image folder does not exist")
    caps = _subdirs(root) if captures is None else list(captures)
    for cap in caps:
        if not (root / cap).is_dir():
            raise ProjectFormatError(f"{root / cap}: capture folder does not exist")
    jobs = [(cap, seq) for cap in caps for seq in _subdirs(root / cap)]
    images: dict[tuple[str, str, int], dict[str, str]] = {}
    cameras: dict[str, list[str]] = {}
    for k, (cap, seq) in enumerate(jobs):
        for cam_dir in _subdirs(root / cap / seq):
            m = _CAM_RE.match(cam_dir)
            if m is None:
                logger.warning("%s: skipping folder not named cam<id>", root / cap / seq / cam_dir)
                continue
            cam = m.group(1)
            seen = cameras.setdefault(cap, [])
            if cam not in seen:
                seen.append(cam)
            with os.scandir(root / cap / seq / cam_dir) as it:
                for e in it:
                    im = _IMAGE_RE.match(e.name)
                    if im is None or not e.is_file():
                        continue
                    key = (cap, seq, int(im.group(1)))
                    images.setdefault(key, {})[cam] = f"{cap}/{seq}/{cam_dir}/{e.name}"
        if progress is not None:
            progress(k + 1, len(jobs))
    if not images:
        raise ProjectFormatError(
            f"{root}: no images found (expected <capture>/<sequence>/cam<id>/image<frame>.jpg)"
        )
    for cap in cameras:
        cameras[cap].sort(key=natural_key)
    return ImageScan(root, images, cameras)


def init_project(
    project: Path,
    images: Path,
    calibration: Path,
    name: str | None = None,
    capture_id: str | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
):
    """Create a project indexing ``images`` with the rigs of ``calibration``.

    A single-rig calibration applies to every capture folder (or only to ``capture_id``);
    a multi-capture one must calibrate each capture folder. Cameras with images but no
    calibration are an error. Returns the store, open for writing.
    """
    from annotator.store.store import ProjectStore
    from triangulation.io import load_rigs

    calibration = Path(calibration)
    if not calibration.is_file():
        raise ProjectFormatError(f"{calibration}: calibration file does not exist")
    try:
        file_rigs = load_rigs(calibration)
    except ValueError as exc:
        raise ProjectFormatError(str(exc)) from None
    scan = scan_image_folder(images, None if capture_id is None else [capture_id], progress)
    caps = list(scan.cameras)
    if len(file_rigs) == 1:
        rig = next(iter(file_rigs.values()))
        rigs = {cap: rig for cap in caps}
    else:
        missing = [c for c in caps if c not in file_rigs]
        if missing:
            raise ProjectFormatError(
                f"{calibration}: no calibration for capture(s) {', '.join(missing)} "
                f"found in {images} (file has {', '.join(file_rigs)})"
            )
        rigs = {cap: file_rigs[cap] for cap in caps}
    for cap in caps:
        extra = [c for c in scan.cameras[cap] if c not in rigs[cap]]
        if extra:
            shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
            raise ProjectFormatError(
                f"{calibration}: cameras {shown} have images in "
                f"{Path(images) / cap} but no calibration"
            )
    project = Path(project)
    cap_order = {c: k for k, c in enumerate(caps)}
    keys = sorted(scan.images, key=lambda k: (cap_order[k[0]], natural_key(k[1]), k[2]))
    # Built in a hidden sibling and renamed into place when complete (staging.py): a
    # failed or killed init never leaves a project that opens but lacks its images.
    with staged_project(project, overwrite) as work:
        store = ProjectStore.create(
            work, name=name or project.resolve().name, rigs=rigs,
            image_root=relative_root(Path(images), project),
        )
        try:
            cam_pos = {n: k for k, n in enumerate(store.camera_names)}
            paths = np.full((len(keys), len(cam_pos)), "", dtype=object)
            for f, key in enumerate(keys):
                for cam, rel in scan.images[key].items():
                    paths[f, cam_pos[cam]] = rel
            store.add_instants(
                [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], paths
            )
            store.save()
        finally:
            store.close(save=False)
    return ProjectStore.open(project, "w")


def relative_root(folder: Path, project: Path) -> str:
    """``folder`` as the project's image root: relative to ``project`` when it lies beside
    or below it, else absolute."""
    absolute = Path(folder).resolve()
    try:
        root = os.path.relpath(absolute, Path(project).resolve())
    except ValueError:  # different drive
        return str(absolute)
    return str(absolute) if root.startswith("..") else root
