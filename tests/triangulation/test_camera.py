from __future__ import annotations

import cv2
import numpy as np
import pytest

from triangulation import Camera, CameraRig


def _cam(name="a", rvec=(0.1, -0.2, 0.3), t=(10.0, -20.0, 1000.0), **kw):
    R, _ = cv2.Rodrigues(np.array(rvec, dtype=np.float64))
    K = np.array([[1200.0, 0, 160.0], [0, 1201.0, 255.0], [0, 0, 1]])
    return Camera(name=name, width=334, height=512, K=K, dist=kw.pop("dist", np.zeros(5)),
                  R=R, t=np.array(t), **kw)


def test_center_world_is_minus_rt_t():
    cam = _cam()
    np.testing.assert_allclose(cam.center_world, -cam.R.T @ cam.t, rtol=0, atol=1e-12)
    # The centre maps to the camera origin.
    np.testing.assert_allclose(cam.R @ cam.center_world + cam.t, 0.0, atol=1e-9)


def test_rig_keeps_given_order_and_stacks():
    names = ["cam_2", "cam_10", "cam_1"]
    rig = CameraRig([_cam(n, t=(i, 0, 900.0 + i)) for i, n in enumerate(names)])
    assert rig.names == names
    assert len(rig) == 3 and rig["cam_10"].name == "cam_10"
    assert rig.K.shape == (3, 3, 3) and rig.dist.shape == (3, 8) and rig.P.shape == (3, 3, 4)
    sub = rig.subset(["cam_1", "cam_2"])
    assert sub.names == ["cam_1", "cam_2"]
    np.testing.assert_array_equal(sub.t[0], rig.t[2])
    with pytest.raises(KeyError):
        rig["nope"]


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(K=np.eye(3) * np.nan), "NaN or inf"),
        (dict(R=np.diag([1.0, 1.0, 2.0])), "not a rotation"),
        (dict(R=np.diag([1.0, 1.0, -1.0])), "not a rotation"),
        (dict(dist=np.zeros(6)), "coefficients"),
        (dict(t=np.array([0.0, np.inf, 1.0])), "NaN or inf"),
        (dict(width=0), "positive integer"),
        (dict(K=np.zeros((3, 4))), "shape"),
    ],
)
def test_bad_parameters_raise_clear_errors(change, message):
    with pytest.raises(ValueError, match=message):
        _cam().replace(**change)


def test_duplicate_names_rejected():
    with pytest.raises(ValueError, match="duplicate camera names in rig: a"):
        CameraRig([_cam("a"), _cam("b"), _cam("a")])


def test_parameters_are_read_only():
    cam = _cam()
    with pytest.raises(ValueError):
        cam.K[0, 0] = 1.0
