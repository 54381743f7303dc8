"""``write_capture`` when things go wrong: interrupted runs, failures, ``overwrite``."""

from __future__ import annotations

import pytest

from annotator.cli.main import main
from annotator.store import ProjectStore
from annotator.synth import StudioConfig, make_dome, write_capture

_TINY = StudioConfig(cameras=3, instants=3, subjects=1, seed=4)


def _fail_after_first(done: int, total: int) -> None:
    raise RuntimeError("disk full (simulated)")


@pytest.mark.parametrize("workers", [1, 2])
def test_failed_run_leaves_no_partial_project(tmp_path, workers):
    out = tmp_path / "capture"
    with pytest.raises(RuntimeError, match="simulated"):
        write_capture(out, _TINY, workers=workers, progress=_fail_after_first)
    assert list(tmp_path.iterdir()) == []  # no project, no staging folder left behind


def test_failed_overwrite_keeps_the_old_project(tmp_path):
    out = tmp_path / "capture"
    write_capture(out, _TINY)
    with pytest.raises(RuntimeError, match="simulated"):
        write_capture(out, StudioConfig(cameras=2, instants=2, subjects=1, seed=5),
                      overwrite=True, progress=_fail_after_first)
    assert [p.name for p in tmp_path.iterdir()] == ["capture"]
    with ProjectStore.open(out) as store:
        assert store.num_instants == 3 and len(store.camera_names) == 3
        assert all(p.is_file() for i in range(3) for p in store.image_paths(i))


def test_overwrite_leaves_no_stale_images_of_the_old_capture(tmp_path):
    out = tmp_path / "capture"
    write_capture(out, _TINY)
    write_capture(out, StudioConfig(cameras=2, instants=2, subjects=1, seed=5), overwrite=True)
    with ProjectStore.open(out) as store:
        expected = {p for i in range(2) for p in store.image_paths(i)}
    assert set((out / "images").rglob("*.jpg")) == expected


def test_overwrite_refuses_a_project_that_is_not_synthetic(tmp_path, capsys):
    human = tmp_path / "human"
    ProjectStore.create(human, rigs=make_dome(2)).close()
    marker = human / "notes.txt"
    marker.write_text("precious")
    with pytest.raises(ValueError, match="not a synthetic studio"):
        write_capture(human, _TINY, overwrite=True)
    assert marker.read_text() == "precious"
    assert main(["synth", str(human), "--cameras", "2", "--instants", "1", "--overwrite"]) == 2
    assert "not a synthetic studio" in capsys.readouterr().err
    with ProjectStore.open(human) as store:
        assert "synthetic_studio" not in store.metadata


def test_overwrite_refuses_a_synthetic_project_with_human_labels(tmp_path):
    out = tmp_path / "capture"
    write_capture(out, _TINY)
    with ProjectStore.open(out, mode="w") as store:
        store.set_click(0, store.camera_names[0], 0, (10.0, 20.0))
    with pytest.raises(ValueError, match="labels.h5"):
        write_capture(out, _TINY, overwrite=True)
    with ProjectStore.open(out) as store:
        assert store.labels(0).clicks_uv_px[0, 0].tolist() == [10.0, 20.0]


def test_synth_refuses_a_folder_that_holds_other_files(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"not really")
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="not empty"):
            write_capture(folder, _TINY, overwrite=overwrite)
    assert [p.name for p in folder.iterdir()] == ["holiday.jpg"]
