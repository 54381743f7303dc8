"""The pure InterHand2.6M format layer on the real sample: read, validate, write back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annotator import skeleton
from annotator.interchange import (
    InterchangeFormatError,
    InterHandLayout,
    enlarged_bbox_xywh,
    interhand_camera,
    place_image,
    read_interhand,
    rig_from_interhand,
    to_json,
    write_interhand,
)
from tests.annotator.interchange._interhand_reader import load_split
from tests.annotator.interchange.conftest import write_variant


def _read(paths):
    return read_interhand(paths["data"], paths["camera"], paths["joint_3d"])


def test_read_sample_records(ih_sample):
    ih = _read(ih_sample)
    assert [im.image_id for im in ih.images] == [326750, 286291, 680801, 471953]
    assert [a.image_id for a in ih.annotations] == [im.image_id for im in ih.images]
    assert list(ih.cameras) == ["3", "2", "7", "4"]
    assert ih.images[0].capture == "3" and ih.images[0].camera == "400026"
    fr = ih.frames["7"]["29590"]
    assert fr.world_coord_mm.shape == (skeleton.NUM_JOINTS, 3)
    # capture 7 frame 29590 is a left hand: the right hand's joints are invalid
    assert not fr.joint_valid[skeleton.hand_slice("right")].any()
    assert fr.joint_valid[skeleton.hand_slice("left")].all()
    assert ih.style.capture_is_int and not ih.style.camera_is_int
    assert ih.style.frame_valid_bool and not ih.style.image_valid_bool


def test_to_json_reproduces_the_files_exactly(ih_sample, ih_json):
    js = to_json(_read(ih_sample))
    for key, obj in (("data", js.data), ("camera", js.camera), ("joint_3d", js.joint_3d)):
        # same keys, values, order and spelling (1 vs true, [[1]] vs [1])
        assert json.dumps(obj) == json.dumps(ih_json[key]), key


def test_bbox_rule_matches_released_boxes(ih_sample):
    """Released boxes are the tight box of projected valid joints enlarged 1.2x."""
    ih = _read(ih_sample)
    for im, an in zip(ih.images, ih.annotations, strict=True):
        cam = ih.cameras[im.capture][im.camera]
        x_cam = (
            ih.frames[im.capture][str(im.frame_idx)].world_coord_mm - cam.campos_mm
        ) @ cam.camrot.T
        uv = x_cam[:, :2] / x_cam[:, 2:] * cam.focal + cam.princpt
        np.testing.assert_allclose(enlarged_bbox_xywh(uv, an.joint_valid), an.bbox_xywh, atol=1e-3)


def test_enlarged_bbox_batch_and_empty():
    uv = np.array([[[0.0, 0.0], [10.0, 20.0], [np.nan, 5.0]], [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]])
    valid = np.array([[True, True, True], [False, False, False]])
    box = enlarged_bbox_xywh(uv, valid)
    np.testing.assert_allclose(box[0], [-1.0, -2.0, 12.0, 24.0])
    assert np.isnan(box[1]).all()


def test_rig_conversion_matches_format_projection(ih_sample):
    ih = _read(ih_sample)
    cams = ih.cameras["3"]
    rig = rig_from_interhand(cams, {"400026": (334, 512)})
    X = ih.frames["3"]["69148"].world_coord_mm
    c = cams["400026"]
    x_format = (X - c.campos_mm) @ c.camrot.T
    x_rig = X @ rig.R[0].T + rig.t[0]
    np.testing.assert_allclose(x_rig, x_format, atol=1e-9)
    back = interhand_camera(rig[0])
    np.testing.assert_allclose(back.campos_mm, c.campos_mm, atol=1e-4)
    np.testing.assert_array_equal(back.focal, c.focal)
    np.testing.assert_array_equal(back.princpt, c.princpt)
    exact = interhand_camera(rig[0], campos_mm=c.campos_mm)
    np.testing.assert_array_equal(exact.campos_mm, c.campos_mm)


def test_write_layout_is_readable_by_the_public_loader_logic(ih_sample, tmp_path):
    ih = _read(ih_sample)
    layout = write_interhand(ih, tmp_path, "test")
    for im in ih.images:
        place_image(ih_sample["images"] / im.file_name, layout.images_dir / im.file_name)
    samples, skel = load_split(tmp_path, "test")
    assert [s["name"] for s in skel] == list(skeleton.JOINT_NAMES)
    assert [s["parent_id"] for s in skel] == skeleton.PARENTS.tolist()
    assert len(samples) == 4
    for s, an in zip(samples, ih.annotations, strict=True):
        assert s.img_path.is_file()
        valid = s.joint_valid > 0
        box = enlarged_bbox_xywh(s.joint_img, valid)
        np.testing.assert_allclose(box, an.bbox_xywh, atol=1e-2)  # float32 as the loader


def test_layout_paths_and_split_check(tmp_path):
    lay = InterHandLayout(tmp_path, "val")
    assert lay.data == tmp_path / "annotations/val/InterHand2.6M_val_data.json"
    assert lay.joint_3d.name == "InterHand2.6M_val_joint_3d.json"
    assert lay.images_dir == tmp_path / "images/val"
    with pytest.raises(ValueError, match="split"):
        InterHandLayout(tmp_path, "../x")


def test_place_image_link_and_copy(tmp_path):
    src = tmp_path / "a.jpg"
    src.write_bytes(b"jpeg")
    place_image(src, tmp_path / "out/l/a.jpg")
    assert (tmp_path / "out/l/a.jpg").samefile(src)
    place_image(src, tmp_path / "out/c/a.jpg", mode="copy")
    assert (tmp_path / "out/c/a.jpg").read_bytes() == b"jpeg"
    assert not (tmp_path / "out/c/a.jpg").samefile(src)
    place_image(src, tmp_path / "out/l/a.jpg")  # already there: no error


# --- bad input: each is one clear line naming the file -----------------------------------------


def _mut_missing_key(o):
    del o["data"]["images"][1]["camera"]


def _mut_joint_count(o):
    o["joint_3d"]["3"]["69148"]["world_coord"].pop()


def _mut_valid_count(o):
    o["data"]["annotations"][0]["joint_valid"] = o["data"]["annotations"][0]["joint_valid"][:41]


def _mut_nan(o):
    o["joint_3d"]["2"]["44669"]["world_coord"][5][1] = float("nan")


def _mut_inf_camera(o):
    o["camera"]["4"]["campos"]["410028"][0] = float("inf")


def _mut_camera_missing(o):
    o["data"]["images"][2]["camera"] = "999999"


def _mut_capture_missing(o):
    del o["camera"]["7"]


def _mut_frame_missing(o):
    del o["joint_3d"]["4"]["2017"]


def _mut_dup_image(o):
    o["data"]["images"][1]["id"] = o["data"]["images"][0]["id"]


def _mut_no_annotation(o):
    o["data"]["annotations"].pop()


def _mut_hand_type(o):
    o["data"]["annotations"][0]["hand_type"] = "both"


def _mut_escape(o):
    o["data"]["images"][0]["file_name"] = "../../etc/passwd"


def _mut_camrot(o):
    o["camera"]["3"]["camrot"]["400026"] = [[1, 0, 0], [0, 1, 0]]


def _mut_bbox(o):
    o["data"]["annotations"][3]["bbox"] = [1, 2, 3]


def _mut_width(o):
    o["data"]["images"][0]["width"] = "334"


BAD = {
    "missing key": (_mut_missing_key, "data", "missing key"),
    "41 joints": (_mut_joint_count, "joint_3d", "42 joints, got 41"),
    "41 valid flags": (_mut_valid_count, "data", "42 entries, got 41"),
    "NaN coordinate": (_mut_nan, "joint_3d", "NaN or inf"),
    "inf campos": (_mut_inf_camera, "camera", "NaN or inf"),
    "unknown camera": (
        _mut_camera_missing,
        "data",
        "camera 999999 of capture 7 is not in the camera json",
    ),
    "unknown capture": (_mut_capture_missing, "data", "capture 7 is not in the camera json"),
    "frame without joints": (
        _mut_frame_missing,
        "data",
        "frame 2017 has no entry in the joint_3d json",
    ),
    "duplicate image id": (_mut_dup_image, "data", "duplicate image id"),
    "image without annotation": (_mut_no_annotation, "data", "has no annotation"),
    "bad hand_type": (_mut_hand_type, "data", "hand_type must be one of"),
    "escaping file_name": (_mut_escape, "data", "relative path inside"),
    "camrot shape": (_mut_camrot, "camera", "camrot"),
    "bbox length": (_mut_bbox, "data", "list of 4 numbers"),
    "width type": (_mut_width, "data", "expected an integer"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_clear_line(case, ih_json, tmp_path):
    mutate, file_key, message = BAD[case]
    mutate(ih_json)
    paths = write_variant(tmp_path, ih_json)
    with pytest.raises(InterchangeFormatError) as exc:
        _read(paths)
    text = str(exc.value)
    assert "\n" not in text
    assert str(paths[file_key]) in text
    assert message in text


@pytest.mark.parametrize("key", ["data", "camera", "joint_3d"])
def test_truncated_json(key, ih_sample, ih_json, tmp_path):
    text = ih_sample[key].read_text()
    paths = write_variant(tmp_path, ih_json, raw={key: text[: len(text) // 2]})
    with pytest.raises(InterchangeFormatError, match=r"not valid JSON .* at line \d+") as exc:
        _read(paths)
    assert str(paths[key]) in str(exc.value)


def test_missing_file(ih_sample, tmp_path):
    with pytest.raises(FileNotFoundError, match="camera json .*nope.json: no such file"):
        read_interhand(ih_sample["data"], tmp_path / "nope.json", ih_sample["joint_3d"])
