"""cameras.toml: exact save/load round trip, multi-capture files, atomic writes."""

from __future__ import annotations

import os
import tomllib

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triangulation import Camera, CameraRig, load_rig, load_rigs, save_rig, save_rigs
from triangulation.io import CalibrationFormatError, detect_format

# tmp_path is reused across examples; each example overwrites the same file.
FIXTURE_OK = HealthCheck.function_scoped_fixture
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, allow_subnormal=True)
positive = st.floats(1e-3, 1e5, allow_nan=False, allow_infinity=False)


@st.composite
def cameras(draw, name: str):
    fx, fy = draw(positive), draw(positive)
    skew, cx, cy = draw(finite), draw(finite), draw(finite)
    K = np.array([[fx, skew, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    n_dist = draw(st.sampled_from([0, 4, 5, 8, 12, 14]))
    dist = np.array([draw(st.floats(-10, 10)) for _ in range(n_dist)])
    rvec = np.array([draw(st.floats(-3.1, 3.1)) for _ in range(3)])
    R, _ = cv2.Rodrigues(rvec)
    t = np.array([draw(finite) for _ in range(3)])
    return Camera(
        name=name,
        width=draw(st.integers(1, 100_000)),
        height=draw(st.integers(1, 100_000)),
        K=K,
        dist=dist,
        R=R,
        t=t,
    )


@st.composite
def rigs(draw, max_cameras: int = 5):
    cam_names = draw(st.lists(st.text(min_size=1, max_size=10), min_size=1,
                              max_size=max_cameras, unique=True))
    return CameraRig([draw(cameras(n)) for n in cam_names])


def _assert_identical(a: CameraRig, b: CameraRig) -> None:
    assert a.names == b.names
    for ca, cb in zip(a, b, strict=True):
        assert (ca.width, ca.height) == (cb.width, cb.height)
        for attr in ("K", "dist", "R", "t"):
            x, y = getattr(ca, attr), getattr(cb, attr)
            assert x.shape == y.shape
            # Bit-identical, -0.0 included.
            assert x.tobytes() == y.tobytes(), (ca.name, attr)


@settings(max_examples=60, deadline=None, suppress_health_check=[FIXTURE_OK])
@given(rig=rigs())
def test_save_load_round_trip_is_exact(tmp_path, rig):
    path = tmp_path / "cameras.toml"
    save_rig(rig, path)
    loaded = load_rig(path)
    assert loaded == rig
    _assert_identical(loaded, rig)
    assert detect_format(path) == "native"


@settings(max_examples=25, deadline=None, suppress_health_check=[FIXTURE_OK])
@given(data=st.dictionaries(st.text(min_size=1, max_size=6), rigs(3), min_size=1, max_size=4))
def test_save_rigs_round_trip_keeps_capture_order(tmp_path, data):
    path = tmp_path / "cameras.toml"
    save_rigs(data, path)
    loaded = load_rigs(path)
    assert list(loaded) == list(data)
    for cap_id, rig in data.items():
        _assert_identical(loaded[cap_id], rig)
        _assert_identical(load_rig(path, capture=cap_id), rig)


def _rig(n: int = 3, dist_len: int = 5, offset: float = 0.0) -> CameraRig:
    cams = []
    for i in range(n):
        R, _ = cv2.Rodrigues(np.array([0.1 * i, -0.2, 0.3 + offset]))
        K = np.array([[1000.0 + i, 0.0, 640.0], [0.0, 1001.0, 512.0], [0.0, 0.0, 1.0]])
        dist = np.linspace(-0.1, 0.1, dist_len)
        cams.append(Camera(f"cam_{i}", 1280, 1024, K, dist, R, np.array([i, 2.0, 1000.0])))
    return CameraRig(cams)


def test_order_is_file_order_not_sorted(tmp_path):
    names = ["cam_2", "cam_10", "cam_1", "b", "a"]
    rig = CameraRig([c.replace(name=n) for c, n in zip(_rig(5), names, strict=True)])
    save_rig(rig, tmp_path / "c.toml")
    assert load_rig(tmp_path / "c.toml").names == names


def test_file_is_human_readable_and_documented_layout(tmp_path):
    rig = _rig(2, dist_len=4)
    save_rig(rig, tmp_path / "cameras.toml")
    text = (tmp_path / "cameras.toml").read_text()
    assert text.startswith("#")
    assert "\nversion = 1\n" in text
    assert text.count("[[camera]]") == 2
    # One matrix row per line, so a diff shows which entry changed.
    assert "    [1000.0, 0.0, 640.0],\n" in text
    data = tomllib.loads(text)
    assert list(data) == ["version", "camera"]
    assert list(data["camera"][0]) == ["name", "width", "height", "K", "dist", "R", "t"]
    assert data["camera"][0]["dist"] == list(np.linspace(-0.1, 0.1, 4))


def test_multi_capture_layout_and_selection(tmp_path):
    path = tmp_path / "cameras.toml"
    save_rigs({"cap_b": _rig(2), "cap_a": _rig(3, offset=0.5)}, path)
    data = tomllib.loads(path.read_text())
    assert [c["id"] for c in data["capture"]] == ["cap_b", "cap_a"]
    assert len(data["capture"][1]["camera"]) == 3
    assert load_rig(path, capture="cap_a") == _rig(3, offset=0.5)
    with pytest.raises(CalibrationFormatError, match=r"holds 2 captures \(cap_b, cap_a\)"):
        load_rig(path)
    with pytest.raises(CalibrationFormatError, match="no capture 'zzz'; captures: cap_b, cap_a"):
        load_rig(path, capture="zzz")


def test_single_capture_file_gives_capture_0(tmp_path):
    save_rig(_rig(), tmp_path / "c.toml")
    assert list(load_rigs(tmp_path / "c.toml")) == ["0"]
    assert load_rig(tmp_path / "c.toml", capture="0") == _rig()
    with pytest.raises(CalibrationFormatError, match="single rig"):
        load_rig(tmp_path / "c.toml", capture="3")
    save_rigs({"only": _rig()}, tmp_path / "m.toml")
    assert load_rig(tmp_path / "m.toml") == _rig()


def test_save_accepts_a_list_of_cameras(tmp_path):
    save_rig(list(_rig()), tmp_path / "c.toml")
    assert load_rig(tmp_path / "c.toml") == _rig()


def test_awkward_names_round_trip(tmp_path):
    weird = ['quote"d', "back\\slash", "tab\there", "new\nline", "ctl\x01\x7f", "ünï 🎥", "0"]
    rig = CameraRig([c.replace(name=n) for c, n in zip(_rig(len(weird)), weird, strict=True)])
    save_rig(rig, tmp_path / "c.toml")
    assert load_rig(tmp_path / "c.toml").names == weird


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "cameras.toml"
    save_rig(_rig(2), path)
    before = path.read_bytes()
    # A failing save (not a rig) leaves the old file as it was.
    with pytest.raises(ValueError, match="CameraRig"):
        save_rig(42, path)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="capture ids"):
        save_rigs({3: _rig()}, path)  # type: ignore[dict-item]
    assert path.read_bytes() == before
    save_rig(_rig(3), path)
    assert load_rig(path) == _rig(3)
    assert sorted(os.listdir(tmp_path)) == ["cameras.toml"]


def test_write_failure_cleans_up_temp_file(tmp_path):
    # The target is a directory: os.replace fails after the temp file was written.
    target = tmp_path / "cameras.toml"
    target.mkdir()
    with pytest.raises(OSError):
        save_rig(_rig(), target)
    assert sorted(os.listdir(tmp_path)) == ["cameras.toml"]
    assert target.is_dir()


def test_anipose_keeps_section_order(tmp_path):
    # Sorting section keys would give cam_1, cam_10, cam_2; sorting names a, m, z.
    body = (
        'name = "{n}"\nsize = [64, 48]\n'
        "matrix = [[100.0, 0.0, 32.0], [0.0, 100.0, 24.0], [0.0, 0.0, 1.0]]\n"
        "distortions = [0.0, 0.0, 0.0, 0.0, 0.0]\nrotation = [0.0, 0.0, 0.0]\n"
        "translation = [0.0, 0.0, {z}]\n"
    )
    sections = [("cam_2", "z"), ("cam_10", "a"), ("cam_1", "m")]
    text = "".join(f"[{s}]\n" + body.format(n=n, z=i + 1.0) for i, (s, n) in enumerate(sections))
    (tmp_path / "calibration.toml").write_text(text + "[metadata]\nerror = 0.1\n")
    rig = load_rig(tmp_path / "calibration.toml")
    assert rig.names == ["z", "a", "m"]
    np.testing.assert_array_equal(rig.t[:, 2], [1.0, 2.0, 3.0])


def test_detection_by_content_and_forced_format(tmp_path):
    save_rig(_rig(), tmp_path / "calib.cfg")  # extension says nothing
    assert detect_format(tmp_path / "calib.cfg") == "native"
    assert load_rig(tmp_path / "calib.cfg") == _rig()
    assert load_rig(tmp_path / "calib.cfg", format="native") == _rig()
    with pytest.raises(CalibrationFormatError, match="unexpected top-level key 'version'"):
        load_rig(tmp_path / "calib.cfg", format="anipose")
    with pytest.raises(CalibrationFormatError, match="malformed JSON"):
        load_rig(tmp_path / "calib.cfg", format="interhand")
