"""Write a synthetic InterHand2.6M split of N images in the official schema (for benchmarks).

80 cameras per instant on a ring 1 m around the origin looking at it, hands near the
origin; images listed as the release lists them (capture, sequence, camera, frame), so the
80 images of one instant lie far apart in the data json. Files are written in the
``json.dump`` spelling (``", "``/``": "``) at ~100 MB/s; image files are empty (or absent).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

J = 42
CAMERAS = 80
FRAMES_PER_SEQ = 100
SEQS_PER_CAPTURE = 10


def _ring_cameras(n: int) -> dict[str, dict]:
    campos, camrot, focal, princpt = {}, {}, {}, {}
    for k in range(n):
        a = 2 * math.pi * k / n
        centre = np.array([1000 * math.cos(a), 100.0 * (k % 3 - 1), 1000 * math.sin(a)])
        z = -centre / np.linalg.norm(centre)
        x = np.cross([0.0, 1.0, 0.0], z)
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        R = np.stack([x, y, z]).astype(np.float32).astype(np.float64)
        name = str(400000 + k)
        campos[name] = centre.astype(np.float32).astype(float).tolist()
        camrot[name] = R.tolist()
        focal[name] = [1200.0 + k, 1200.5 + k]
        princpt[name] = [167.0, 256.0]
    return {"campos": campos, "camrot": camrot, "focal": focal, "princpt": princpt}


def write_split(root: Path, split: str, n_images: int, *, images: bool = True) -> dict:
    """Write ``root/annotations/split/*.json`` (+ empty images); returns counts."""
    ann = Path(root) / "annotations" / split
    ann.mkdir(parents=True, exist_ok=True)
    img_root = Path(root) / "images" / split
    n_inst = max(1, n_images // CAMERAS)
    per_cap = FRAMES_PER_SEQ * SEQS_PER_CAPTURE
    n_caps = (n_inst + per_cap - 1) // per_cap
    rng = np.random.default_rng(0)
    base = rng.normal(0, 40, (J, 3)).astype(np.float32)
    cams = _ring_cameras(CAMERAS)
    with open(ann / f"InterHand2.6M_{split}_camera.json", "w") as fh:
        json.dump({str(c): cams for c in range(n_caps)}, fh)
    valid_all = "[" + ", ".join(["[1]"] * J) + "]"
    valid_right = "[" + ", ".join(["[1]"] * 21 + ["[0]"] * 21) + "]"
    joints: dict[str, dict] = {}
    data = open(ann / f"InterHand2.6M_{split}_data.json", "w")
    data.write('{"images": [')
    anns_tmp = ann / ".annotations.part"
    anns = open(anns_tmp, "w")
    image_id = 0
    inst = 0
    first = True
    for cap in range(n_caps):
        jcap = joints.setdefault(str(cap), {})
        for s in range(SEQS_PER_CAPTURE):
            lo = inst
            hi = min(n_inst, lo + FRAMES_PER_SEQ)
            if lo >= hi:
                break
            seq = f"{s:04d}_seq"
            frames = [cap * per_cap + s * FRAMES_PER_SEQ + f for f in range(hi - lo)]
            for frame in frames:
                xyz = base + np.float32(frame % 17)
                right_only = frame % 5 == 0
                jcap[str(frame)] = {
                    "world_coord": xyz.astype(float).tolist(),
                    "joint_valid": [[True]] * 21 + [[not right_only]] * 21,
                    "hand_type": "right" if right_only else "interacting",
                    "hand_type_valid": True,
                }
            for c in range(CAMERAS):
                cam = str(400000 + c)
                folder = img_root / f"Capture{cap}" / seq / f"cam{cam}"
                if images:
                    folder.mkdir(parents=True, exist_ok=True)
                parts, aparts = [], []
                for frame in frames:
                    fname = f"Capture{cap}/{seq}/cam{cam}/image{frame}.jpg"
                    parts.append(
                        f'{{"id": {image_id}, "file_name": "{fname}", "width": 334, '
                        f'"height": 512, "capture": {cap}, "subject": {cap % 10}, '
                        f'"seq_name": "{seq}", "camera": "{cam}", "frame_idx": {frame}}}'
                    )
                    right_only = frame % 5 == 0
                    x = 30.0 + (image_id % 97) * 0.5
                    aparts.append(
                        f'{{"id": {image_id}, "image_id": {image_id}, '
                        f'"bbox": [{x}, 150.25, 180.5, 140.125], "joint_valid": '
                        f'{valid_right if right_only else valid_all}, "hand_type": '
                        f'"{"right" if right_only else "interacting"}", "hand_type_valid": 1}}'
                    )
                    if images:
                        os.close(os.open(folder / f"image{frame}.jpg", os.O_CREAT | os.O_WRONLY))
                    image_id += 1
                sep = "" if first else ", "
                data.write(sep + ", ".join(parts))
                anns.write(sep + ", ".join(aparts))
                first = False
            inst = hi
    anns.close()
    data.write('], "annotations": [')
    with open(anns_tmp) as fh:
        while chunk := fh.read(1 << 24):
            data.write(chunk)
    anns_tmp.unlink()
    data.write("]}")
    data.close()
    with open(ann / f"InterHand2.6M_{split}_joint_3d.json", "w") as fh:
        json.dump(joints, fh)
    return {"images": image_id, "instants": n_inst, "captures": n_caps}
