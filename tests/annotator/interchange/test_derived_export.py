"""Export of a project labelled here (no stored InterHand ids): everything is derived."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from annotator import skeleton
from annotator.interchange import coco_categories, export_coco, export_interhand
from annotator.store import ProjectStore
from tests.annotator.interchange._interhand_reader import load_split
from triangulation.camera import Camera, CameraRig
from triangulation.projection import project as project_points

CAMS = ("camA", "camB", "camC")


def _look_at(center: np.ndarray, target: np.ndarray) -> np.ndarray:
    z = target - center
    z = z / np.linalg.norm(z)
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z])


def _rig() -> CameraRig:
    K = np.array([[800.0, 0, 320], [0, 800.0, 240], [0, 0, 1]])
    cams = []
    for name, pos, target, dist in (
        ("camA", [0, 0, -1000.0], [0, 0, 0.0], [0.05, -0.01, 0, 0, 0]),  # distorted lens
        ("camB", [800, 0, -600.0], [0, 0, 0.0], [0, 0, 0, 0, 0]),
        ("camC", [0, 0, -1000.0], [0, 0, -3000.0], [0, 0, 0, 0, 0]),  # looks away
    ):
        R = _look_at(np.array(pos), np.array(target))
        cams.append(Camera(name, 640, 480, K, np.array(dist), R, -R @ np.array(pos)))
    return CameraRig(cams)


@pytest.fixture()
def labelled(tmp_path):
    rng = np.random.default_rng(0)
    images = tmp_path / "images"
    project = tmp_path / "p"
    keys = [("s1", 0), ("s1", 1), ("s2", 0), ("s2", 1)]  # frame numbers repeat across sequences
    paths = np.empty((len(keys), len(CAMS)), dtype=object)
    for f, (seq, frame) in enumerate(keys):
        for c, cam in enumerate(CAMS):
            rel = f"studio/{seq}/cam{cam}/image{frame:04d}.jpg"
            (images / rel).parent.mkdir(parents=True, exist_ok=True)
            (images / rel).write_bytes(f"{seq}{frame}{cam}".encode())
            paths[f, c] = rel
    store = ProjectStore.create(project, rigs={"studio": _rig()}, image_root=str(images))
    store.add_instants(
        capture=["studio"] * 4,
        sequence=[k[0] for k in keys],
        frame=[k[1] for k in keys],
        image_paths=paths,
    )
    joints = np.full((len(keys), skeleton.NUM_JOINTS, 3), np.nan)
    right = skeleton.hand_slice("right")
    for f in range(len(keys)):
        joints[f, right] = rng.normal(0, 40, (skeleton.JOINTS_PER_HAND, 3))
        store.set_joints_3d(f, joints[f], source="human", annotator="t")
        store.set_hand_present(f, "left", False)
    store.set_hand_present(3, "right", False)  # instant 3: no hand at all -> skipped
    store.clear_joint_3d(3, 0)
    store.save()
    store.close()
    return project, joints


def test_derived_export(labelled, tmp_path, caplog):
    project, joints = labelled
    with caplog.at_level(logging.WARNING), ProjectStore.open(project) as store:
        result = export_interhand(store, tmp_path / "out", "train")
        rig = store.rig("studio")
    assert "(camA) have lens distortion or skew" in caplog.text
    assert result.skipped_instants == 1 and result.skipped_images == 3  # camC sees nothing
    lay = result.layout
    data = json.loads(lay.data.read_text())
    assert len(data["images"]) == 6
    assert [im["id"] for im in data["images"]] == list(range(6))
    assert {im["capture"] for im in data["images"]} == {0}
    assert {im["camera"] for im in data["images"]} == {"0", "1"}
    id_map = json.loads((lay.annotations_dir / "id_map.json").read_text())
    assert id_map["capture"] == {"0": "studio"} and id_map["camera"]["2"] == "camC"
    assert id_map["frame"]["0/2"] == ["s2", 0]
    right = skeleton.hand_slice("right")
    for im, ann in zip(data["images"], data["annotations"], strict=True):
        assert ann["hand_type"] == "right" and ann["hand_type_valid"] == 1
        valid = np.array(ann["joint_valid"]).ravel().astype(bool)
        assert valid[right].all() and not valid[skeleton.hand_slice("left")].any()
        f = {"s1": 0, "s2": 2}[im["seq_name"]] + im["frame_idx"] % 2
        uv = project_points(joints[f], rig)[:, int(im["camera"])]
        lo, hi = uv[right].min(0), uv[right].max(0)
        np.testing.assert_allclose(
            ann["bbox"], [*((lo + hi) / 2 - (hi - lo) * 0.6), *((hi - lo) * 1.2)], atol=1e-9
        )
    cams = json.loads(lay.camera.read_text())["0"]
    np.testing.assert_allclose(cams["campos"]["1"], rig["camB"].center_world, atol=1e-9)
    samples, _ = load_split(tmp_path / "out", "train")
    for s in samples:
        assert s.img_path.is_file()
        if s.cam == 1:  # undistorted camera: the loader's pinhole reprojection is exact
            f = {0: 0, 1: 1, 2: 2, 3: 3}[s.frame]
            uv = project_points(joints[f], rig)[:, 1]
            np.testing.assert_allclose(s.joint_img[right], uv[right], atol=1e-3)


def test_coco_from_labelled_project(labelled, tmp_path):
    project, joints = labelled
    with ProjectStore.open(project) as store:
        result = export_coco(store, tmp_path / "coco.json")
        rig = store.rig("studio")
    doc = json.loads((tmp_path / "coco.json").read_text())
    assert result.images == 12 and len(doc["images"]) == 12
    assert doc["categories"] == coco_categories()
    assert [c["name"] for c in doc["categories"]] == ["right_hand", "left_hand"]
    assert all(len(c["keypoints"]) == skeleton.JOINTS_PER_HAND for c in doc["categories"])
    # right hand seen by camA and camB in 4 instants (instant 3 keeps 20 joints)
    assert len(doc["annotations"]) == 8
    images = {im["id"]: im for im in doc["images"]}
    for ann in doc["annotations"]:
        assert ann["category_id"] == 1
        kps = np.array(ann["keypoints"]).reshape(-1, 3)
        assert kps.shape == (skeleton.JOINTS_PER_HAND, 3)
        assert set(kps[:, 2].tolist()) <= {0, 2}
        assert ann["num_keypoints"] == int((kps[:, 2] == 2).sum())
        assert ann["area"] == pytest.approx(ann["bbox"][2] * ann["bbox"][3])
        im = images[ann["image_id"]]
        f = [("s1", 0), ("s1", 1), ("s2", 0), ("s2", 1)].index((im["sequence"], im["frame"]))
        uv = project_points(joints[f, : skeleton.JOINTS_PER_HAND], rig)[:, CAMS.index(im["camera"])]
        vis = kps[:, 2] == 2
        np.testing.assert_allclose(kps[vis, :2], uv[vis], atol=1e-9)
        assert (kps[~vis, :2] == 0).all()
    n_vis = [a["num_keypoints"] for a in doc["annotations"]]
    assert sorted(n_vis)[:2] == [20, 20]


def test_coco_from_imported_sample(ih_sample, tmp_path):
    from annotator.interchange import import_interhand

    kw = {k: ih_sample[k] for k in ("data", "camera", "joint_3d", "images")}
    import_interhand(tmp_path / "p", **kw)
    with ProjectStore.open(tmp_path / "p") as store:
        export_coco(store, tmp_path / "c.json")
    doc = json.loads((tmp_path / "c.json").read_text())
    assert sorted(im["id"] for im in doc["images"]) == sorted([326750, 286291, 680801, 471953])
    per_image = {}
    for ann in doc["annotations"]:
        per_image.setdefault(ann["image_id"], []).append(ann["category_id"])
    assert sorted(per_image[680801]) == [2]  # left hand only
    assert sorted(per_image[471953]) == [1]  # right hand only
    assert sorted(per_image[326750]) == [1, 2]  # interacting
