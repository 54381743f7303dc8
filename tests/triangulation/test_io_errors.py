"""Bad calibration files: one-line ValueError naming the file and the problem."""

from __future__ import annotations

import json
import random

import cv2
import numpy as np
import pytest

from triangulation import Camera, CameraRig, load_rig, load_rigs, save_rig, save_rigs
from triangulation.io import CalibrationFormatError, detect_format


def _rig(names=("a", "b")) -> CameraRig:
    cams = []
    for i, name in enumerate(names):
        R, _ = cv2.Rodrigues(np.array([0.1, 0.2 * i, -0.3]))
        K = np.array([[1000.0, 0.0, 320.0], [0.0, 1000.0, 240.0], [0.0, 0.0, 1.0]])
        cams.append(Camera(name, 640, 480, K, np.zeros(5), R, np.array([0.0, i, 900.0])))
    return CameraRig(cams)


@pytest.fixture
def native_text(tmp_path) -> str:
    save_rig(_rig(), tmp_path / "good.toml")
    return (tmp_path / "good.toml").read_text()


ANIPOSE = """\
[cam_0]
name = "a"
size = [640, 480]
matrix = [[1000.0, 0.0, 320.0], [0.0, 1000.0, 240.0], [0.0, 0.0, 1.0]]
distortions = [0.0, 0.0, 0.0, 0.0, 0.0]
rotation = [0.1, 0.2, 0.3]
translation = [1.0, 2.0, 3.0]

[cam_1]
name = "b"
size = [640, 480]
matrix = [[1000.0, 0.0, 320.0], [0.0, 1000.0, 240.0], [0.0, 0.0, 1.0]]
distortions = [0.0, 0.0, 0.0, 0.0, 0.0]
rotation = [0.1, 0.2, 0.3]
translation = [1.0, 2.0, 3.0]

[metadata]
"""

INTERHAND = {
    "1": {
        "campos": {"400002": [1.0, 2.0, 3.0]},
        "camrot": {"400002": np.eye(3).tolist()},
        "focal": {"400002": [1200.0, 1200.0]},
        "princpt": {"400002": [167.0, 256.0]},
    }
}


def _expect(path, match: str, **kw) -> str:
    with pytest.raises(CalibrationFormatError, match=match) as info:
        load_rigs(path, **kw)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    return message


def _native_case(text: str, old: str, new: str, count: int = 1) -> str:
    assert old in text, old
    return text.replace(old, new, count)


def test_good_fixtures_load(tmp_path, native_text):
    (tmp_path / "n.toml").write_text(native_text)
    (tmp_path / "a.toml").write_text(ANIPOSE)
    (tmp_path / "i.json").write_text(json.dumps(INTERHAND))
    assert load_rig(tmp_path / "n.toml").names == ["a", "b"]
    assert load_rig(tmp_path / "a.toml").names == ["a", "b"]
    assert load_rig(tmp_path / "i.json", image_size=(334, 512)).names == ["400002"]


