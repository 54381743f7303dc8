"""Round trips of every kind of project content through real files on disk."""

from __future__ import annotations

import numpy as np
import pytest

from annotator import skeleton
from annotator.store import SCHEMA_VERSION, ProjectReadOnlyError, ProjectStore
from tests.annotator.store.conftest import make_project, ring_rig, standard_paths

J = skeleton.NUM_JOINTS


def test_create_and_reopen_index(tmp_path):
    store = make_project(tmp_path / "p", n_instants=5, n_cameras=6)
    store.close()
    with ProjectStore.open(tmp_path / "p") as r:
        assert r.name == "test" and r.schema_version == SCHEMA_VERSION and not r.writable
        assert r.num_instants == 5 and len(r.camera_names) == 6
        t = r.instants()
        assert t.instant_id.tolist() == [0, 1, 2, 3, 4]
        assert t.capture.tolist() == ["0"] * 5 and t.sequence.tolist() == ["seq"] * 5
        assert r.instant(3).frame == 3
        assert r.find_instant("0", "seq", 2) == 2
        with pytest.raises(KeyError):
            r.find_instant("0", "seq", 99)
        paths = r.image_paths(4)
        cam = r.camera_names[2]
        assert paths[2] == r.path / "images" / "0" / "seq" / f"cam{cam}" / "image0004.jpg"
        assert r.image_path(4, cam) == paths[2]
        assert r.rig("0") == ring_rig(6)
        assert r.status().images == 30


def test_paths_of_any_shape_round_trip(tmp_path):
    store = ProjectStore.create(tmp_path / "p", rigs=ring_rig(3))
    odd = [
        ["a/b/c.png", "", "x/y/z/img_007_v2.jpeg"],
        ["no_digits_at_all", "Capture0/seq 1/cam1/image12345678901234567890.jpg", "9"],
    ]
    store.add_instants(["0", "0"], ["s", "s"], [0, 1], odd, instant_id=[100, 7])
    store.save()
    store.close()
    r = ProjectStore.open(tmp_path / "p")
    for i, row in enumerate(odd):
        got = [None if p is None else p.relative_to(r.image_root).as_posix()
               for p in r.image_paths(i)]
        assert got == [p or None for p in row]
    assert r.instants().instant_id.tolist() == [100, 7]
    r.close()


def test_labels_round_trip_with_provenance(project):
    cam = project.camera_names[1]
    joints = np.full((J, 3), np.nan)
    joints[0] = [1.0, 2.0, 3.0]
    joints[skeleton.LEFT_ROOT] = [-5.0, 0.5, 9.0]
    project.set_joints_3d(2, joints, annotator="ann", time=1234.5)
    project.set_click(2, cam, 0, (100.25, 200.5), annotator="ann")
    project.set_click(2, cam, 1, (1.0, 2.0))
    project.set_click(2, cam, 1, None)  # cleared again before saving
    project.set_hand_present(2, "left", True)
    project.set_hand_present(2, "right", False)
    project.set_flag(3, None, "blurry")
    project.metadata["subject"] = "s01"
    project.save()
    project.close()
    with ProjectStore.open(project.path) as r:
        lab = r.labels(2)
        assert lab.clicks_uv_px.shape == (6, J, 2)
        np.testing.assert_array_equal(lab.clicks_uv_px[1, 0], [100.25, 200.5])
        assert np.isnan(lab.clicks_uv_px[1, 1]).all()
        assert np.count_nonzero(~np.isnan(lab.clicks_uv_px[..., 0])) == 1
        np.testing.assert_array_equal(lab.joints_world_mm[0], [1, 2, 3])
        np.testing.assert_array_equal(lab.joints_world_mm[skeleton.LEFT_ROOT], [-5, 0.5, 9])
        assert lab.joint_source[0] == "human" and lab.joint_source[1] == ""
        assert lab.annotator[0] == "ann" and lab.time[0] == 1234.5
        assert lab.hand_present.tolist() == [0, 1]
        assert r.labels(3).flags == ((-1, "blurry"),)
        assert r.labels(0).hand_present.tolist() == [-1, -1]
        assert r.labelled_instants().tolist() == [2]
        assert r.metadata == {"subject": "s01"}
        s = r.status()
        assert (s.human_labelled, s.machine_labelled, s.flagged) == (1, 0, 1)


def test_nan_rows_leave_joints_unset_and_clear_joint(project):
    joints = np.arange(J * 3, dtype=float).reshape(J, 3)
    project.set_joints_3d(0, joints)
    partial = np.full((J, 3), np.nan)
    partial[5] = [7.0, 7.0, 7.0]
    project.set_joints_3d(0, partial, source="machine")
    project.clear_joint_3d(0, 6)
    project.save()
    lab = project.labels(0)
    np.testing.assert_array_equal(lab.joints_world_mm[4], joints[4])
    np.testing.assert_array_equal(lab.joints_world_mm[5], [7, 7, 7])
    assert lab.joint_source[5] == "machine" and np.isnan(lab.joints_world_mm[6]).all()
    assert project.labelled_instants("machine").tolist() == [0]


def test_pending_edits_visible_before_save_and_lost_without_it(project):
    project.set_click(1, 0, 0, (5.0, 5.0))
    assert project.labels(1).clicks_uv_px[0, 0, 0] == 5.0
    project.close(save=False)
    with ProjectStore.open(project.path) as r:
        assert np.isnan(r.labels(1).clicks_uv_px).all()


