"""Write a synthetic studio capture as a project: JPEG images laid out like a real capture,
the camera rig, the instant index and the ground truth (kept apart from human labels).

Image layout (docs/store_api.md): ``<project>/images/<capture>/<sequence>/cam<camera>/
image<frame>.jpg``, one capture per subject (``Capture0``, ``Capture1``, ...), all sharing
the studio's rig.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from annotator.skeleton import NUM_JOINTS
from annotator.synth.studio import Studio, StudioConfig

__all__ = ["SynthResult", "image_paths", "write_capture"]

log = logging.getLogger(__name__)

_IMAGE_ROOT = "images"
_worker_state: dict = {}


@dataclass(frozen=True)
class SynthResult:
    """What ``write_capture`` made: the project folder, counts and the rendering time."""

    path: Path
    instants: int
    cameras: int
    images: int
    render_seconds: float

    @property
    def images_per_second(self) -> float:
        return self.images / self.render_seconds if self.render_seconds > 0 else float("inf")


def image_paths(studio: Studio) -> np.ndarray:
    """(F, C) relative image paths ``<capture>/<sequence>/cam<camera>/image<frame>.jpg``."""
    names = studio.rig.names
    return np.array(
        [
            [f"{p.capture}/{p.sequence_name}/cam{n}/image{p.frame:05d}.jpg" for n in names]
            for p in studio.plan
        ],
        dtype=object,
    )


def _init_worker(config: StudioConfig, root: str, paths: np.ndarray, quality: int) -> None:
    cv2.setNumThreads(1)  # one process per core already
    _worker_state.update(studio=Studio(config), root=Path(root), paths=paths, quality=quality)


def _render_instant(i: int) -> tuple[int, np.ndarray]:
    st = _worker_state
    res = st["studio"].render(i)
    for c, img in enumerate(res.images):
        path = st["root"] / st["paths"][i, c]
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, st["quality"]]):
            raise OSError(f"could not write image {path}")
    return i, res.visible


def write_capture(
    out,
    config: StudioConfig,
    *,
    workers: int = 1,
    jpeg_quality: int = 92,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
):
    """Generate a capture and write it as a project at ``out``.

    Args:
        out: project folder to create.
        config: what to generate.
        workers: rendering processes (1 renders in this process).
        jpeg_quality: JPEG quality 1-100.
        overwrite: replace a project already at ``out``.
        progress: called as ``progress(done_instants, total_instants)``.

    Returns:
        SynthResult. The project holds the rig (one capture per subject), the instants with
        ``subject`` as an instant attribute, and ground_truth.h5 (joints_world_mm, visible,
        uv_px, hand_present); the human labels stay empty.
    """
    from annotator.store import ProjectStore
    from triangulation.projection import project

    if not 1 <= int(jpeg_quality) <= 100:
        raise ValueError(f"jpeg_quality must be in 1..100, got {jpeg_quality}")
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out = Path(out)
    studio = Studio(config)
    F, C = studio.num_instants, len(studio.rig)
    captures = list(dict.fromkeys(p.capture for p in studio.plan))
    store = ProjectStore.create(
        out,
        name=out.resolve().name,
        rigs={cap: studio.rig for cap in captures},
        image_root=_IMAGE_ROOT,
        overwrite=overwrite,
        metadata={"synthetic_studio": asdict(config)},
    )
    try:
        paths = image_paths(studio)
        root = out / _IMAGE_ROOT
        visible = np.zeros((F, C, NUM_JOINTS), bool)
        t0 = time.perf_counter()
        args = (config, str(root), paths, int(jpeg_quality))
        if workers == 1:
            _init_worker(*args)
            results = map(_render_instant, range(F))
            pool = None
        else:
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            pool = ctx.Pool(int(workers), initializer=_init_worker, initargs=args)
            results = pool.imap_unordered(_render_instant, range(F))
        try:
            for done, (i, vis) in enumerate(results, start=1):
                visible[i] = vis
                if progress is not None:
                    progress(done, F)
        finally:
            if pool is not None:
                pool.close()
                pool.join()
            _worker_state.clear()
        seconds = time.perf_counter() - t0
        log.info("rendered %d images in %.1f s", F * C, seconds)

        joints = studio.joints_world_mm()
        store.add_instants(
            capture=[p.capture for p in studio.plan],
            sequence=[p.sequence_name for p in studio.plan],
            frame=np.array([p.frame for p in studio.plan], dtype=np.int64),
            image_paths=paths.astype(str),
        )
        store.set_instant_attr("subject", np.array([p.subject for p in studio.plan], np.int64))
        store.write_ground_truth(
            joints_world_mm=joints,
            visible=visible,
            uv_px=np.swapaxes(project(joints, studio.rig), 1, 2),
            hand_present=studio.hand_present(),
        )
        store.save()
    finally:
        store.close()
    return SynthResult(out, F, C, F * C, seconds)