@pytest.mark.parametrize(
    "old, new, match",
    [
        # unknown keys
        ("version = 1\n", "version = 1\nunits = 'mm'\n", "unknown top-level key.*'units'"),
        ('name = "a"\n', 'name = "a"\nfx = 3.0\n', r"camera\[0\]: unknown key.*'fx'"),
        # missing keys
        ('name = "a"\n', "", r"camera\[0\]: missing key.*'name'"),
        ("width = 640\n", "", r"missing key.*'width'"),
        ("version = 1\n", "", "version must be a positive integer"),
        # wrong types and shapes
        ("version = 1\n", "version = 2\n", "format version 2 is newer"),
        ("width = 640\n", "width = 640.5\n", "width must be an integer"),
        ("width = 640\n", "width = 0\n", "positive whole numbers"),
        ("    [0.0, 0.0, 1.0],\n]\ndist", "]\ndist", r"K must be 3x3, got shape \(2, 3\)"),
        ("t = [0.0, 0.0, 900.0]", "t = [0.0, 900.0]", r"t must be 3, got shape \(2,\)"),
        ("dist = [0.0, 0.0, 0.0, 0.0, 0.0]", "dist = [0.0, 0.0, 0.0]", "dist must have one of"),
        ("dist = [0.0, 0.0, 0.0, 0.0, 0.0]", "dist = [[0.0, 0.0], [0.0, 0.0]]", "flat list"),
        ("t = [0.0, 0.0, 900.0]", 't = [0.0, "x", 900.0]', "must hold numbers"),
        ("t = [0.0, 0.0, 900.0]", "t = [0.0, [1.0], 900.0]", "mixes numbers and lists"),
        ("    [0.0, 0.0, 1.0],\n]\ndist", "    [0.0, 1.0],\n]\ndist", "ragged"),
        # non-finite values
        ("t = [0.0, 0.0, 900.0]", "t = [0.0, nan, 900.0]", "t contains NaN or inf"),
        ("    [1000.0, 0.0, 320.0],", "    [inf, 0.0, 320.0],", "K contains NaN or inf"),
        # not a rotation
        ("R = [\n    [", "R = [\n    [2.0, 0.0, 0.0], [", "R is not a rotation"),
        # duplicate names
        ('name = "b"', 'name = "a"', "duplicate camera names in rig: a"),
        # truncated file
        ("t = [0.0, 1.0, 900.0]\n", "t = [0.0, 1.0,", "malformed TOML"),
    ],
)
def test_native_errors(tmp_path, native_text, old, new, match):
    path = tmp_path / "cameras.toml"
    text = _native_case(native_text, old, new)
    if "R = [\n    [2.0" in new:  # drop the old first row so R stays 3x3
        head, _, tail = text.partition("R = [\n    [2.0, 0.0, 0.0], [")
        row_end = tail.index("\n")
        text = head + "R = [\n    [2.0, 0.0, 0.0],\n" + tail[row_end + 1 :]
    path.write_text(text)
    _expect(path, match)


def test_native_multi_capture_errors(tmp_path):
    path = tmp_path / "cameras.toml"
    cam = (
        '[[capture.camera]]\nname = "a"\nwidth = 2\nheight = 2\n'
        "K = [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]\ndist = []\n"
        "R = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]\nt = [0.0, 0.0, 0.0]\n"
    )
    good = f'version = 1\n[[capture]]\nid = "x"\n{cam}'
    path.write_text(good)
    assert load_rig(path).names == ["a"]
    cases = {
        good + f'[[capture]]\nid = "x"\n{cam}': "duplicate capture id 'x'",
        good.replace('id = "x"', "id = 3"): "id must be a non-empty string",
        good.replace('id = "x"\n', 'id = "x"\nnote = "hi"\n'): r"capture\[0\]: unknown key.*'note'",
        good + "[[camera]]\nname = 'z'\n": "either",
        'version = 1\n[[capture]]\nid = "x"\n': "missing",
    }
    for text, match in cases.items():
        path.write_text(text)
        _expect(path, match)


@pytest.mark.parametrize(
    "old, new, match",
    [
        ('name = "b"', 'name = "a"', "duplicate camera names in rig: a"),
        ("rotation = [0.1, 0.2, 0.3]\n", "", r"\[cam_0\]: missing key.*'rotation'"),
        ("size = [640, 480]", "size = [640]", r"size must be \[width, height\]"),
        ("size = [640, 480]", "size = [640.5, 480]", "positive whole numbers"),
        ("rotation = [0.1, 0.2, 0.3]", "rotation = [0.1, 0.2]", "rotation .*must be 3"),
        ("translation = [1.0, 2.0, 3.0]", "translation = [1.0, inf, 3.0]", "NaN or inf"),
        ("distortions = [0.0, 0.0, 0.0, 0.0, 0.0]", "distortions = [0.0]", "dist must have"),
        ('name = "a"\n', 'name = "a"\nfisheye = true\n', "fisheye cameras are not supported"),
        ("[cam_0]\n", "stray = 3\n[cam_0]\n", "unexpected top-level key 'stray'"),
        ("matrix = [[1000.0", "matrix = [[-1000.0", "fx, fy > 0"),
        ("translation = [1.0, 2.0, 3.0]\n\n[cam_1]", "translation = [1.0, 2.0", "malformed TOML"),
    ],
)
def test_anipose_errors(tmp_path, old, new, match):
    path = tmp_path / "calibration.toml"
    path.write_text(_native_case(ANIPOSE, old, new))
    _expect(path, match)


