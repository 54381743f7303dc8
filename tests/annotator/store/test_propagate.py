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
