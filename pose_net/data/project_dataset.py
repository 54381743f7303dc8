"""Samples per (instant, camera) from a project store.

Labels (``labels=``):

- ``"human"`` / ``"machine"``: the 3D joints whose source is that (``labels.h5``);
- ``"all"``: every 3D joint of the store, whatever its source (human, machine, imported).
  The store holds one 3D position per joint, and the machine stage's merge keeps a human
  joint over a machine one, so in ``all`` human labels win;
- ``"ground-truth"``: the synthetic studio's exact joints (``store.ground_truth``).

Hand presence: the ground truth's flags, or the stored hand-present flags (unknown = the hand
has labelled joints), as ``export-interhand`` decides. The hand type is a training target
(``hand_type_valid``) only where people decided it: for the ground truth, and for an instant
with at least one joint that is not the machine stage's (human or imported; a person worked
on that instant and its hands). An instant labelled by the machine alone has the presence the
labeller's verdicts gave it, which is as good as its detector: on the quick demo's project
(a 2.5-minute labeller) 15 of 47 machine instants had the true hands. Such an instant keeps its
joints for the pose, and does not teach handedness. ``hand_types="stored"`` makes every
instant's stored presence a target, the machine's verdicts included (``--labels machine``
has no other; on the full demo's project they were right on 108 of 120 instants).

Per camera, the joints go to the camera frame with its R, t, and to pixels with
:func:`triangulation.project` (lens distortion included); the box is the tight box of the
projected valid joints ×1.2 (the export's box). An instant with no hand, and a camera where
no valid joint lands inside the picture or that has no image, give no sample.

Held-out subjects: the instant attribute ``"subject"`` when the project has one (the
synthetic studio), else the capture name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from annotator.interchange.interhand_layout import enlarged_bbox_xywh
from annotator.skeleton import HANDS, NUM_JOINTS, hand_slice
from annotator.store.paths import EncodedPaths
from pose_net.data.sample import root_gated_valid
from pose_net.data.sample_table import ImagePaths, SampleTable
from triangulation import in_front, in_image, project

__all__ = ["HAND_TYPE_CHOICES", "LABEL_CHOICES", "instant_joints", "project_samples",
           "subject_of_instants"]

logger = logging.getLogger(__name__)

LABEL_CHOICES = ("human", "machine", "all", "ground-truth")
#: Whose hand presence is a hand-type target (module docstring).
HAND_TYPE_CHOICES = ("people", "stored")


def subject_of_instants(store) -> np.ndarray:
    """(F,) str: each instant's subject id (attribute "subject"), else its capture name."""
    if "subject" in store.instant_attr_names():
        return np.array([str(int(s)) for s in store.instant_attr("subject")])
    return np.asarray(store.instants().capture, dtype=str)


def _select(
    subjects: np.ndarray, include: Sequence[str] | None, exclude: Sequence[str] | None
) -> np.ndarray:
    known = set(subjects.tolist())
    for name, wanted in (("--subjects", include), ("--exclude-subjects", exclude)):
        missing = sorted(set(wanted or ()) - known)
        if missing:
            raise ValueError(
                f"{name}: no instant of subject {', '.join(missing)} "
                f"(the project has {', '.join(sorted(known)) or 'none'})"
            )
    keep = np.ones(subjects.shape, dtype=bool)
    if include:
        keep &= np.isin(subjects, list(include))
    if exclude:
        keep &= ~np.isin(subjects, list(exclude))
    return np.nonzero(keep)[0]


