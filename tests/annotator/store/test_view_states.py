"""Occluded / locked view states in labels.h5 (the optional ``view_states`` table)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from annotator.store import ProjectFormatError, ProjectStore
from annotator.store.store_labels import VIEW_LOCKED, VIEW_OCCLUDED


def test_view_states_roundtrip_and_clear(project):
    cam = project.camera_names[2]
    project.set_view_state(1, cam, 5, occluded=True)
    project.set_view_state(1, 0, 7, locked=True)
    project.set_view_state(1, 0, 7, occluded=True)  # bits combine, None leaves the other
    project.set_view_state(3, cam, 0, locked=True)
    project.set_view_state(3, cam, 0, locked=False)  # back to 0: row removed
    project.save()
    path = project.path
    project.close()
    with ProjectStore.open(path) as store:
        v = store.view_states(1)
        assert v.shape == (len(store.camera_names), 42) and v.dtype == np.int8
        assert v[2, 5] == VIEW_OCCLUDED and v[0, 7] == VIEW_OCCLUDED | VIEW_LOCKED
        assert np.count_nonzero(v) == 2
        assert not store.view_states(3).any() and not store.view_states(0).any()
    with h5py.File(path / "labels.h5") as f:
        assert f["view_states/instant"].shape == (2,)


def test_old_labels_file_without_table_reads_empty(project):
    project.set_click(0, 0, 0, (10.0, 10.0), annotator="a")
    project.save()
    path = project.path
    project.close()
    with h5py.File(path / "labels.h5", "r+") as f:
        del f["view_states"]
    with ProjectStore.open(path) as store:
        assert not store.view_states(0).any()
        assert np.allclose(store.labels(0).clicks_uv_px[0, 0], (10.0, 10.0))


def test_bad_view_state_input(project):
    with pytest.raises(ValueError, match="unknown camera|camera"):
        project.set_view_state(0, "nope", 0, occluded=True)
    with pytest.raises(ProjectFormatError, match="out of range"):
        project.set_view_state(0, 0, 42, occluded=True)
    with pytest.raises(IndexError):
        project.view_states(99)
