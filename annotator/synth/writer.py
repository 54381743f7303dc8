"""Write a synthetic studio capture as a project: JPEG images laid out like a real capture,
the camera rig, the instant index and the ground truth (kept apart from human labels).

Image layout (docs/store_api.md): ``<project>/images/<capture>/<sequence>/cam<camera>/
image<frame>.jpg``, one capture per subject (``Capture0``, ``Capture1``, ...), all sharing
the studio's rig.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import secrets
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from annotator.skeleton import NUM_JOINTS
from annotator.store.layout import (
    CAMERAS_NAME,
    FRAMES_NAME,
    GROUND_TRUTH_NAME,
    LOCK_NAME,
    PROJECT_NAME,
)
from annotator.synth.studio import Studio, StudioConfig

__all__ = ["SynthResult", "image_paths", "write_capture"]

log = logging.getLogger(__name__)

_IMAGE_ROOT = "images"
#: Folder of a video capture's ``<camera>.mp4`` files (``synth --video``).
_VIDEO_ROOT = "videos"
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


def _init_state(config: StudioConfig, root: str, paths: np.ndarray, quality: int) -> None:
    _worker_state.update(studio=Studio(config), root=Path(root), paths=paths, quality=quality)


def _init_pool_worker(*args) -> None:
    # Ctrl-C goes to the whole process group: the parent alone handles it (and terminates
    # the pool); a worker interrupted mid-task would lose the task and hang a join.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cv2.setNumThreads(1)  # one process per core already
    _init_state(*args)


def _render_instant(i: int) -> tuple[int, np.ndarray] | tuple[int, np.ndarray, list]:
    st = _worker_state
    res = st["studio"].render(i)
    if st["paths"] is None:  # a video capture: the parent encodes the frames in order
        return i, res.visible, list(res.images)
    for c, img in enumerate(res.images):
        path = st["root"] / st["paths"][i, c]
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, st["quality"]]):
            raise OSError(f"could not write image {path}")
    return i, res.visible


#: What a synthetic studio project folder holds right after ``write_capture``; a folder
#: with anything more (labels.h5, models/, ...) holds someone's work and is never replaced.
_SYNTH_ENTRIES = frozenset(
    {LOCK_NAME, PROJECT_NAME, CAMERAS_NAME, FRAMES_NAME, GROUND_TRUTH_NAME, _IMAGE_ROOT,
     _VIDEO_ROOT}
)


def _check_target(out: Path, overwrite: bool) -> None:
    """Refuse ``out`` unless it is absent, empty, or (with ``overwrite``) a synthetic studio
    project holding nothing but what ``write_capture`` wrote."""
    from annotator.store import ProjectFormatError, ProjectStore

    if not out.exists():
        return
    if not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    entries = {p.name for p in out.iterdir()}
    if not entries:
        return
    if PROJECT_NAME not in entries:
        raise ValueError(f"{out}: folder is not empty and holds no project; choose a new folder")
    if not overwrite:
        raise ProjectFormatError(
            f"{out}: already holds a project (overwrite=True; --overwrite in the CLI)"
        )
    with ProjectStore.open(out, mode="w") as old:  # "w": fails if someone is editing it
        synthetic = "synthetic_studio" in old.metadata
        old.close(save=False)
    if not synthetic:
        raise ValueError(f"{out}: is not a synthetic studio project; refusing to overwrite it")
    extra = sorted(entries - _SYNTH_ENTRIES)
    if extra:
        raise ValueError(
            f"{out}: holds work beyond the synthetic capture ({', '.join(extra)}); "
            "refusing to overwrite it"
        )


def write_capture(
    out,
    config: StudioConfig,
    *,
    workers: int = 1,
    jpeg_quality: int = 92,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    video: str | None = None,
):
    """Generate a capture and write it as a project at ``out``.

    The project is built in a hidden sibling folder and moved to ``out`` only when complete,
    so a failed or interrupted run leaves ``out`` as it was (absent, or the old project).

    Args:
        out: project folder to create (absent or empty).
        config: what to generate.
        workers: rendering processes (1 renders in this process).
        jpeg_quality: JPEG quality 1-100.
        overwrite: replace a synthetic studio project already at ``out``; a folder holding
            anything else (another project, human labels, other files) is refused.
        progress: called as ``progress(done_instants, total_instants)``.
        video: None writes JPEG images; a codec (``"h264"``, ``"mpeg4"``, ``"mjpeg"``)
            writes one video per camera, ``<out>/videos/<camera>.mp4`` (``.avi`` for
            mjpeg), frame k = instant k, and a project read from them
            (``annotator init --videos``'s, so ``init --videos`` on that folder with the
            project's ``cameras.toml`` rebuilds it): one capture, sequence ``video``,
            subjects as the instant attribute ``subject``.

    Returns:
        SynthResult. The project holds the rig (one capture per subject), the instants with
        ``subject`` as an instant attribute, and ground_truth.h5 (joints_world_mm, visible,
        uv_px, hand_present); the human labels stay empty.
    """
    if not 1 <= int(jpeg_quality) <= 100:
        raise ValueError(f"jpeg_quality must be in 1..100, got {jpeg_quality}")
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out = Path(out)
    target = out.resolve()
    _check_target(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.synth-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        result = _write_project(staging, target.name, config, int(workers),
                                int(jpeg_quality), progress, video)
        if target.exists():
            _check_target(target, overwrite)  # again: it may have changed while rendering
            old = staging.with_name(staging.name + ".old")
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old)
        else:
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return replace(result, path=out)


def _write_project(
    path: Path,
    name: str,
    config: StudioConfig,
    workers: int,
    jpeg_quality: int,
    progress: Callable[[int, int], None] | None,
    video: str | None = None,
) -> SynthResult:
    """Render and write the whole project into the new folder ``path``."""
    if video is not None:
        return _write_video_project(path, name, config, workers, progress, video)
    from annotator.store import ProjectStore

    studio = Studio(config)
    F, C = studio.num_instants, len(studio.rig)
    captures = list(dict.fromkeys(p.capture for p in studio.plan))
    path.mkdir()
    store = ProjectStore.create(
        path,
        name=name,
        rigs={cap: studio.rig for cap in captures},
        image_root=_IMAGE_ROOT,
        metadata={"synthetic_studio": asdict(config)},
    )
    try:
        paths = image_paths(studio)
        root = path / _IMAGE_ROOT
        visible = np.zeros((F, C, NUM_JOINTS), bool)
        t0 = time.perf_counter()
        args = (config, str(root), paths, jpeg_quality)
        done = 0

        def take(result) -> None:
            nonlocal done
            i, vis = result
            visible[i] = vis
            done += 1
            if progress is not None:
                progress(done, F)

        _render_all(workers, args, F, take, ordered=False)
        seconds = time.perf_counter() - t0
        log.info("rendered %d images in %.1f s", F * C, seconds)

        store.add_instants(
            capture=[p.capture for p in studio.plan],
            sequence=[p.sequence_name for p in studio.plan],
            frame=np.array([p.frame for p in studio.plan], dtype=np.int64),
            image_paths=paths.astype(str),
        )
        _write_truth(store, studio, visible)
    finally:
        store.close()
    return SynthResult(path, F, C, F * C, seconds)


def _write_truth(store, studio: Studio, visible: np.ndarray) -> None:
    """The subjects (instant attribute) and the exact ground truth, then save."""
    from triangulation.projection import project

    joints = studio.joints_world_mm()
    store.set_instant_attr("subject", np.array([p.subject for p in studio.plan], np.int64))
    store.write_ground_truth(
        joints_world_mm=joints,
        visible=visible,
        uv_px=np.swapaxes(project(joints, studio.rig), 1, 2),
        hand_present=studio.hand_present(),
    )
    store.save()


def _render_all(workers: int, args: tuple, F: int, take, ordered: bool = True) -> None:
    """Render instants 0..F-1 in ``workers`` processes (this one when 1); ``take(result)``
    gets each worker result, in instant order when ``ordered`` (a video is written in
    order), else as they finish."""
    if workers == 1:
        _init_state(*args)
        try:
            for res in map(_render_instant, range(F)):
                take(res)
        finally:
            _worker_state.clear()
        return
    # Not "fork": a process that already ran OpenCV's thread pool (or BLAS threads) forks
    # children that can deadlock in their first cv2 call.
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("forkserver" if "forkserver" in methods else "spawn")
    pool = ctx.Pool(workers, initializer=_init_pool_worker, initargs=args)
    try:
        results = (pool.imap if ordered else pool.imap_unordered)(_render_instant, range(F))
        for res in results:
            take(res)
        pool.close()
    except BaseException:
        pool.terminate()  # an error or Ctrl-C: stop the workers, drop queued work
        raise
    finally:
        pool.join()


def _write_video_project(
    path: Path,
    name: str,
    config: StudioConfig,
    workers: int,
    progress: Callable[[int, int], None] | None,
    codec: str,
) -> SynthResult:
    """A synthetic capture as one video per camera, and the project ``init --videos``
    makes of them, plus the ground truth."""
    from annotator.store.scan_video import plan_video_project, write_video_project
    from annotator.video import VideoWriter

    studio = Studio(config)
    F, C = studio.num_instants, len(studio.rig)
    path.mkdir()
    videos = path / _VIDEO_ROOT
    videos.mkdir()
    suffix = ".avi" if codec == "mjpeg" else ".mp4"
    writers = [
        VideoWriter(videos / f"{cam.name}{suffix}", cam.size, codec=codec) for cam in studio.rig
    ]
    visible = np.zeros((F, C, NUM_JOINTS), bool)
    t0 = time.perf_counter()
    done = 0

    def take(res) -> None:
        nonlocal done
        i, vis, images = res
        visible[i] = vis
        for writer, img in zip(writers, images, strict=True):
            writer.write(img)
        done += 1
        if progress is not None:
            progress(done, F)

    try:
        _render_all(workers, (config, str(videos), None, 0), F, take)
    finally:
        for writer in writers:
            writer.close()
    seconds = time.perf_counter() - t0
    log.info("rendered and encoded %d frames in %.1f s", F * C, seconds)
    plan = plan_video_project(videos, rig=studio.rig, pattern="{camera}" + suffix)
    store = write_video_project(
        path, plan, name=name, image_root=_VIDEO_ROOT,
        metadata={"synthetic_studio": asdict(config), "synthetic_video_codec": codec},
    )
    try:
        _write_truth(store, studio, visible)
    finally:
        store.close()
    return SynthResult(path, F, C, F * C, seconds)