def instant_joints(store, i: int, labels: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """(J, 3) world mm with NaN where not used, (2,) bool hand presence, and whether that
    presence was decided by people (module docstring)."""
    if labels == "ground-truth":
        gt = store.ground_truth(i)
        xyz = np.asarray(gt.joints_world_mm, dtype=np.float64)
        present = np.asarray(gt.hand_present, dtype=bool)
        has = np.all(np.isfinite(xyz), axis=1)
        for h, hand in enumerate(HANDS):
            has[hand_slice(hand)] &= present[h]
        return np.where(has[:, None], xyz, np.nan), present, True
    lab = store.labels(i)
    xyz = np.asarray(lab.joints_world_mm, dtype=np.float64)
    keep = np.all(np.isfinite(xyz), axis=1)
    decided = bool((keep & (np.asarray(lab.joint_source) != "machine")).any())
    if labels != "all":
        keep &= np.asarray(lab.joint_source) == labels
    present = np.zeros(2, dtype=bool)
    for h, hand in enumerate(HANDS):
        flag = int(lab.hand_present[h])
        present[h] = flag == 1 or (flag == -1 and bool(keep[hand_slice(hand)].any()))
        if flag == 0:
            keep[hand_slice(hand)] = False
    return np.where(keep[:, None], xyz, np.nan), present, decided


def project_samples(
    store,
    *,
    labels: str = "all",
    subjects: Sequence[str] | None = None,
    exclude_subjects: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    hand_types: str = "people",
) -> SampleTable:
    """All (instant, camera) samples of ``store`` (see the module docstring), instant order,
    as a :class:`~pose_net.data.sample_table.SampleTable` (columns; ``table[i]`` is a
    :class:`~pose_net.data.sample.HandSample`)."""
    if labels not in LABEL_CHOICES:
        raise ValueError(f"labels must be one of {', '.join(LABEL_CHOICES)}, got {labels!r}")
    if hand_types not in HAND_TYPE_CHOICES:
        raise ValueError(f"hand types must be one of {', '.join(HAND_TYPE_CHOICES)}, "
                         f"got {hand_types!r}")
    if labels == "ground-truth" and not store.has_ground_truth:
        raise ValueError(f"{store.path}: --labels ground-truth: the project has no ground truth")
    subj = subject_of_instants(store)
    instants = _select(subj, subjects, exclude_subjects)
    table = store.instants()
    subject_ids = (
        store.instant_attr("subject") if "subject" in store.instant_attr_names() else None
    )
    video = store.is_video_project
    encoded = None if video else store.image_paths_encoded()
    captures: dict[str, int] = {}
    rigs: list = []
    rows: dict[str, list] = {k: [] for k in ("capture", "frame", "subject", "world")}
    cols: dict[str, list] = {k: [] for k in ("row", "camera", "valid", "present", "bbox",
                                             "type_valid", "template", "number", "objects")}
    for n, i in enumerate(instants.tolist()):
        xyz, present, decided = instant_joints(store, i, labels)
        decided = decided or hand_types == "stored"
        has3d = np.all(np.isfinite(xyz), axis=1)
        if present.any() and has3d.any():
            cap = str(table.capture[i])
            if cap not in captures:
                captures[cap] = len(rigs)
                rigs.append(store.rig(cap))
            rig = rigs[captures[cap]]
            positions = store.camera_positions(cap)
            uv_all = project(xyz, rig)  # (J, C', 2)
            ok = has3d[:, None] & in_front(xyz, rig)  # (J, C')
            if video:
                paths = store.image_paths(i)
                has_image = np.array([paths[c] is not None for c in positions.tolist()])
            else:
                tmpl, num = encoded.template[i, positions], encoded.number[i, positions]
                has_image = tmpl >= 0
            use = np.nonzero(has_image & (ok & in_image(uv_all, rig)).any(axis=0))[0]
            if use.size:
                r = len(rows["frame"])
                rows["capture"].append(captures[cap])
                rows["frame"].append(int(table.frame[i]))
                rows["subject"].append(int(subject_ids[i]) if subject_ids is not None else -1)
                rows["world"].append(xyz)
                valid = ok[:, use].T  # (S, J)
                cols["row"].append(np.full(use.size, r, dtype=np.int64))
                cols["camera"].append(use.astype(np.int32))
                cols["valid"].append(root_gated_valid(valid))
                cols["present"].append(np.broadcast_to(present, (use.size, 2)))
                cols["type_valid"].append(np.full(use.size, decided))
                cols["bbox"].append(enlarged_bbox_xywh(uv_all[:, use].transpose(1, 0, 2), valid))
                if video:
                    cols["objects"].extend(paths[c] for c in positions[use].tolist())
                else:
                    cols["template"].append(tmpl[use])
                    cols["number"].append(num[use])
        if progress is not None:
            progress(n + 1, len(instants))
    J = NUM_JOINTS

    def cat(key, empty):
        return np.concatenate(cols[key]) if cols[key] else empty

    if video:
        paths_col = ImagePaths(store.image_root, objects=cols["objects"])
    else:
        paths_col = ImagePaths(store.image_root, EncodedPaths(
            encoded.templates, cat("template", np.zeros(0, encoded.template.dtype)),
            cat("number", np.zeros(0, encoded.number.dtype))))
    out = SampleTable(
        captures=tuple(captures),
        rigs=tuple(rigs),
        pinhole=False,
        row_capture=np.asarray(rows["capture"], dtype=np.int32),
        row_frame=np.asarray(rows["frame"], dtype=np.int64),
        row_subject=np.asarray(rows["subject"], dtype=np.int64),
        row_world_mm=np.asarray(rows["world"], dtype=np.float64).reshape(-1, J, 3),
        row=cat("row", np.zeros(0, np.int64)),
        camera=cat("camera", np.zeros(0, np.int32)),
        joint_valid=cat("valid", np.zeros((0, J), bool)),
        hand_present=cat("present", np.zeros((0, 2), bool)),
        hand_type_valid=cat("type_valid", np.zeros(0, bool)),
        bbox_xywh=cat("bbox", np.zeros((0, 4))),
        paths=paths_col,
    )
    logger.info("%d samples from %d instants of %s", len(out), len(instants), store.path)
    return out
