"""Streamed import and export through the project store: the imported layer, missing
images, recomputed boxes, failed imports that change nothing, byte-exact round trips."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from annotator import skeleton
from annotator.cli.main import main
from annotator.interchange import (
    InterchangeFormatError,
    InterHandLayout,
    enlarged_bbox_xywh,
    export_interhand,
    import_interhand,
    interhand_stream,
)
from annotator.store import ProjectStore
from tests._bench_loader import load_bench
from tests.annotator.interchange._interhand_reader import load_split
from tests.annotator.interchange.conftest import write_variant
from triangulation.projection import in_front
from triangulation.projection import project as project_points


def _gen():
    return load_bench("_interhand_gen")


def _import(paths, project, **kw):
    files = {k: paths[k] for k in ("data", "camera", "joint_3d", "images")}
    files.update(kw)
    return import_interhand(project, **files)


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture()
def generated(tmp_path):
    """A generated split of 1,600 images (20 instants x 80 cameras), empty image files."""
    root = tmp_path / "dataset"
    _gen().write_split(root, "train", 1600, images=True)
    lay = InterHandLayout(root, "train")
    return {
        "root": root,
        "data": lay.data,
        "camera": lay.camera,
        "joint_3d": lay.joint_3d,
        "images": lay.images_dir,
    }


def test_generated_split_round_trips_byte_for_byte(generated, tmp_path, monkeypatch):
    monkeypatch.setattr(interhand_stream, "PARALLEL_MIN_BYTES", 0)  # the two-process path
    result = _import(generated, tmp_path / "p")
    assert result.images == 1600 and result.instants.size == 20
    assert result.reader_worker_peak_rss_mb > 0
    assert not (tmp_path / "p/labels.h5").exists()  # imported joints are a layer, not rows
    with ProjectStore.open(tmp_path / "p") as store:
        assert store.status().imported_labelled == 20
        out = export_interhand(store, tmp_path / "out", "train")
    for key in ("data", "camera", "joint_3d"):
        src = generated[key].read_bytes()
        assert getattr(out.layout, key).read_bytes() == src, key
    linked = list((tmp_path / "out/images/train").rglob("*.jpg"))
    assert len(linked) == 1600 and all(p.stat().st_nlink >= 2 for p in linked[:5])


def test_imported_layer_reads_edits_and_clears(ih_sample, ih_json, tmp_path):
    project = tmp_path / "p"
    _import(ih_sample, project)
    left, right = skeleton.hand_slice("left"), skeleton.hand_slice("right")
    with ProjectStore.open(project, mode="w") as store:
        i = store.find_instant("3", "0390_dh_touchROM", 69148)
        lab = store.labels(i)
        wc = np.array(ih_json["joint_3d"]["3"]["69148"]["world_coord"])
        valid = np.array(ih_json["joint_3d"]["3"]["69148"]["joint_valid"]).ravel() > 0
        np.testing.assert_array_equal(lab.joints_world_mm[valid], wc[valid])
        assert set(lab.joint_source[valid]) == {"imported"}
        assert set(lab.annotator[valid]) == {"interhand2.6m"}
        assert lab.hand_present.tolist() == [1, 1]
        j = int(np.flatnonzero(valid)[0])
        store.clear_joint_3d(i, j)
        store.set_hand_present(i, "left", None)
        xyz = np.full((skeleton.NUM_JOINTS, 3), np.nan)
        xyz[j + 1] = [1.0, 2.0, 3.0]
        store.set_joints_3d(i, xyz, source="human", annotator="me")
    with ProjectStore.open(project) as store:
        lab = store.labels(i)
        assert np.isnan(lab.joints_world_mm[j]).all() and lab.joint_source[j] == ""
        assert lab.joint_source[j + 1] == "human" and lab.annotator[j + 1] == "me"
        assert lab.hand_present.tolist() == [1, -1]
        assert store.labelled_instants("human").tolist() == [i]
        assert i in store.labelled_instants("imported").tolist()
        assert store.labelled_instants(None).size == 4
        k = store.find_instant("7", "0115_rocker_backside", 29590)
        assert np.isnan(store.labels(k).joints_world_mm[right]).all()
        assert np.isfinite(store.labels(k).joints_world_mm[left]).all()
    with ProjectStore.open(project, mode="w") as store:  # clear every imported joint
        for jj in np.flatnonzero(np.isfinite(store.labels(k).joints_world_mm[:, 0])).tolist():
            store.clear_joint_3d(k, jj)
    with ProjectStore.open(project) as store:
        assert k not in store.labelled_instants("imported").tolist()


def test_edited_instant_gets_a_recomputed_box(ih_sample, ih_json, tmp_path):
    project = tmp_path / "p"
    _import(ih_sample, project)
    with ProjectStore.open(project, mode="w") as store:
        i = store.find_instant("2", "0266_dh_pray", 44669)
        xyz = store.labels(i).joints_world_mm + np.array([15.0, -10.0, 0.0])
        store.set_joints_3d(i, xyz, source="human", annotator="me")
    with ProjectStore.open(project) as store:
        lay = export_interhand(store, tmp_path / "out", "test", images="none").layout
        rig = store.rig("2")
        edited = store.labels(i).joints_world_mm
    anns = json.loads(lay.data.read_text())["annotations"]
    released = ih_json["data"]["annotations"]
    for a, r in zip(anns, released, strict=True):
        if a["image_id"] == 286291:  # the edited instant's image
            ok = np.array(r["joint_valid"]).ravel() > 0
            ok &= in_front(edited, rig)[:, 0]
            want = enlarged_bbox_xywh(project_points(edited, rig)[:, 0], ok)
            np.testing.assert_allclose(a["bbox"], want, rtol=0, atol=1e-9)
            assert not np.allclose(a["bbox"], r["bbox"], atol=1.0)
        else:
            assert a["bbox"] == r["bbox"]  # untouched instants keep the released box
    samples, _ = load_split(tmp_path / "out", "test")  # and the public loader reads it


def test_allow_missing_images(ih_sample, tmp_path, capsys):
    images = tmp_path / "imgs"
    shutil.copytree(ih_sample["images"], images)
    (images / "image2017.jpg").unlink()
    (images / "image44669.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"2 image\(s\) missing .*allow-missing-images"):
        _import(ih_sample, tmp_path / "p0", images=images)
    assert not (tmp_path / "p0").exists()
    result = _import(ih_sample, tmp_path / "p", images=images, allow_missing_images=True)
    assert result.images == 4 and result.missing_images == 2
    with ProjectStore.open(tmp_path / "p") as store:
        i = store.find_instant("4", "0007_thumbup_normal", 2017)
        path = store.image_path(i, "410028")
        assert path.name == "image2017.jpg" and not path.exists()
    argv = ["import-interhand", str(tmp_path / "p2"), "--data", str(ih_sample["data"])]
    argv += ["--camera", str(ih_sample["camera"]), "--joint-3d", str(ih_sample["joint_3d"])]
    argv += ["--images", str(images), "--allow-missing-images"]
    assert main(argv) == 0
    assert "2 image file(s) are missing" in capsys.readouterr().out


def test_camera_json_error_names_its_file(ih_json, ih_sample, tmp_path):
    ih_json["camera"]["2"]["camrot"]["400012"] = [[2.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]
    paths = write_variant(tmp_path, ih_json)
    with pytest.raises(InterchangeFormatError) as exc:
        import_interhand(tmp_path / "p", images=ih_sample["images"], **paths)
    assert f"camera json {paths['camera']}: capture 2" in str(exc.value)
    assert "not a rotation" in str(exc.value)
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("where", [0.1, 0.5, 0.93])
def test_truncated_data_json_changes_no_existing_project(where, generated, tmp_path, monkeypatch):
    monkeypatch.setattr(interhand_stream, "PARALLEL_MIN_BYTES", 0)
    project = tmp_path / "p"
    first = tmp_path / "first"
    _gen().write_split(first, "train", 800, images=False)
    lay = InterHandLayout(first, "train")
    import_interhand(
        project,
        data=lay.data,
        camera=lay.camera,
        joint_3d=lay.joint_3d,
        images=generated["images"],
        allow_missing_images=True,
    )
    before = _snapshot(project)
    text = generated["data"].read_bytes()
    broken = tmp_path / "broken.json"
    broken.write_bytes(text[: int(len(text) * where)])
    with pytest.raises(InterchangeFormatError, match="not valid JSON"):
        _import(generated, project, data=broken)
    assert _snapshot(project) == before


def test_keys_the_format_does_not_define_round_trip_exactly(ih_json, ih_sample, tmp_path):
    """Entries with extra keys take the dict path, the others the spliced-text path: the
    export is still exactly ``json.dumps`` of the input."""
    ih_json["data"]["images"][0]["note"] = {"kept": [1, None, "é"]}
    ih_json["data"]["annotations"][2]["score"] = 0.5
    ih_json["joint_3d"]["4"]["2017"]["source"] = "manual"
    paths = write_variant(tmp_path, ih_json)
    import_interhand(tmp_path / "p", images=ih_sample["images"], **paths)
    with ProjectStore.open(tmp_path / "p") as store:
        lay = export_interhand(store, tmp_path / "out", "test", images="none").layout
    for key in ("data", "camera", "joint_3d"):
        assert getattr(lay, key).read_text() == json.dumps(ih_json[key]), key


def test_encoded_paths_decode_and_add_instants_like_strings(tmp_path):
    from annotator.store.paths import PathEncoder
    from tests.annotator.store.conftest import make_project

    paths = ["a/b%c/image0012.jpg", "x/y", "img7.png", "50%/f001", "0001", "cam/image123.jpg"]
    enc = PathEncoder()
    t, n = enc.encode(paths)
    ep = enc.encoded(t, n)
    assert ep.decode_all() == paths and [ep.decode(k) for k in range(6)] == paths
    store = make_project(tmp_path / "p", n_instants=1, n_cameras=3)
    grid = np.array([paths[:3], ["", paths[3], paths[4]]], dtype=object)
    enc2 = PathEncoder()
    t2, n2 = enc2.encode(grid.ravel().tolist())
    encoded = enc2.encoded(t2.reshape(2, 3), n2.reshape(2, 3))
    cap = store.captures[0]
    store.add_instants([cap, cap], ["s", "s"], [0, 1], encoded)  # 1 instant before these
    store.add_instants([cap, cap], ["s", "s"], [2, 3], grid)
    got = [
        [
            None if p is None else p.relative_to(store.image_root).as_posix()
            for p in store.image_paths(i)
        ]
        for i in range(1, 5)
    ]
    want = [[p or None for p in row] for row in grid.tolist()]
    assert got == want + want
    assert store.status().images == 3 + 10
    store.close(save=False)
