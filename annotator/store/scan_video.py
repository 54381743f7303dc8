"""Build a project from one synchronised video file per camera (``annotator init --videos``).

The files of a folder matching a pattern (default ``{camera}.mp4``) name the cameras; each
must be a camera of the calibration. Every video is probed once (:func:`annotator.video.
probe_video`: size, frame count, every frame's timestamp); the project stores, per
(instant, camera), the frame as ``<video>#frame<k>`` plus its timestamp, so frames are
decoded when needed and never extracted to disk.

Instants are capture frame numbers ``f``; camera ``c`` shows frame ``f + offset[c]`` of its
video (``--offsets``: cameras that started recording at different times). ``--every N``
takes every N-th frame that every camera has; ``--frames FILE`` lists them (one per line,
``<frame>`` or ``<frame> <sequence name>``; ``#`` starts a comment).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annotator.store.errors import ProjectFormatError
from annotator.store.paths import video_locator
from annotator.store.scan import natural_key, relative_root
from annotator.store.staging import staged_project
from annotator.store.store_instants import VIDEO_PTS_ATTR
from annotator.video import VideoInfo, probe_video

__all__ = [
    "VideoSet",
    "VideoPlan",
    "find_videos",
    "read_offsets",
    "read_frame_list",
    "plan_video_project",
    "write_video_project",
    "init_video_project",
]

logger = logging.getLogger(__name__)

#: Sequence name of instants when ``--frames`` names none.
DEFAULT_SEQUENCE = "video"


@dataclass(frozen=True)
class VideoSet:
    """The videos of a folder: ``files[camera]`` relative to ``root``, in natural order."""

    root: Path
    pattern: str
    files: dict[str, str]


def _pattern_regex(pattern: str) -> re.Pattern:
    if pattern.count("{camera}") != 1:
        raise ProjectFormatError(
            f"--pattern {pattern!r}: must contain {{camera}} exactly once (e.g. '{{camera}}.mp4')"
        )
    head, tail = pattern.split("{camera}")
    return re.compile(f"^{re.escape(head)}(?P<camera>.+?){re.escape(tail)}$")


def find_videos(root: Path, pattern: str = "{camera}.mp4") -> VideoSet:
    """Files of ``root`` matching ``pattern`` (``{camera}`` marks the camera name; the
    pattern may hold sub-folders, e.g. ``{camera}/video.mp4``)."""
    root = Path(root)
    if not root.is_dir():
        raise ProjectFormatError(f"{root}: video folder does not exist")
    regex = _pattern_regex(pattern)
    depth = pattern.count("/")
    files: dict[str, str] = {}
    for path in sorted(root.glob("/".join(["*"] * (depth + 1)))):
        rel = path.relative_to(root).as_posix()
        m = regex.match(rel)
        if m is None or not path.is_file():
            continue
        files[m.group("camera")] = rel
    if not files:
        raise ProjectFormatError(f"{root}: no video matches the pattern {pattern!r}")
    order = sorted(files, key=natural_key)
    return VideoSet(root, pattern, {c: files[c] for c in order})


def read_offsets(path: Path, cameras: list[str]) -> dict[str, int]:
    """``{camera: frame offset}`` from a TOML file of ``camera = offset`` lines (a table
    ``[offsets]`` is read too); cameras it omits have offset 0."""
    import tomllib

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ProjectFormatError(f"{path}: offsets file does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProjectFormatError(f"{path}: not a valid TOML file ({exc})") from None
    if isinstance(data.get("offsets"), dict):
        data = data["offsets"]
    out = {c: 0 for c in cameras}
    unknown = [str(k) for k in data if str(k) not in out]
    if unknown:
        raise ProjectFormatError(
            f"{path}: offsets for cameras without a video: {', '.join(unknown[:5])}"
        )
    for k, v in data.items():
        if isinstance(v, bool) or not isinstance(v, int):
            raise ProjectFormatError(
                f"{path}: offset of camera {k!r} must be an integer, got {v!r}"
            )
        out[str(k)] = int(v)
    return out


def read_frame_list(path: Path) -> tuple[list[int], list[str]]:
    """(frame numbers, sequence names) from a ``--frames`` file."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise ProjectFormatError(f"{path}: frames file does not exist") from None
    except UnicodeDecodeError:
        raise ProjectFormatError(f"{path}: frames file is not text") from None
    frames: list[int] = []
    sequences: list[str] = []
    for n, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].replace(",", " ").split()
        if not text:
            continue
        if len(text) > 2 or not text[0].lstrip("-").isdigit():
            raise ProjectFormatError(
                f"{path}:{n}: expected '<frame>' or '<frame> <sequence>', got {line.strip()!r}"
            )
        frames.append(int(text[0]))
        sequences.append(text[1] if len(text) == 2 else DEFAULT_SEQUENCE)
    if not frames:
        raise ProjectFormatError(f"{path}: lists no frames")
    seen = set()
    for f, s in zip(frames, sequences, strict=True):
        if (s, f) in seen:
            raise ProjectFormatError(f"{path}: frame {f} of sequence {s!r} is listed twice")
        seen.add((s, f))
    return frames, sequences


