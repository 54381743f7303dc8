"""Propagation of human 3D joints to every camera, checked against OpenCV."""

from __future__ import annotations

import cv2
import numpy as np

from annotator import skeleton
from annotator.store import ProjectStore
from tests.annotator.store.conftest import make_project

J = skeleton.NUM_JOINTS


def _opencv_project(points, cam):
    rvec, _ = cv2.Rodrigues(cam.R)
    uv, _ = cv2.projectPoints(points.reshape(-1, 1, 3), rvec, cam.t, cam.K, cam.dist)
    return uv.reshape(-1, 2)


def test_propagation_matches_opencv_and_only_uses_human_joints(tmp_path):
    store = make_project(tmp_path / "p", n_instants=3, n_cameras=5)
    rng = np.random.default_rng(3)
    joints = rng.normal(0, 40, (J, 3))
    joints[7] = np.nan
    store.set_joints_3d(1, joints, annotator="a")
    store.set_joints_3d(2, rng.normal(0, 40, (J, 3)), source="machine")
    store.save()
    prop = store.propagate()
    assert prop.instants.tolist() == [1]
    assert prop.uv_px.shape == (1, 5, J, 2)
    for c, cam in enumerate(store.rig("0")):
        ok = ~np.isnan(joints[:, 0])
        np.testing.assert_allclose(prop.uv_px[0, c, ok], _opencv_project(joints[ok], cam),
                                   atol=1e-6)
    assert np.isnan(prop.uv_px[0, :, 7]).all() and not prop.in_image[0, :, 7].any()
    assert prop.in_image[0, :, 0].all() and prop.in_front[0, :, 0].all()


def test_points_behind_or_outside_are_not_visible(tmp_path):
    store = make_project(tmp_path / "p", n_instants=1, n_cameras=4)
    cam0 = store.rig("0")[0]
    joints = np.zeros((J, 3))
    joints[0] = cam0.center_world * 2.0  # behind camera 0 (beyond its centre)
    joints[1] = [0.0, 0.0, 5000.0]  # far above: in front of no ring camera's image
    store.set_joints_3d(0, joints)
    prop = store.propagate(instants=[0])
    assert not prop.in_front[0, 0, 0] and not prop.in_image[0, 0, 0]
    assert np.isnan(prop.uv_px[0, 0, 0]).all()
    assert not prop.in_image[0, :, 1].any()
    assert prop.visible[0, :, 2].all()


def test_write_propagation_file_round_trip(tmp_path):
    store = make_project(tmp_path / "p", n_instants=6, n_cameras=4)
    rng = np.random.default_rng(4)
    for i in (0, 3, 5):
        store.set_joints_3d(i, rng.normal(0, 30, (J, 3)))
    summary = store.write_propagation(batch=2)
    assert summary.instants == 3 and summary.joint_views == 3 * 4 * J
    expect = store.propagate()
    store.close()
    with ProjectStore.open(tmp_path / "p") as r:
        got = r.propagated()
        assert got.instants.tolist() == [0, 3, 5]
        np.testing.assert_allclose(got.uv_px, expect.uv_px, rtol=1e-6, atol=1e-3)
        np.testing.assert_array_equal(got.in_image, expect.in_image)
        assert r.propagated(instants=[3]).instants.tolist() == [3]


def _same(a, b) -> None:
    assert a.instants.tolist() == b.instants.tolist()
    np.testing.assert_array_equal(a.uv_px, b.uv_px)
    np.testing.assert_array_equal(a.in_image, b.in_image)
    np.testing.assert_array_equal(a.in_front, b.in_front)


class _CountingStore:
    """Counts the instants ``store`` projects (the rows it did not take from the file)."""

    def __init__(self, store):
        self.computed = 0
        inner = store._propagate_batch

        def counting(instants, joints=None):
            self.computed += int(np.asarray(instants).size)
            return inner(instants, joints)

        store._propagate_batch = counting


def test_propagation_reads_current_rows_and_recomputes_changed_ones(tmp_path):
    store = make_project(tmp_path / "p", n_instants=6, n_cameras=4)
    rng = np.random.default_rng(5)
    for i in (0, 2, 3, 5):
        store.set_joints_3d(i, rng.normal(0, 30, (J, 3)))
    counter = _CountingStore(store)
    fresh = store.propagate()
    counter.computed = 0
    _same(store.propagation(), fresh)  # no file yet: all computed
    assert counter.computed == 4
    store.write_propagation()
    counter.computed = 0
    _same(store.propagation(), fresh)  # every row current: none computed
    repeated = store.propagate(instants=[5, 0, 5])  # a repeated instant gets its joints twice
    np.testing.assert_array_equal(repeated.uv_px[0], repeated.uv_px[2])
    assert repeated.in_image[0].any()
    _same(store.propagation(instants=[5, 0, 5]), repeated)
    assert counter.computed == 3  # only the reference computation above
    # One instant's joints change after the file was written: that row alone is recomputed.
    moved = store.labels(3).joints_world_mm.copy()
    moved[4] += 2.0
    store.set_joints_3d(3, moved)
    counter.computed = 0
    got = store.propagation()
    assert counter.computed == 1
    counter.computed = 0
    _same(got, store.propagate())
    # An instant labelled after the file was written is computed too.
    store.set_joints_3d(1, rng.normal(0, 30, (J, 3)))
    _same(store.propagation(), store.propagate())


def test_propagation_ignores_a_file_made_with_other_cameras(tmp_path):
    store = make_project(tmp_path / "p", n_instants=3, n_cameras=4)
    store.set_joints_3d(1, np.random.default_rng(6).normal(0, 30, (J, 3)))
    store.write_propagation()
    path = tmp_path / "p" / "propagated.h5"
    import h5py

    with h5py.File(path, "r+") as f:  # as if the cameras had been refined since
        f.attrs["rigs_digest"] = "another calibration"
        f["uv_px"][...] = 0.0
    counter = _CountingStore(store)
    _same(store.propagation(), store.propagate())
    assert counter.computed == 2  # the file's zeros were not used
