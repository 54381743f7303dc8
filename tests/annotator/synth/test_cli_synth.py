"""``annotator synth`` end to end, in-process: a real project on disk the store opens."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from annotator.cli.main import main
from annotator.skeleton import NUM_JOINTS
from annotator.store import ProjectStore
from annotator.synth import StudioConfig, make_dome, write_capture


def _digest(root) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.jpg")):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def test_cli_synth_writes_a_project_with_ground_truth(tmp_path, capsys):
    out = tmp_path / "capture"
    sheet = tmp_path / "sheet.png"
    rc = main(["synth", str(out), "--cameras", "6", "--instants", "4", "--subjects", "2",
               "--workers", "2", "--seed", "5", "--contact-sheet", str(sheet)])
    assert rc == 0
    assert "24 images" in capsys.readouterr().out
    assert cv2.imread(str(sheet)) is not None
    with ProjectStore.open(out) as store:
        assert store.num_instants == 4 and len(store.camera_names) == 6
        assert store.captures == ["Capture0", "Capture1"]
        assert store.has_ground_truth
        for i in range(4):
            paths = store.image_paths(i)
            assert all(p is not None and p.is_file() for p in paths)
            img = cv2.imread(str(paths[0]))
            cam = store.rig(store.instant(i).capture)[0]
            assert img.shape == (cam.height, cam.width, 3)
            assert "/cam" in paths[0].as_posix() and paths[0].name.startswith("image")
            gt = store.ground_truth(i)
            assert gt.joints_world_mm.shape == (NUM_JOINTS, 3)
            assert gt.visible.shape == (6, NUM_JOINTS)
            assert gt.hand_present.any()
        # Ground truth never goes into the human labels.
        assert store.labelled_instants(source="human").size == 0
        assert np.isnan(store.labels(0).joints_world_mm).all()


def test_cli_synth_rejects_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["synth", str(tmp_path / "x"), "--cameras", "0"])
    (tmp_path / "y").mkdir()
    assert main(["synth", str(tmp_path / "y"), "--cameras", "2", "--instants", "1",
                 "--workers", "1"]) == 0
    assert main(["synth", str(tmp_path / "y"), "--cameras", "2", "--instants", "1"]) == 2
    assert "already holds a project" in capsys.readouterr().err


def test_write_capture_is_deterministic_across_worker_counts(tmp_path):
    cfg = StudioConfig(cameras=3, instants=3, subjects=1, seed=11)
    a = write_capture(tmp_path / "a", cfg, workers=1)
    b = write_capture(tmp_path / "b", cfg, workers=2)
    assert a.images == b.images == 9
    assert _digest(tmp_path / "a" / "images") == _digest(tmp_path / "b" / "images")
    with ProjectStore.open(tmp_path / "a") as sa, ProjectStore.open(tmp_path / "b") as sb:
        for i in range(3):
            ga, gb = sa.ground_truth(i), sb.ground_truth(i)
            np.testing.assert_array_equal(ga.joints_world_mm, gb.joints_world_mm)
            np.testing.assert_array_equal(ga.visible, gb.visible)


def test_dome_has_both_orientations_realistic_intrinsics_and_a_few_useless_cameras():
    rig = make_dome(80, seed=0)
    assert len(rig) == 80
    sizes = {tuple(s) for s in rig.sizes.tolist()}
    assert sizes == {(512, 334), (334, 512)}
    f = rig.K[:, 0, 0]
    assert np.all((f > 1000) & (f < 1500))
    dist = np.linalg.norm(rig.centers_world, axis=1)
    assert np.all((dist > 800) & (dist < 1200))
    assert np.all(np.abs(rig.dist[:, :2]) < 0.2)
    # The hands (world origin) are in view of almost all cameras, not all.
    x = rig.t  # origin in camera frame
    uv = np.einsum("cij,cj->ci", rig.K, x)[:, :2] / x[:, 2:]
    inside = (x[:, 2] > 0) & np.all((uv >= 0) & (uv < rig.sizes), axis=1)
    assert 70 <= inside.sum() < 80
    assert make_dome(80, seed=0) == rig
    with pytest.raises(ValueError, match="n_cameras"):
        make_dome(0)