def _check_cameras(videos: VideoSet, rig_names: list[str], calibration: Path | None) -> None:
    extra = [c for c in videos.files if c not in rig_names]
    missing = [c for c in rig_names if c not in videos.files]
    if not extra and not missing:
        return

    def shown(names: list[str]) -> str:
        return ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")

    parts = []
    if missing:
        parts.append(f"no video for camera(s) {shown(missing)}")
    if extra:
        parts.append(f"video(s) for camera(s) {shown(extra)} not in the calibration")
    raise ProjectFormatError(
        f"{videos.root}: {'; '.join(parts)} (pattern {videos.pattern!r}, calibration "
        f"{calibration or 'the rig given'})"
    )


@dataclass(frozen=True)
class VideoPlan:
    """A video project before it is written: its rig, and per instant the frame, sequence
    and per camera the stored path and timestamp."""

    videos: Path
    capture: str
    rig: object  # triangulation.CameraRig
    frame: np.ndarray  # (F,) capture frame numbers
    sequence: list[str]
    paths: np.ndarray  # (F, C) "<video>#frame<k>", rig camera order
    pts: np.ndarray  # (F, C) int64
    settings: dict


def plan_video_project(
    videos: Path,
    calibration: Path | None = None,
    *,
    rig=None,
    pattern: str = "{camera}.mp4",
    every: int | None = None,
    frames_file: Path | None = None,
    offsets_file: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VideoPlan:
    """Probe the videos of ``videos`` against ``calibration`` (a file) or ``rig`` and
    decide the instants; every problem is a one-line ProjectFormatError naming the file."""
    from triangulation.io import load_rigs

    if every is not None and frames_file is not None:
        raise ProjectFormatError("--every and --frames choose the instants two ways; give one")
    if every is not None and every < 1:
        raise ProjectFormatError(f"--every must be at least 1, got {every}")
    if rig is None:
        calibration = Path(calibration)
        if not calibration.is_file():
            raise ProjectFormatError(f"{calibration}: calibration file does not exist")
    found = find_videos(videos, pattern)
    infos: dict[str, VideoInfo] = {}
    for k, (cam, rel) in enumerate(found.files.items()):
        try:
            infos[cam] = probe_video(found.root / rel)
        except OSError as exc:
            raise ProjectFormatError(str(exc)) from None
        if progress is not None:
            progress(k + 1, len(found.files))
    capture = "0"
    if rig is None:
        try:
            file_rigs = load_rigs(calibration, image_size={c: i.size for c, i in infos.items()})
        except ValueError as exc:
            raise ProjectFormatError(str(exc)) from None
        if len(file_rigs) != 1:
            raise ProjectFormatError(
                f"{calibration}: calibrates {len(file_rigs)} captures ({', '.join(file_rigs)}); "
                "a folder of videos is one capture: give a one-rig calibration"
            )
        capture, rig = next(iter(file_rigs.items()))
    _check_cameras(found, list(rig.names), calibration)
    for cam in rig:
        info = infos[cam.name]
        if tuple(int(v) for v in cam.size) != info.size:
            raise ProjectFormatError(
                f"{info.path}: video is {info.width}x{info.height}, camera {cam.name} is "
                f"{int(cam.size[0])}x{int(cam.size[1])} in {calibration or 'the rig'}"
            )
    cams = list(rig.names)
    offsets = (
        read_offsets(offsets_file, cams) if offsets_file is not None else dict.fromkeys(cams, 0)
    )
    first = max(-offsets[c] for c in cams)  # frame f needs f + offset >= 0 in every camera
    stop = min(infos[c].frames - offsets[c] for c in cams)  # and f + offset < length
    if frames_file is not None:
        frame_numbers, sequences = read_frame_list(frames_file)
        for f in frame_numbers:
            if f < first or f >= stop:
                cam = next(c for c in cams if not 0 <= f + offsets[c] < infos[c].frames)
                raise ProjectFormatError(
                    f"{infos[cam].path}: has {infos[cam].frames} frames; frame {f} (offset "
                    f"{offsets[cam]}) of {frames_file} is outside it"
                )
    else:
        if stop <= first:
            raise ProjectFormatError(
                f"{videos}: no frame is in every video with these offsets (frames "
                f"{first}..{stop - 1}); check --offsets"
            )
        frame_numbers = list(range(first, stop, every or 1))
        sequences = [DEFAULT_SEQUENCE] * len(frame_numbers)
    F, C = len(frame_numbers), len(cams)
    fr = np.asarray(frame_numbers, np.int64)
    paths = np.empty((F, C), dtype=object)
    pts = np.empty((F, C), np.int64)
    for c, cam in enumerate(cams):
        index = fr + offsets[cam]
        rel = found.files[cam]
        paths[:, c] = [video_locator(rel, k) for k in index.tolist()]
        pts[:, c] = infos[cam].pts[index]
    settings = {
        "source": "video",
        "videos": {
            "pattern": pattern,
            "offsets": {c: offsets[c] for c in cams if offsets[c]},
            "frames": {c: infos[c].frames for c in cams},
            "codec": sorted({infos[c].codec for c in cams}),
        },
    }
    return VideoPlan(Path(videos), capture, rig, fr, sequences, paths, pts, settings)


def write_video_project(folder: Path, plan: VideoPlan, *, name: str, image_root: str,
                        metadata: dict | None = None):
    """Create the project of ``plan`` in the new folder ``folder``; the store, open for
    writing, with its instants saved."""
    from annotator.store.store import ProjectStore

    store = ProjectStore.create(
        folder, name=name, rigs={plan.capture: plan.rig}, image_root=image_root,
        settings=plan.settings, metadata=metadata,
    )
    try:
        F = plan.frame.size
        order = [list(plan.rig.names).index(n) for n in store.camera_names]
        store.add_instants([plan.capture] * F, plan.sequence, plan.frame, plan.paths[:, order])
        store.set_image_attr(VIDEO_PTS_ATTR, plan.pts[:, order])
        store.save()
    except BaseException:
        store.close(save=False)
        raise
    return store


def init_video_project(
    project: Path,
    videos: Path,
    calibration: Path,
    *,
    pattern: str = "{camera}.mp4",
    every: int | None = None,
    frames_file: Path | None = None,
    offsets_file: Path | None = None,
    name: str | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
):
    """Create ``project`` reading its images from the videos of ``videos``; returns the
    store open for writing. Nothing is at ``project`` until it is complete."""
    from annotator.store.store import ProjectStore

    project = Path(project)
    plan = plan_video_project(
        videos, calibration, pattern=pattern, every=every, frames_file=frames_file,
        offsets_file=offsets_file, progress=progress,
    )
    with staged_project(project, overwrite) as work:
        store = write_video_project(
            work, plan, name=name or project.resolve().name,
            image_root=relative_root(Path(videos), project),
        )
        store.close(save=False)
    logger.info("indexed %d instants of %d videos in %s", plan.frame.size, len(plan.rig), project)
    return ProjectStore.open(project, "w")