def test_discard_changes_drops_every_pending_edit_not_only_labels(project):
    project.set_click(1, 0, 0, (5.0, 5.0))
    project.add_instants(["0"], ["seq"], [10], [[f"x{k}.jpg" for k in range(6)]])
    project.set_instant_attr("subject", np.arange(5))
    project.metadata["note"] = "draft"
    project.discard_changes()
    assert not project.dirty
    assert project.num_instants == 4 and project.instant_attr_names() == []
    assert "note" not in project.metadata
    assert np.isnan(project.labels(1).clicks_uv_px).all()
    project.save()
    with ProjectStore.open(project.path) as r:
        assert r.num_instants == 4 and "note" not in r.metadata


def test_context_manager_saves_on_clean_exit_only(tmp_path):
    make_project(tmp_path / "p").close()
    with ProjectStore.open(tmp_path / "p", "w") as w:
        w.set_click(0, 0, 0, (1.0, 1.0))
    with pytest.raises(RuntimeError):
        with ProjectStore.open(tmp_path / "p", "w") as w:
            w.set_click(0, 0, 1, (2.0, 2.0))
            raise RuntimeError("boom")
    with ProjectStore.open(tmp_path / "p") as r:
        clicks = r.labels(0).clicks_uv_px
        assert clicks[0, 0, 0] == 1.0 and np.isnan(clicks[0, 1]).all()


def test_attrs_round_trip_and_grow_with_new_instants(project):
    F, C = project.num_instants, len(project.camera_names)
    bbox = np.random.default_rng(0).uniform(0, 100, (F, C, 4))
    project.set_image_attr("bbox", bbox)
    project.set_instant_attr("subject", np.array(["a", "b", "c", "d"]))
    project.set_instant_attr("capture_id", np.arange(F))
    project.save()
    frames = [10, 11]
    project.add_instants(["0", "0"], ["seq2", "seq2"], frames,
                         standard_paths(project.camera_names, "0", "seq2", frames))
    project.save()
    np.testing.assert_array_equal(project.image_attr("bbox")[:F], bbox)
    assert np.isnan(project.image_attr("bbox", F + 1)).all()
    assert project.instant_attr("subject").tolist() == ["a", "b", "c", "d", "", ""]
    assert project.instant_attr("capture_id", 5) == -1
    assert sorted(project.image_attr_names()) == ["bbox"]


def test_multi_capture_camera_axis(tmp_path):
    rig_a = ring_rig(4)
    rig_b = rig_a.subset([rig_a.names[3], rig_a.names[1]])
    rigs = {"cap1": rig_b, "cap0": rig_a}
    store = ProjectStore.create(tmp_path / "p", rigs=rigs)
    assert store.captures == ["cap1", "cap0"]
    assert store.camera_names == [rig_a.names[3], rig_a.names[1], rig_a.names[0],
                                  rig_a.names[2]]
    assert store.camera_mask("cap1").tolist() == [True, True, False, False]
    assert store.rig("cap1").names == rig_b.names
    paths = np.array([["x/1.jpg", "x/2.jpg", "", ""]], dtype=object)
    store.add_instants(["cap1"], ["s"], [0], paths)
    bad = np.array([["", "", "x/3.jpg", ""]], dtype=object)
    with pytest.raises(ValueError, match="lacks"):
        store.add_instants(["cap1"], ["s"], [1], bad)
    store.close()
    with ProjectStore.open(tmp_path / "p") as r:
        assert r.rigs["cap0"] == rig_a and r.image_paths(0)[2] is None


def test_ground_truth_round_trip_and_partial_writes(project):
    C, F = len(project.camera_names), project.num_instants
    rng = np.random.default_rng(1)
    joints = rng.normal(0, 50, (2, J, 3))
    vis = rng.random((2, C, J)) > 0.5
    uv = rng.uniform(0, 600, (2, C, J, 2))
    hands = np.array([[True, False], [True, True]])
    assert not project.has_ground_truth and project.ground_truth(0) is None
    project.write_ground_truth(joints, vis, uv, hands, instants=[3, 1])
    project.write_ground_truth(joints[:1], vis[:1], uv[:1], hands[:1], instants=[0])
    gt = project.ground_truth(3)
    np.testing.assert_array_equal(gt.joints_world_mm, joints[0])
    np.testing.assert_array_equal(gt.visible, vis[0])
    np.testing.assert_allclose(gt.uv_px, uv[0], rtol=1e-6)
    assert gt.hand_present.tolist() == [True, False]
    assert project.ground_truth(2) is None
    np.testing.assert_array_equal(project.ground_truth(0).joints_world_mm, joints[0])
    assert np.isnan(project.labels(3).joints_world_mm).all()  # kept apart from labels
    with pytest.raises(ValueError, match="uv_px"):
        project.write_ground_truth(joints, vis, uv[:, :2], hands, instants=[0, 1])
    assert F == 4


def test_read_only_store_refuses_writes(project):
    project.close()
    with ProjectStore.open(project.path) as r:
        with pytest.raises(ProjectReadOnlyError):
            r.set_click(0, 0, 0, (1.0, 1.0))
        with pytest.raises(ProjectReadOnlyError):
            r.save()


def test_opening_is_lazy(project):
    project.set_click(0, 0, 0, (3.0, 3.0))
    project.close()
    r = ProjectStore.open(project.path)
    assert r._labels._loaded is False and r._frames._columns is None
    r.image_paths(2)
    r.instant(1)
    assert r._labels._loaded is False and r._frames._columns is None
    assert r.labels(0).clicks_uv_px[0, 0, 0] == 3.0
    r.close()


def test_create_refuses_existing_project_unless_overwrite(project):
    project.close()
    with pytest.raises(ValueError, match="already holds a project"):
        ProjectStore.create(project.path, rigs=ring_rig(3))
    store = ProjectStore.create(project.path, rigs=ring_rig(3), overwrite=True)
    assert store.num_instants == 0 and len(store.camera_names) == 3
    store.close()
