"""InterHand2.6M import into a project and export back out, on the real sample."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from annotator import skeleton
from annotator.interchange import InterchangeFormatError, export_interhand, import_interhand
from annotator.store import ProjectStore
from tests.annotator.interchange._interhand_reader import load_split
from tests.annotator.interchange.conftest import write_variant


def _import(ih_sample, project, **over):
    kw = {k: ih_sample[k] for k in ("data", "camera", "joint_3d", "images")}
    kw.update(over)
    return import_interhand(project, **kw)


def _close(a, b, path="$"):
    """Same keys (in order) and values; floats to 1e-6."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{k}]")
    elif isinstance(a, float):
        assert isinstance(b, float) and abs(a - b) <= 1e-6, path
    else:
        assert type(a) is type(b) and a == b, path


def _snapshot(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture()
def imported(ih_sample, tmp_path):
    project = tmp_path / "project"
    result = _import(ih_sample, project)
    return project, result


def test_import_builds_captures_instants_and_joints(imported, ih_json):
    project, result = imported
    assert result.images == 4 and result.captures == ("3", "2", "7", "4")
    with ProjectStore.open(project) as store:
        assert store.captures == ["3", "2", "7", "4"]
        status = store.status()
        assert (status.imported_labelled, status.human_labelled) == (4, 0)
        assert store.camera_names == ["400026", "400012", "410053", "410028"]
        assert store.rig("4")[0].size == (512, 334)
        i = store.find_instant("7", "0115_rocker_backside", 29590)
        assert store.image_path(i, "410053").name == "image29590.jpg"
        lab = store.labels(i)
        right, left = skeleton.hand_slice("right"), skeleton.hand_slice("left")
        assert np.isnan(lab.joints_world_mm[right]).all()  # invalid joints carry no 3D
        wc = np.array(ih_json["joint_3d"]["7"]["29590"]["world_coord"])
        np.testing.assert_array_equal(lab.joints_world_mm[left], wc[left])
        assert set(lab.joint_source[left]) == {"imported"}
        assert lab.hand_present.tolist() == [0, 1]
        c = store.camera_index("410053")
        assert store.image_attr("image_id", i)[c] == 680801
        assert store.instant_attr("subject", i) == 6
        # the camera convention: x_cam = camrot (X - campos) = R X + t
        cam = ih_json["camera"]["7"]
        X = wc[left]
        x_format = (X - np.array(cam["campos"]["410053"])) @ np.array(cam["camrot"]["410053"]).T
        rig = store.rig("7")
        np.testing.assert_allclose(X @ rig.R[0].T + rig.t[0], x_format, atol=1e-9)


def test_export_reproduces_the_input_files(imported, ih_json, tmp_path):
    project, _ = imported
    with ProjectStore.open(project) as store:
        result = export_interhand(store, tmp_path / "out", "test")
    lay = result.layout
    for key, path in (("data", lay.data), ("camera", lay.camera), ("joint_3d", lay.joint_3d)):
        _close(ih_json[key], json.loads(path.read_text()))
    assert result.images == 4 and result.frames == 4
    assert not (lay.annotations_dir / "id_map.json").exists()


def test_export_is_readable_the_public_loader_way(imported, ih_sample, tmp_path):
    project, _ = imported
    with ProjectStore.open(project) as store:
        export_interhand(store, tmp_path / "out", "test", images="copy")
    samples, skel = load_split(tmp_path / "out", "test")
    text = (tmp_path / "out/annotations/skeleton.txt").read_text().splitlines()
    assert text[0].startswith("#") and text[1] == "r_thumb4 0 1" and text[21] == "r_wrist 20 -1"
    assert [s["name"] for s in skel] == list(skeleton.JOINT_NAMES)
    assert skel[skeleton.RIGHT_ROOT]["child_id"] == [3, 7, 11, 15, 19]
    assert {s.hand_type for s in samples} == {"right", "left", "interacting"}
    for s in samples:
        assert s.img_path.read_bytes() == (ih_sample["images"] / s.img_path.name).read_bytes()
        valid = s.joint_valid > 0
        lo, hi = s.joint_img[valid].min(0), s.joint_img[valid].max(0)
        centre, size = (lo + hi) / 2, (hi - lo) * 1.2
        np.testing.assert_allclose(s.bbox, [*(centre - size / 2), *size], atol=1e-2)


def test_edits_after_import_are_exported(imported, tmp_path):
    project, _ = imported
    with ProjectStore.open(project, mode="w") as store:
        i = store.find_instant("4", "0007_thumbup_normal", 2017)
        xyz = np.full((skeleton.NUM_JOINTS, 3), np.nan)
        xyz[0] = [1.0, 2.0, 3.0]
        store.set_joints_3d(i, xyz, source="human", annotator="me")
        store.clear_joint_3d(i, 1)
    with ProjectStore.open(project) as store:
        lay = export_interhand(store, tmp_path / "out", "test", images="none").layout
    fr = json.loads(lay.joint_3d.read_text())["4"]["2017"]
    assert fr["world_coord"][0] == [1.0, 2.0, 3.0]
    assert fr["joint_valid"][0] == [True] and fr["joint_valid"][1] == [False]
    ann = json.loads(lay.data.read_text())["annotations"][3]
    assert ann["joint_valid"][1] == [0] and ann["joint_valid"][2] == [1]
    assert not lay.images_dir.exists()


# --- bad input leaves the project as it was ------------------------------------------------


def test_missing_image_writes_nothing(ih_sample, tmp_path):
    images = tmp_path / "imgs"
    shutil.copytree(ih_sample["images"], images)
    (images / "image2017.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 image\(s\) missing under .*image2017.jpg"):
        _import(ih_sample, tmp_path / "p", images=images)
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("mutate", ["nan", "camera", "frame"])
def test_bad_json_into_existing_project_changes_nothing(
    imported, ih_sample, ih_json, tmp_path, mutate
):
    project, _ = imported
    before = _snapshot(project)
    if mutate == "nan":
        ih_json["joint_3d"]["3"]["69148"]["world_coord"][0][0] = float("nan")
    elif mutate == "camera":
        ih_json["data"]["images"][0]["camera"] = "1"
    else:
        del ih_json["joint_3d"]["2"]
    paths = write_variant(tmp_path, ih_json)
    with pytest.raises(InterchangeFormatError):
        import_interhand(project, images=ih_sample["images"], **paths)
    assert _snapshot(project) == before


def test_reimport_is_refused_and_changes_nothing(imported, ih_sample):
    project, _ = imported
    before = _snapshot(project)
    with pytest.raises(ValueError, match="already in the project"):
        _import(ih_sample, project)
    assert _snapshot(project) == before


def test_other_image_root_and_non_project_folder_refused(imported, ih_sample, tmp_path):
    project, _ = imported
    other = tmp_path / "copy"
    shutil.copytree(ih_sample["images"], other)
    with pytest.raises(ValueError, match="image root"):
        _import(ih_sample, project, images=other)
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a project"):
        _import(ih_sample, stray)
    assert (stray / "notes.txt").read_text() == "mine"


def test_export_refuses_missing_images_before_writing(ih_sample, tmp_path):
    images = tmp_path / "imgs"
    shutil.copytree(ih_sample["images"], images)
    _import(ih_sample, tmp_path / "p", images=images)
    (images / "image44669.jpg").unlink()
    with (
        ProjectStore.open(tmp_path / "p") as store,
        pytest.raises(FileNotFoundError, match="image44669"),
    ):
        export_interhand(store, tmp_path / "out", "test")
    assert not (tmp_path / "out").exists()
