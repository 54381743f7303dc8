"""Calibration files from real projects (sleap-anipose, Pose2Sim, InterHand2.6M)."""

from __future__ import annotations

import json
import tomllib

import cv2
import numpy as np
import pytest

from triangulation import load_rig, load_rigs, save_rig
from triangulation.io import CalibrationFormatError, detect_format

INTERHAND = "interhand2.6m_sample"
CAMERA_JSON = "test_interhand2.6m_camera.json"
DATA_JSON = "test_interhand2.6m_data.json"
JOINT_JSON = "test_interhand2.6m_joint_3d.json"


def test_sleap_anipose_calibration(realdata_dir, tmp_path):
    path = realdata_dir("sleap_anipose_minimal_session") / "calibration.toml"
    assert detect_format(path) == "anipose"
    rig = load_rig(path)
    # File order (here it equals the sorted order too; test_io.py checks a file where not).
    assert rig.names == ["back", "mid", "side", "top"]
    sections = [v for k, v in tomllib.loads(path.read_text()).items() if k != "metadata"]
    for cam, sec in zip(rig, sections, strict=True):
        R_expected, _ = cv2.Rodrigues(np.array(sec["rotation"], dtype=np.float64))
        np.testing.assert_array_equal(cam.R, R_expected)
        np.testing.assert_array_equal(cam.t, np.array(sec["translation"]))
        np.testing.assert_array_equal(cam.K, np.array(sec["matrix"]))
        np.testing.assert_array_equal(cam.dist, np.array(sec["distortions"]))
        assert cam.size == (1280, 1024) == tuple(sec["size"])
    # Converted to our format and back: exact.
    save_rig(rig, tmp_path / "cameras.toml")
    assert load_rig(tmp_path / "cameras.toml") == rig


def test_sleap_calibration_agrees_with_aniposelib(realdata_dir):
    aniposelib = pytest.importorskip("aniposelib.cameras")
    path = realdata_dir("sleap_anipose_minimal_session") / "calibration.toml"
    group = aniposelib.CameraGroup.load(str(path))
    rig = load_rig(path)
    assert [c.get_name() for c in group.cameras] == rig.names
    for theirs, ours in zip(group.cameras, rig, strict=True):
        extrinsics = theirs.get_extrinsics_mat()  # (4, 4) world -> camera
        np.testing.assert_array_equal(extrinsics[:3, :3], ours.R)
        np.testing.assert_array_equal(extrinsics[:3, 3], ours.t)
        np.testing.assert_array_equal(theirs.get_camera_matrix(), ours.K)


@pytest.mark.parametrize("name", ["Calib_scene.toml", "Calib_qualisys.toml"])
def test_pose2sim_calibrations(realdata_dir, name):
    path = realdata_dir("pose2sim_demo_balancing") / "calibration" / name
    sections = {k: v for k, v in tomllib.loads(path.read_text()).items() if k != "metadata"}
    rig_m = load_rig(path)
    rig_mm = load_rig(path, units_scale=1000.0)
    assert rig_m.names == [s["name"] for s in sections.values()]
    assert len(rig_m) == 4
    for cam_m, cam_mm, sec in zip(rig_m, rig_mm, sections.values(), strict=True):
        assert sec["fisheye"] is False and isinstance(sec["size"][0], float)
        assert cam_m.size == (1088, 1920)  # (width, height): portrait video
        assert cam_m.dist.shape == (4,)
        np.testing.assert_array_equal(cam_m.dist, sec["distortions"])
        np.testing.assert_array_equal(cam_m.t, sec["translation"])
        np.testing.assert_array_equal(cam_mm.t, np.array(sec["translation"]) * 1000.0)
        np.testing.assert_array_equal(cam_mm.R, cam_m.R)
    # The demo's cameras stand 3-4.5 m from the scene origin.
    dist_mm = np.linalg.norm(rig_mm.centers_world, axis=1)
    assert np.all((2000 < dist_mm) & (dist_mm < 6000))


def _interhand(realdata_dir):
    folder = realdata_dir(INTERHAND)
    return folder, json.loads((folder / CAMERA_JSON).read_text())