def _interhand_case(edit) -> dict:
    doc = json.loads(json.dumps(INTERHAND))
    edit(doc["1"])
    return doc


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda c: c.pop("focal"), "capture '1': missing field.*'focal'"),
        (lambda c: c["princpt"].update({"999": [1.0, 2.0]}), "princpt and campos list"),
        (lambda c: c.update(camrot={"x": np.eye(3).tolist()}), "camrot and campos list differ"),
        (lambda c: c["campos"].update({"400002": [1.0, 2.0]}), r"campos must be 3"),
        (lambda c: c["camrot"].update({"400002": [[1.0, 0.0], [0.0, 1.0]]}), "camrot must be"),
        (lambda c: c["camrot"].update({"400002": (2 * np.eye(3)).tolist()}), "not a rotation"),
        (lambda c: c["focal"].update({"400002": [float("nan"), 1.0]}), "NaN or inf"),
    ],
)
def test_interhand_errors(tmp_path, edit, match):
    path = tmp_path / "x_camera.json"
    path.write_text(json.dumps(_interhand_case(edit)))
    _expect(path, match, image_size=(334, 512))


def test_interhand_data_json_errors_name_the_data_json(tmp_path):
    path = tmp_path / "x_camera.json"
    path.write_text(json.dumps(INTERHAND))
    data = tmp_path / "x_data.json"
    data.write_text('{"images": [{"capture": 1, "camera": "400002", "width": 3')
    with pytest.raises(CalibrationFormatError, match="malformed JSON") as info:
        load_rig(path, data_json=data)
    assert str(info.value).startswith(f"{data}: ")
    data.write_text(json.dumps({"images": [{"capture": 1}]}))
    with pytest.raises(CalibrationFormatError, match=r"images\[0\] needs capture, camera"):
        load_rig(path, data_json=data)
    image = {"capture": 1, "camera": "400002", "width": 334, "height": 512}
    data.write_text(json.dumps({"images": [image, dict(image, width=512)]}))
    with pytest.raises(CalibrationFormatError, match="images of different sizes"):
        load_rig(path, data_json=data)
    data.write_text(json.dumps({"images": [dict(image, camera="other")]}))
    message = _expect(path, "no image size for camera.*400002", data_json=data)
    assert "x_data.json" in message


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("cal.txt", "just some words\n= =\n", "unknown calibration format"),
        ("cal.toml", "[something]\nvalue = 1\n", "unknown TOML calibration format"),
        ("cal.json", '{"hello": {"world": 1}}', "unknown JSON calibration format"),
        ("cal.toml", "", "empty file"),
        ("cal.json", '{"1": {"campos": {"a": [1, 2, 3]}, "camrot"', "malformed JSON"),
        ("cal.yaml", "%YAML:1.0\n---\ncamera_matrix: [1, 2\n", "malformed OpenCV file"),
        ("cal.yaml", "%YAML:1.0\n---\nimage_width: 640\n", "no camera found"),
        ("cal.xml", "<?xml version='1.0'?>\n<opencv_storage>\n<K>", "malformed OpenCV file"),
        ("cal.json", '{"camera_matrix": [[1, 0, 1], [0, 1, 1]], "image_size": [4, 4]}',
         r"camera_matrix must be 3x3"),
        ("cal.json", '{"camera_matrix": {"rows": 3, "cols": 3, "data": [1, 0]}}',
         "do not fill"),
        ("cal.json", '{"camera_matrix": {"rows": null, "cols": 3, "data": [1, 0]}}',
         "dimensions must be whole numbers"),
        ("cal.json", '{"cameras": [{"K": [[1, 0, 1], [0, 1, 1], [0, 0, 1]]}]}',
         r"cameras\[0\] must be a mapping with a name"),
        ("cal.json", '{"K": [[1, 0, 1], [0, 1, 1], [0, 0, 1]], "image_size": [4, 4], '
         '"R": [[1, 0, 0], [0, 1, 0], [0, 0, 2]]}', "not a rotation"),
        ("cal.json", '{"K": [[1, 0, 1], [0, 1, 1], [0, 0, 1]], "image_size": [4, 4], '
         '"T": [0, NaN, 0]}', "NaN or inf"),
        ("cal.json", '{"cameras": {"a": {"K": [[1, 0, 1], [0, 1, 1], [0, 0, 1]], '
         '"image_size": [4, 4]}, "b": {"name": "a", "K": [[1, 0, 1], [0, 1, 1], [0, 0, 1]], '
         '"image_size": [4, 4]}}}', "duplicate camera names in rig: a"),
    ],
)
def test_unknown_and_malformed_files(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_text(content)
    _expect(path, match)


def test_not_utf8(tmp_path):
    path = tmp_path / "cameras.toml"
    path.write_bytes(b"version = 1\n\xff\xfe\x00garbage")
    _expect(path, "not UTF-8 text")
    with pytest.raises(CalibrationFormatError, match="not UTF-8"):
        detect_format(path)


def test_bad_keywords(tmp_path, native_text):
    path = tmp_path / "cameras.toml"
    path.write_text(native_text)
    _expect(path, "units_scale must be a positive", units_scale=0.0)
    _expect(path, "units_scale must be a positive", units_scale=float("nan"))
    _expect(path, "format must be one of", format="vicon")
    _expect(path, r"image_size must be \[width, height\]", image_size=(1, 2, 3))


def test_missing_file_is_an_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_rig(tmp_path / "absent.toml")


def _corpus(tmp_path) -> dict[str, bytes]:
    """One valid file of every format, as bytes."""
    rig = _rig()
    save_rig(rig, tmp_path / "n.toml")
    save_rigs({"x": rig, "y": rig}, tmp_path / "m.toml")
    fs = cv2.FileStorage(str(tmp_path / "o.yaml"), cv2.FILE_STORAGE_WRITE)
    for cam in rig:
        fs.startWriteStruct(cam.name, cv2.FileNode_MAP)
        fs.write("image_width", cam.width)
        fs.write("image_height", cam.height)
        fs.write("camera_matrix", cam.K)
        fs.write("distortion_coefficients", cam.dist)
        fs.write("R", cam.R)
        fs.write("T", cam.t)
        fs.endWriteStruct()
    fs.release()
    files = {name: (tmp_path / name).read_bytes() for name in ("n.toml", "m.toml", "o.yaml")}
    files["a.toml"] = ANIPOSE.encode()
    files["i.json"] = json.dumps(INTERHAND, indent=1).encode()
    return files


def test_corrupted_files_fail_cleanly(tmp_path):
    """Truncated files, deleted lines and flipped bytes of every format: each either loads
    or raises the one-line CalibrationFormatError, never another exception."""
    rng = random.Random(1)
    outcomes = {"loaded": 0, "refused": 0}
    for name, good in _corpus(tmp_path).items():
        lines = good.split(b"\n")
        variants = [good[:k] for k in range(0, len(good), 11)]
        variants += [b"\n".join(lines[:i] + lines[i + 1 :]) for i in range(len(lines))]
        for _ in range(60):
            corrupt = bytearray(good)
            corrupt[rng.randrange(len(corrupt))] = rng.choice(b'[]{},:=".0-ne\n x')
            variants.append(bytes(corrupt))
        path = tmp_path / f"bad_{name}"
        for variant in variants:
            path.write_bytes(variant)
            try:
                load_rigs(path, image_size=(10, 10))
                outcomes["loaded"] += 1
            except CalibrationFormatError as exc:
                assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
                outcomes["refused"] += 1
    assert outcomes["refused"] > 500 and outcomes["loaded"] > 10


@pytest.mark.parametrize(
    "content, match",
    [
        # InterHand: camera "400002" twice in campos (json.loads kept the last silently)
        ('{"1": {"campos": {"400002": [1, 2, 3], "400002": [4, 5, 6]}, '
         '"camrot": {"400002": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}, '
         '"focal": {"400002": [1200, 1200]}, "princpt": {"400002": [167, 256]}}}',
         "duplicate key '400002'"),
        # OpenCV-style plain JSON: camera "a" twice in the cameras mapping
        ('{"cameras": {"a": {"K": [[1, 0, 1], [0, 1, 1], [0, 0, 1]], "image_size": [4, 4]}, '
         '"a": {"K": [[2, 0, 1], [0, 2, 1], [0, 0, 1]], "image_size": [4, 4]}}}',
         "duplicate key 'a'"),
    ],
)
def test_regression_duplicate_json_keys_silently_dropped_a_camera(tmp_path, content, match):
    path = tmp_path / "cal_camera.json"
    path.write_text(content)
    _expect(path, match, image_size=(334, 512))
