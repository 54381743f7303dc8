"""What an InterHand2.6M export writes, worked out on whole-project numpy arrays.

:func:`export_rows` decides, for every instant and image of a project, what the three JSON
files will say (ids, boxes, joint_valid, hand types, world coordinates) and in which order,
as arrays of ~150 bytes per image, so :mod:`.interhand_jsonwrite` can stream the text out.
The rules are :mod:`.interhand_export`'s (module docstring there); one addition: an
imported image whose instant's 3D joints were edited gets its box recomputed from the
edited joints (joint_valid of that image: the joints with 3D that the image had valid,
plus joints the release had no 3D for), so corrections reach the exported boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotator.interchange.interhand_layout import enlarged_bbox_xywh
from annotator.skeleton import HANDS, NUM_JOINTS, hand_slice
from annotator.store.paths import EncodedPaths

__all__ = ["ExportRows", "export_rows"]

_IMAGE_ATTRS = (
    "image_id",
    "annotation_id",
    "bbox",
    "joint_valid",
    "hand_type",
    "hand_type_valid",
    "ih_order",
)
_INSTANT_ATTRS = (
    "subject",
    "ih_world_coord",
    "ih_joint_valid",
    "ih_hand_type",
    "ih_hand_type_valid",
    "ih_frame_order",
)


@dataclass(frozen=True, eq=False)
class ExportRows:
    """Frames (M) and images (N) to write, each in output order.

    Frames: ``frame_instant`` (M,), ``world_mm`` (M, J, 3), ``frame_valid`` (M, J) bool,
    ``frame_hand_type`` (M,) int8 index into HAND_TYPES, ``frame_type_valid`` (M,) bool.
    Images: ``instant``/``camera`` (N,) (project camera axis), ``image_id``,
    ``annotation_id`` (N,) int64, ``bbox`` (N, 4), ``joint_valid`` (N, J) bool,
    ``hand_type`` (N,) int8, ``type_valid`` (N,) bool.
    """

    frame_instant: np.ndarray
    world_mm: np.ndarray
    frame_valid: np.ndarray
    frame_hand_type: np.ndarray
    frame_type_valid: np.ndarray
    instant: np.ndarray
    camera: np.ndarray
    image_id: np.ndarray
    annotation_id: np.ndarray
    bbox: np.ndarray
    joint_valid: np.ndarray
    hand_type: np.ndarray
    type_valid: np.ndarray
    subject: np.ndarray  # (F,) per instant, 0 where unknown
    skipped_instants: int
    skipped_images: int
    paths: EncodedPaths  # the project's (F, C) image paths, encoded


def _attrs(store, names, have) -> dict[str, np.ndarray]:
    return {
        n: np.asarray(store.image_attr(n) if n in _IMAGE_ATTRS else store.instant_attr(n))
        for n in names
        if n in have
    }


def _derived_hand_type(hands: np.ndarray, has3d: np.ndarray) -> np.ndarray:
    """(F,) index into HAND_TYPES from presence flags (or 3D where unknown); -1 = no hand."""
    present = []
    for h, hand in enumerate(HANDS):
        flag = hands[:, h]
        present.append((flag == 1) | ((flag == -1) & has3d[:, hand_slice(hand)].any(axis=1)))
    right, left = present
    return np.where(right & left, 2, np.where(right, 0, np.where(left, 1, -1))).astype(np.int8)


def export_rows(store, capture_order: list[str], progress=None) -> ExportRows:
    """Everything :func:`~annotator.interchange.export_interhand` writes, as arrays.

    ``capture_order``: the joint_3d json's capture order remembered from an import.
    """
    from triangulation.projection import in_front, in_image, project

    J = NUM_JOINTS
    table = store.instants()
    F = len(table)
    img_names = set(store.image_attr_names())
    ins = _attrs(store, _INSTANT_ATTRS, set(store.instant_attr_names()))
    xyz, _ = store.joints_3d_all()
    has3d = np.all(np.isfinite(xyz), axis=2)
    hands = store.hand_present_all()
    ih_valid = ins["ih_joint_valid"] > 0 if "ih_joint_valid" in ins else np.zeros((F, J), bool)
    stored_frame = (
        ins["ih_joint_valid"][:, 0] >= 0 if "ih_joint_valid" in ins else np.zeros(F, bool)
    )
    derived = _derived_hand_type(hands, has3d)
    hand_type = np.where(stored_frame, ins.get("ih_hand_type", derived), derived).astype(np.int8)
    type_valid = np.where(stored_frame, ins.get("ih_hand_type_valid", 1) > 0, True)
    keep = stored_frame | (derived >= 0)
    raw = ins.get("ih_world_coord", np.zeros((F, J, 3)))
    raw_ok = stored_frame & np.all(np.isfinite(raw), axis=(1, 2))
    placeholder = np.where(raw_ok[:, None, None], raw, 0.0)
    world = np.where(has3d[..., None], xyz, placeholder)
    subject = ins.get("subject", np.zeros(F, np.int64))
    subject = np.where(subject >= 0, subject, 0).astype(np.int64)

    # frames: per capture, released order first, then instant order
    order = ins.get("ih_frame_order", np.full(F, -1, np.int64))
    order = np.where(stored_frame, order, -1)
    kept = np.flatnonzero(keep)
    caps = table.capture
    first_seen = list(dict.fromkeys(caps[kept].tolist()))
    cap_seq = [c for c in capture_order if c in first_seen] + [
        c for c in first_seen if c not in capture_order
    ]
    cap_rank = {c: r for r, c in enumerate(cap_seq)}
    rank = np.array([cap_rank.get(c, -1) for c in caps.tolist()], np.int64)
    fsel = kept[np.lexsort((kept, order[kept], order[kept] < 0, rank[kept]))]

    # images: one (F, C, ...) attr in memory at a time, reduced at once to the N images
    enc = store.image_paths_encoded()
    has_img = (enc.template >= 0) & keep[:, None]
    next_id = 0
    stored_img = np.zeros_like(has_img)
    for name in ("image_id", "annotation_id"):
        if name in img_names:
            a = store.image_attr(name)
            if name == "image_id":
                stored_img = has_img & (a >= 0)
            if (a >= 0).any():
                next_id = max(next_id, int(a.max()) + 1)
            del a
    ii, cc = np.nonzero(stored_img)

    def take(name: str, default, dtype, tail=()) -> np.ndarray:
        if name not in img_names or not ii.size:
            return np.full((ii.size, *tail), default, dtype)
        a = store.image_attr(name)
        return np.asarray(a[ii, cc], dtype)

    jv = take("joint_valid", 0, np.int8, (J,)) > 0
    bbox = take("bbox", np.nan, np.float64, (4,))
    # edited instants: the 3D joints differ from the released ones
    raw_f = np.where(np.isfinite(raw), raw, 0.0)
    edited = stored_frame & (
        (has3d != ih_valid).any(axis=1)
        | (has3d & ih_valid & np.any(np.where(has3d[..., None], xyz, 0.0) != raw_f, axis=2)).any(
            axis=1
        )
    )
    for i in np.unique(ii[edited[ii]]).tolist():
        sel = np.flatnonzero(ii == i)
        rig = store.rig(str(caps[i]))
        cols = store.camera_positions(str(caps[i])).tolist()
        uv = project(xyz[i], rig)
        front = in_front(xyz[i], rig)
        for s in sel.tolist():
            k = cols.index(int(cc[s]))
            jv[s] = has3d[i] & (jv[s] | ~ih_valid[i])
            ok = jv[s] & front[:, k]
            if ok.any():
                bbox[s] = enlarged_bbox_xywh(uv[:, k], ok)
    jv &= has3d[ii]
    d_i, d_c, d_id, d_box, d_jv = [], [], [], [], []
    skipped_img = 0
    todo = has_img & ~stored_img
    del has_img, stored_img
    for n_done, i in enumerate(np.flatnonzero(todo.any(axis=1)).tolist()):
        rig = store.rig(str(caps[i]))
        uv = project(xyz[i], rig)  # (J, C', 2)
        front = in_front(xyz[i], rig)
        inimg = in_image(uv, rig)
        for k, c in enumerate(store.camera_positions(str(caps[i])).tolist()):
            if not todo[i, c]:
                continue
            ok = has3d[i] & front[:, k]
            if not (ok & inimg[:, k]).any():
                skipped_img += 1
                continue
            d_i.append(i)
            d_c.append(c)
            d_id.append(next_id)
            next_id += 1
            d_box.append(enlarged_bbox_xywh(uv[:, k], ok))
            d_jv.append(has3d[i])
        if progress is not None and n_done % 256 == 255:
            progress(n_done + 1, F)
    d_i_a = np.array(d_i, np.int64)

    def both(stored: np.ndarray, derived) -> np.ndarray:
        """Stored rows then derived rows (no copy when there are no derived images)."""
        if not d_i:
            return stored
        return np.concatenate([stored, np.asarray(derived).astype(stored.dtype)])

    group = both(np.zeros(ii.size, np.int8), np.ones(d_i_a.size, np.int8))
    okey = both(take("ih_order", 0, np.int64), np.zeros(d_i_a.size, np.int64))
    inst = both(ii, d_i_a)
    cam = both(cc, np.array(d_c, np.int64))
    out = np.lexsort((cam, inst, okey, group))
    del group, okey
    cols_out = {
        "instant": inst,
        "camera": cam,
        "image_id": both(take("image_id", -1, np.int64), np.array(d_id, np.int64)),
        "annotation_id": both(take("annotation_id", -1, np.int64), np.array(d_id, np.int64)),
        "hand_type": both(take("hand_type", 0, np.int8), hand_type[d_i_a]),
        "type_valid": both(take("hand_type_valid", 0, np.int8) > 0, type_valid[d_i_a]),
        "bbox": both(bbox, np.array(d_box, np.float64).reshape(-1, 4)),
        "joint_valid": both(jv, np.array(d_jv, bool).reshape(-1, J)),
    }
    del inst, cam, bbox, jv
    for name in list(cols_out):  # into output order, one column at a time
        cols_out[name] = cols_out[name][out]
    return ExportRows(
        frame_instant=fsel,
        world_mm=world[fsel],
        frame_valid=has3d[fsel],
        frame_hand_type=hand_type[fsel],
        frame_type_valid=type_valid[fsel].astype(bool),
        subject=subject,
        skipped_instants=int((~keep).sum()),
        skipped_images=skipped_img,
        paths=enc,
        **cols_out,
    )
