"""A test-side reader of the official InterHand2.6M layout, following the public InterNet
data loader's logic (not its code): ``pycocotools``-style indexing of the data json
(annotations keyed by id, images by id), the camera json indexed by ``str(capture)`` then
``str(camera)``, the joint_3d json by ``str(capture)`` then ``str(frame_idx)``; world joints
projected with ``x_cam = camrot (X - campos)`` and ``u = f x / z + c``; the per-image
joint_valid zeroed for a whole hand whose root is invalid; skeleton.txt read line by line,
skipping ``#`` lines, splitting on single spaces into exactly ``name id parent``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

JOINTS_PER_HAND = 21  # the loader hard-codes this; so does this reader, on purpose
ROOTS = {"right": 20, "left": 41}


@dataclass
class LoadedSample:
    img_path: Path
    bbox: np.ndarray
    joint_img: np.ndarray  # (42, 2)
    joint_cam: np.ndarray  # (42, 3)
    joint_valid: np.ndarray  # (42,)
    hand_type: str
    hand_type_valid: float
    capture: int
    cam: int
    frame: int


def load_skeleton(path: Path, joint_num: int) -> list[dict]:
    skeleton: list[dict] = [{} for _ in range(joint_num)]
    with open(path) as fp:
        for line in fp:
            if line[0] == "#":
                continue
            name, jid, parent = line.split(" ")  # exactly three fields, as the loader demands
            skeleton[int(jid)] = {"name": name, "parent_id": int(parent)}
    for i, entry in enumerate(skeleton):
        entry["child_id"] = [j for j, e in enumerate(skeleton) if e["parent_id"] == i]
    return skeleton


def load_split(root: Path, split: str) -> tuple[list[LoadedSample], list[dict]]:
    ann_dir = root / "annotations" / split
    data = json.loads((ann_dir / f"InterHand2.6M_{split}_data.json").read_text())
    cameras = json.loads((ann_dir / f"InterHand2.6M_{split}_camera.json").read_text())
    joints = json.loads((ann_dir / f"InterHand2.6M_{split}_joint_3d.json").read_text())
    skeleton = load_skeleton(root / "annotations" / "skeleton.txt", JOINTS_PER_HAND * 2)
    imgs = {im["id"]: im for im in data["images"]}
    anns = {an["id"]: an for an in data["annotations"]}
    out = []
    for aid in anns:
        ann = anns[aid]
        img = imgs[ann["image_id"]]
        cap, cam, frame = img["capture"], img["camera"], img["frame_idx"]
        c = cameras[str(cap)]
        campos = np.array(c["campos"][str(cam)], dtype=np.float32)
        camrot = np.array(c["camrot"][str(cam)], dtype=np.float32)
        focal = np.array(c["focal"][str(cam)], dtype=np.float32)
        princpt = np.array(c["princpt"][str(cam)], dtype=np.float32)
        world = np.array(joints[str(cap)][str(frame)]["world_coord"], dtype=np.float32)
        joint_cam = (camrot @ (world.T - campos.reshape(3, 1))).T
        joint_img = joint_cam[:, :2] / (joint_cam[:, 2:] + 1e-8) * focal + princpt
        valid = np.array(ann["joint_valid"], dtype=np.float32).reshape(JOINTS_PER_HAND * 2)
        valid[:JOINTS_PER_HAND] *= valid[ROOTS["right"]]
        valid[JOINTS_PER_HAND:] *= valid[ROOTS["left"]]
        if ann["hand_type"] not in ("right", "left", "interacting"):
            raise ValueError(f"unsupported hand type {ann['hand_type']}")
        out.append(
            LoadedSample(
                img_path=root / "images" / split / img["file_name"],
                bbox=np.array(ann["bbox"], dtype=np.float32),
                joint_img=joint_img,
                joint_cam=joint_cam,
                joint_valid=valid,
                hand_type=ann["hand_type"],
                hand_type_valid=float(ann["hand_type_valid"]),
                # the loader's __getitem__ turns these into ints
                capture=int(cap),
                cam=int(cam),
                frame=int(frame),
            )
        )
    return out, skeleton
