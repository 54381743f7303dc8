"""OpenCV-style calibration files: cv2.FileStorage YAML/XML/JSON and plain JSON."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from triangulation import Camera, CameraRig, load_rig, load_rigs
from triangulation.io import CalibrationFormatError, detect_format


def _rig() -> CameraRig:
    rng = np.random.default_rng(7)
    cams = []
    for i, (name, n_dist) in enumerate([("left", 5), ("right", 8), ("cam_10", 14), ("cam_2", 4)]):
        R, _ = cv2.Rodrigues(rng.normal(size=3))
        K = np.array([[900.0 + rng.random(), 0.0, 640.3], [0.0, 901.7, 359.9], [0.0, 0.0, 1.0]])
        cams.append(
            Camera(name, 1280 + i, 720, K, rng.normal(scale=0.1, size=n_dist), R,
                   rng.normal(scale=500.0, size=3))
        )
    return CameraRig(cams)


def _write_camera(fs: cv2.FileStorage, cam: Camera, rotation: str) -> None:
    fs.write("image_width", cam.width)
    fs.write("image_height", cam.height)
    fs.write("camera_matrix", cam.K)
    fs.write("distortion_coefficients", cam.dist.reshape(1, -1))
    if rotation == "R":
        fs.write("R", cam.R)
    else:
        fs.write("rvec", cv2.Rodrigues(cam.R)[0])
    fs.write("T", cam.t.reshape(3, 1))


def _assert_same(loaded: CameraRig, rig: CameraRig, exact: bool = True) -> None:
    assert loaded.names == rig.names
    for a, b in zip(loaded, rig, strict=True):
        assert a.size == b.size
        for attr in ("K", "dist", "t") + (("R",) if exact else ()):
            np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
        if not exact:  # R through a Rodrigues round trip
            np.testing.assert_allclose(a.R, b.R, rtol=0, atol=1e-12)


@pytest.mark.parametrize("ext", [".yaml", ".yml", ".xml", ".json"])
def test_filestorage_several_cameras_round_trip(tmp_path, ext):
    rig = _rig()
    path = tmp_path / f"calib{ext}"
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    fs.write("calibration_time", "today")  # ignored
    for cam in rig:
        fs.startWriteStruct(cam.name, cv2.FileNode_MAP)
        _write_camera(fs, cam, "R")
        fs.endWriteStruct()
    fs.release()
    assert detect_format(path) == "opencv"
    _assert_same(load_rig(path), rig)
    assert list(load_rigs(path)) == ["0"]


def test_filestorage_single_camera_with_rvec(tmp_path):
    cam = _rig()[1]
    path = tmp_path / "right.yaml"
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    _write_camera(fs, cam, "rvec")
    fs.write("avg_reprojection_error", 0.31)
    fs.release()
    rig = load_rig(path)
    assert rig.names == ["right"]  # named after the file
    _assert_same(rig, CameraRig([cam]), exact=False)


def test_filestorage_cameras_sequence_keeps_order(tmp_path):
    rig = _rig()
    path = tmp_path / "calib.yaml"
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    fs.startWriteStruct("cameras", cv2.FileNode_SEQ)
    for cam in rig:
        fs.startWriteStruct("", cv2.FileNode_MAP)
        fs.write("name", cam.name)
        _write_camera(fs, cam, "R")
        fs.endWriteStruct()
    fs.endWriteStruct()
    fs.release()
    _assert_same(load_rig(path), rig)
    assert load_rig(path, units_scale=0.001)[0].t[0] == rig[0].t[0] * 0.001


def test_plain_json_dialect(tmp_path):
    rig = _rig()
    cams = [
        {
            "name": c.name,
            "image_size": [c.width, c.height],
            "K": c.K.tolist(),
            "dist": c.dist.tolist(),
            "R": c.R.tolist(),
            "t": c.t.tolist(),
        }
        for c in rig
    ]
    path = tmp_path / "calib.json"
    path.write_text(json.dumps({"cameras": cams}))
    assert detect_format(path) == "opencv"
    _assert_same(load_rig(path), rig)
    # Mapping form, name -> camera.
    path.write_text(json.dumps({"cameras": {c.pop("name"): c for c in cams}}))
    _assert_same(load_rig(path), rig)


def test_missing_size_uses_keyword(tmp_path):
    cam = _rig()[0]
    path = tmp_path / "cam.json"
    path.write_text(json.dumps({"camera_matrix": cam.K.tolist()}))
    with pytest.raises(CalibrationFormatError, match="no image size"):
        load_rig(path)
    loaded = load_rig(path, image_size=(640, 480))[0]
    assert loaded.size == (640, 480)
    np.testing.assert_array_equal(loaded.R, np.eye(3))
    np.testing.assert_array_equal(loaded.t, np.zeros(3))
    assert loaded.dist.size == 0


def test_r_and_rvec_must_agree(tmp_path):
    cam = _rig()[0]
    path = tmp_path / "cam.json"
    doc = {"camera_matrix": cam.K.tolist(), "image_size": [10, 10], "R": cam.R.tolist(),
           "rvec": [0.0, 0.0, 0.0]}
    path.write_text(json.dumps(doc))
    with pytest.raises(CalibrationFormatError, match="R and rvec disagree"):
        load_rig(path)
    doc["rvec"] = cv2.Rodrigues(cam.R)[0].ravel().tolist()
    path.write_text(json.dumps(doc))
    np.testing.assert_array_equal(load_rig(path)[0].R, cam.R)
