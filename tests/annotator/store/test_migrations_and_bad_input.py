"""Schema migration from a hand-written schema-0 project, and bad input of every kind."""

from __future__ import annotations

import hashlib

import h5py
import numpy as np
import pytest

from annotator import skeleton
from annotator.store import SCHEMA_VERSION, ProjectFormatError, ProjectStore
from annotator.store.migrations import V0_ANNOTATOR
from tests.annotator.store.conftest import make_project

J = skeleton.NUM_JOINTS


def _write_v0(path, C):
    """Turn a fresh project into the schema-0 layout by hand (dense labels, no skeleton)."""
    (path / "project.toml").write_text('name = "old"\nschema_version = 0\nimage_root = "images"\n')
    joints = np.full((4, J, 3), np.nan)
    joints[1, 3] = [1.0, 2.0, 3.0]
    clicks = np.full((4, C, J, 2), np.nan)
    clicks[1, 2, 3] = [10.0, 20.0]
    hands = np.full((4, 2), -1, np.int8)
    hands[1] = [1, 0]
    with h5py.File(path / "labels.h5", "w") as f:
        f["joints_world_mm"] = joints
        f["clicks_uv_px"] = clicks
        f["hand_present"] = hands


def test_schema0_project_is_migrated_on_write_open(tmp_path):
    path = tmp_path / "p"
    make_project(path).close()
    _write_v0(path, 6)
    with pytest.raises(ProjectFormatError, match="schema 0 is older"):
        ProjectStore.open(path, "r")
    with ProjectStore.open(path, "w") as w:
        assert w.schema_version == SCHEMA_VERSION
    assert (path / "labels.h5.schema0.bak").exists()
    with ProjectStore.open(path, "r") as r:
        lab = r.labels(1)
        np.testing.assert_array_equal(lab.joints_world_mm[3], [1, 2, 3])
        assert lab.joint_source[3] == "human" and lab.annotator[3] == V0_ANNOTATOR
        np.testing.assert_array_equal(lab.clicks_uv_px[2, 3], [10, 20])
        assert lab.hand_present.tolist() == [1, 0]
        assert r.labelled_instants().tolist() == [1] and r.name == "old"


def test_newer_schema_is_refused(project):
    project.close()
    toml = project.path / "project.toml"
    toml.write_text(toml.read_text().replace(f"schema_version = {SCHEMA_VERSION}",
                                             "schema_version = 99"))
    for mode in ("r", "w"):
        with pytest.raises(ProjectFormatError, match="newer"):
            ProjectStore.open(project.path, mode)


def _digest(path):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.iterdir()) if p.is_file() and p.name != ".lock"}


@pytest.mark.parametrize("name, damage, match", [
    ("project.toml", lambda b: b[: len(b) // 2] + b"[[[", "project.toml: malformed TOML"),
    ("project.toml", lambda b: b"colour = 1\n" + b, "unknown keys colour"),
    ("frames.h5", lambda b: b[: len(b) // 3], "frames.h5"),
    ("cameras.toml", lambda b: b.replace(b"=", b":", 3), "cameras.toml"),
])
def test_damaged_files_give_one_line_errors(project, name, damage, match):
    project.close()
    f = project.path / name
    f.write_bytes(damage(f.read_bytes()))
    with pytest.raises(ValueError, match=match) as info:
        ProjectStore.open(project.path, "r")
    assert "\n" not in str(info.value)


def test_truncated_labels_file(project):
    project.set_click(0, 0, 0, (1.0, 1.0))
    project.close()
    f = project.path / "labels.h5"
    f.write_bytes(f.read_bytes()[:200])
    with ProjectStore.open(project.path) as r:
        with pytest.raises(ProjectFormatError, match="labels.h5"):
            r.labels(0)


def test_bad_values_are_refused_and_change_nothing(project):
    project.set_click(0, 0, 0, (1.0, 2.0))
    project.save()
    before = _digest(project.path)
    good = np.zeros((J, 3))
    cases = [
        (lambda: project.set_joints_3d(0, np.full((J, 3), np.inf)), "inf"),
        (lambda: project.set_joints_3d(0, np.zeros((21, 3))), r"\(42, 3\)"),
        (lambda: project.set_joints_3d(0, np.where(np.eye(J, 3) > 0, np.nan, good)),
         "partly NaN"),
        (lambda: project.set_joints_3d(0, good, source="guess"), "source"),
        (lambda: project.set_click(0, "nope", 0, (1.0, 1.0)), "unknown camera 'nope'"),
        (lambda: project.set_click(0, 0, 42, (1.0, 1.0)), "joint index 42"),
        (lambda: project.set_click(0, 0, 0, (1e5, 1.0)), "outside the .* image of camera"),
        (lambda: project.set_click(0, 0, 0, (np.inf, 1.0)), "infinite"),
        (lambda: project.set_hand_present(0, "middle", True), "hand"),
        (lambda: project.add_instants(["0"], ["s"], [0], [["a"] * 5]), r"\(1, 6\)"),
        (lambda: project.add_instants(["9"], ["s"], [0], [[""] * 6]), "no calibration"),
        (lambda: project.add_instants(["0"], ["seq"], [1], [[""] * 6]), "duplicate"),
        (lambda: project.set_image_attr("bbox", np.zeros((3, 6, 4))), "shape"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match) as info:
            call()
        assert "\n" not in str(info.value)
    with pytest.raises(IndexError):
        project.labels(99)
    project.save()
    assert _digest(project.path) == before
    assert project.labels(0).clicks_uv_px[0, 0].tolist() == [1.0, 2.0]


def test_save_with_unserialisable_metadata_changes_no_file(project):
    # save() used to replace frames.h5 and labels.h5 before finding that project.toml
    # could not be written, leaving a failed call with changed files.
    def saved():  # the project's files (the pending index working copy is a hidden temp)
        return {k: v for k, v in _digest(project.path).items() if not k.startswith(".")}

    before = saved()
    project.set_flag(0, None, "look")
    project.add_instants(["0"], ["seq"], [10], [[f"x{k}.jpg" for k in range(6)]])
    project.metadata["bad"] = {"a": None}
    with pytest.raises(ProjectFormatError, match="project.toml: .*not TOML"):
        project.save()
    assert saved() == before
    del project.metadata["bad"]
    project.save()
    assert project.num_instants == 5 and project.flagged_instants().tolist() == [0]


def test_labels_file_with_unknown_joint_source_is_a_format_error(project):
    project.set_joints_3d(0, np.zeros((J, 3)))
    project.close()
    with h5py.File(project.path / "labels.h5", "r+") as f:
        f["joints/source"][0] = 9  # no such source
    with ProjectStore.open(project.path) as r:
        with pytest.raises(ProjectFormatError, match=r"labels.h5: joints.source"):
            r.labels(0)
