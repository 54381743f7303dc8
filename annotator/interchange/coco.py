"""Project → COCO keypoints JSON (one annotation per image per visible hand).

Categories ``right_hand`` (id 1) and ``left_hand`` (id 2), 21 keypoints each in the
skeleton's order (:mod:`annotator.skeleton`), ``skeleton`` as 1-based (child, parent) pairs
within the hand, as COCO tools expect. Keypoints are the project's 3D joints (any source:
human, machine, imported) projected into every camera with the full camera model:
``v = 2`` where the joint has 3D, lies in front of the camera and inside the image,
``v = 0`` (and x = y = 0) otherwise. A hand gets an annotation in an image when at least
one of its keypoints has ``v = 2``; its ``bbox`` is the tight box of those keypoints
enlarged 1.2× (the InterHand2.6M rule), ``area`` = box width × height.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annotator.interchange._jsonio import write_json_atomic
from annotator.interchange.frame_files import frame_file_name, write_frame_jpeg
from annotator.interchange.image_names import relative_image_name
from annotator.interchange.interhand_layout import enlarged_bbox_xywh
from annotator.skeleton import HANDS, JOINT_NAMES, PARENTS, hand_slice
from annotator.video import VideoFrame

__all__ = ["CocoExport", "coco_categories", "export_coco"]

logger = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
_BATCH = 256


@dataclass(frozen=True)
class CocoExport:
    """What :func:`export_coco` wrote."""

    path: Path
    images: int
    annotations: int


def coco_categories() -> list[dict]:
    """The two hand categories with keypoint names and 1-based skeleton pairs."""
    cats = []
    for h, hand in enumerate(HANDS):
        sl = hand_slice(hand)
        base = sl.start
        pairs = [
            [j - base + 1, int(PARENTS[j]) - base + 1]
            for j in range(sl.start, sl.stop)
            if PARENTS[j] >= 0
        ]
        cats.append(
            {
                "id": h + 1,
                "name": f"{hand}_hand",
                "supercategory": "hand",
                "keypoints": list(JOINT_NAMES[sl]),
                "skeleton": pairs,
            }
        )
    return cats


def export_coco(
    store,
    out_path: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
    frames_dir: str | os.PathLike[str] | None = None,
) -> CocoExport:
    """Write the project's labels as a COCO keypoints JSON at ``out_path`` (atomic).

    Image ``file_name`` is relative to the project's image root; for a project read from
    videos the exported frames are decoded and written as JPEG files under ``frames_dir``
    (default ``<out_path without suffix>_images/``, named ``<capture>/<sequence>/
    cam<camera>/image<frame>.jpg``) and ``file_name`` is relative to it. Images also carry
    ``capture``, ``sequence``, ``frame`` and ``camera``. Image ids are the stored
    InterHand2.6M ids where an import kept them, new ones after the largest otherwise.
    ``progress(done, total)`` counts instants.
    """
    from annotator.store.propagate import project_joints

    out_path = Path(out_path)
    table = store.instants()
    F = len(table)
    cams = store.camera_names
    root = Path(store.image_root)
    video = store.is_video_project
    if video:
        frames_root = Path(frames_dir) if frames_dir is not None else out_path.with_name(
            out_path.stem + "_images"
        )
    stored_ids = store.image_attr("image_id") if "image_id" in store.image_attr_names() else None
    next_id = 1 + max(0, int(stored_ids.max()) if stored_ids is not None and stored_ids.size else 0)
    images: list[dict] = []
    annotations: list[dict] = []
    for start in range(0, F, _BATCH):
        idx = np.arange(start, min(F, start + _BATCH))
        joints = np.stack([store.labels(int(i)).joints_world_mm for i in idx])
        caps = table.capture[idx]
        for cap in np.unique(caps).tolist():
            sel = idx[caps == cap]
            rig = store.rig(cap)
            cols = store.camera_positions(cap)
            uv, inimg, front = project_joints(joints[sel - start], rig, cols, len(cams))
            visible = inimg & front & np.all(np.isfinite(uv), axis=-1)  # (F', C, J)
            for n, i in enumerate(sel.tolist()):
                paths = store.image_paths(i)
                for k, c in enumerate(cols.tolist()):
                    if paths[c] is None:
                        continue
                    image_id = (
                        int(stored_ids[i, c])
                        if stored_ids is not None and stored_ids[i, c] >= 0
                        else None
                    )
                    if image_id is None:
                        image_id, next_id = next_id, next_id + 1
                    if video and isinstance(paths[c], VideoFrame):
                        name = frame_file_name(cap, str(table.sequence[i]), cams[c],
                                               int(table.frame[i]))
                        write_frame_jpeg(paths[c], frames_root / name)
                    else:
                        fallback = f"{cap}/{table.sequence[i]}/cam{cams[c]}/{paths[c].name}"
                        name = relative_image_name(paths[c], root, fallback)
                    w, h = rig[k].size
                    images.append(
                        {
                            "id": image_id,
                            "file_name": name,
                            "width": w,
                            "height": h,
                            "capture": cap,
                            "sequence": str(table.sequence[i]),
                            "frame": int(table.frame[i]),
                            "camera": cams[c],
                        }
                    )
                    for hnum, hand in enumerate(HANDS):
                        sl = hand_slice(hand)
                        vis = visible[n, c, sl]
                        if not vis.any():
                            continue
                        pts = np.where(vis[:, None], uv[n, c, sl], 0.0)
                        kps = np.concatenate([pts, np.where(vis, 2.0, 0.0)[:, None]], axis=1)
                        box = enlarged_bbox_xywh(uv[n, c, sl], vis)
                        annotations.append(
                            {
                                "id": len(annotations) + 1,
                                "image_id": image_id,
                                "category_id": hnum + 1,
                                "keypoints": [
                                    float(v) if m % 3 != 2 else int(v)
                                    for m, v in enumerate(kps.ravel())
                                ],
                                "num_keypoints": int(vis.sum()),
                                "bbox": [float(v) for v in box],
                                "area": float(box[2] * box[3]),
                                "iscrowd": 0,
                            }
                        )
        if progress is not None:
            progress(int(idx[-1]) + 1, F)
    doc = {
        "info": {
            "description": f"project {store.name}: 3D joints projected into every view",
            "version": "1.0",
        },
        "images": images,
        "annotations": annotations,
        "categories": coco_categories(),
    }
    if video:  # where file_name is relative to: the frames written beside the JSON
        doc["info"]["image_root"] = Path(os.path.relpath(frames_root, out_path.parent)).as_posix()
    write_json_atomic(out_path, doc)
    logger.info(
        "wrote %d images, %d hand annotations to %s", len(images), len(annotations), out_path
    )
    return CocoExport(out_path, len(images), len(annotations))