def test_interhand_camera_json(realdata_dir):
    folder, raw = _interhand(realdata_dir)
    assert detect_format(folder / CAMERA_JSON) == "interhand"
    rigs = load_rigs(folder / CAMERA_JSON, data_json=folder / DATA_JSON)
    assert list(rigs) == ["3", "2", "7", "4"] == list(raw)
    images = json.loads((folder / DATA_JSON).read_text())["images"]
    sizes = {(str(i["capture"]), i["camera"]): (i["width"], i["height"]) for i in images}
    for cap_id, rig in rigs.items():
        assert len(rig) == 1
        cam = rig[0]
        entry = raw[cap_id]
        assert cam.name == next(iter(entry["campos"]))
        np.testing.assert_array_equal(cam.R, np.array(entry["camrot"][cam.name]))
        # campos is the camera centre; float32-rounded camrot is orthonormal to ~1e-7.
        np.testing.assert_allclose(
            cam.center_world, entry["campos"][cam.name], rtol=0, atol=1e-4
        )
        fx, fy = entry["focal"][cam.name]
        cx, cy = entry["princpt"][cam.name]
        np.testing.assert_array_equal(cam.K, [[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
        np.testing.assert_array_equal(cam.dist, np.zeros(5))
        assert cam.size == sizes[(cap_id, cam.name)]
    # One capture; an int id works as InterHand's data json writes it.
    assert load_rig(folder / CAMERA_JSON, capture=4, data_json=folder / DATA_JSON) == rigs["4"]
    assert rigs["4"][0].size == (512, 334)  # this camera's crops are landscape


def test_interhand_sizes_from_keyword(realdata_dir):
    folder, _ = _interhand(realdata_dir)
    rig = load_rig(folder / CAMERA_JSON, capture="3", image_size=(334, 512))
    assert rig[0].size == (334, 512)
    rig = load_rig(folder / CAMERA_JSON, capture="7", image_size={"410053": (100, 200)})
    assert rig[0].size == (100, 200)


def test_interhand_errors_name_the_choices(realdata_dir):
    folder, _ = _interhand(realdata_dir)
    with pytest.raises(CalibrationFormatError, match=r"holds 4 captures \(3, 2, 7, 4\)"):
        load_rig(folder / CAMERA_JSON, data_json=folder / DATA_JSON)
    with pytest.raises(CalibrationFormatError, match="no capture '9'; captures: 3, 2, 7, 4"):
        load_rig(folder / CAMERA_JSON, capture=9, data_json=folder / DATA_JSON)
    with pytest.raises(CalibrationFormatError, match=f"no image size.*{DATA_JSON}") as info:
        load_rig(folder / CAMERA_JSON, capture="3")
    assert str(info.value).startswith(str(folder / CAMERA_JSON))
    assert "\n" not in str(info.value)


def _project_pinhole(points_world_mm: np.ndarray, cam) -> np.ndarray:
    # Zero-distortion pinhole; triangulation.project (with distortion) is another helper's
    # work and had not landed when this test was written.
    x_cam = points_world_mm @ cam.R.T + cam.t
    uv_h = x_cam @ cam.K.T
    return uv_h[:, :2] / uv_h[:, 2:]


def test_interhand_projection_reproduces_every_bbox(realdata_dir):
    folder, _ = _interhand(realdata_dir)
    rigs = load_rigs(folder / CAMERA_JSON, data_json=folder / DATA_JSON)
    data = json.loads((folder / DATA_JSON).read_text())
    joints = json.loads((folder / JOINT_JSON).read_text())
    anns = {a["image_id"]: a for a in data["annotations"]}
    assert len(data["images"]) == 4
    for img in data["images"]:
        cap = str(img["capture"])
        cam = rigs[cap][img["camera"]]
        frame = joints[cap][str(img["frame_idx"])]
        uv = _project_pinhole(np.array(frame["world_coord"], dtype=np.float64), cam)
        ann = anns[img["id"]]
        valid = np.array(ann["joint_valid"]).ravel() > 0
        lo, hi = uv[valid].min(0), uv[valid].max(0)
        centre, size = (lo + hi) / 2, (hi - lo) * 1.2
        bbox = np.concatenate([centre - size / 2, size])
        np.testing.assert_allclose(bbox, ann["bbox"], rtol=0, atol=0.01)
