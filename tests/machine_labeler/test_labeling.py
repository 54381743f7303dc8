"""Batch labelling: hand finding, bad images skipped and reported, resume, CLI errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from annotator import skeleton
from annotator.cli.main import main
from annotator.machine_labels.merge import merge_machine_labels, read_detections
from annotator.store import ProjectStore
from annotator.store.machine_shards import (
    completed_instants,
    read_manifest,
    read_shard,
    shard_paths,
)
from annotator.version import code_version
from machine_labeler.hand_finding import HandFindingSettings, locate_hands
from machine_labeler.labeling import read_view
from tests.machine_labeler.labeling_support import (
    copy_project,
    make_detector_checkpoint,
    make_synth,
)

# thresholds so loose that the untrained detector's detections all "agree": every stage
# (hand finding, fine crops, lifting, shards, merge) then carries real numbers
LOOSE = ["--threshold-px", "1000", "--coarse-threshold-px", "1000", "--batch-size", "12"]


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    path = make_synth(tmp_path_factory.mktemp("label") / "p", cameras=12, instants=4, subjects=1)
    make_detector_checkpoint(path)
    return path


@pytest.fixture
def project(synth, tmp_path):
    return copy_project(synth, tmp_path / "p")


def test_locate_hands_from_noisy_coarse_detections(synth):
    """Coarse detections = true projections + 8 px noise, absent hand = low-confidence
    junk: the present hands are found near the truth, the absent one is not, and every
    fine box contains its hand's true 2D joints."""
    rng = np.random.default_rng(1)
    with ProjectStore.open(synth) as store:
        for i in range(store.num_instants):
            gt = store.ground_truth(i)
            rig = store.rig(store.instant(i).capture)
            uv = gt.uv_px + rng.normal(0, 8.0, gt.uv_px.shape)
            conf = np.full(uv.shape[:2], 0.8)
            junk = ~np.isfinite(uv).all(-1)
            uv[junk] = rng.uniform(0, 256, (junk.sum(), 2))
            conf[junk] = 0.05
            found = locate_hands(uv, conf, rig, 30.0, HandFindingSettings())
            np.testing.assert_array_equal(found.hand_present, gt.hand_present)
            ok = np.isfinite(gt.joints_world_mm).all(1)
            err = np.linalg.norm(found.joints_world_mm[ok] - gt.joints_world_mm[ok], axis=1)
            assert np.nanmedian(err) < 15.0
            for c in range(len(rig)):
                vis = gt.visible[c] & ok
                if vis.sum() < 3 or not np.isfinite(found.boxes[c]).all():
                    continue
                x0, y0, s = found.boxes[c]
                u, v = gt.uv_px[c, vis].T
                assert (u > x0).all() and (u < x0 + s).all()
                assert (v > y0).all() and (v < y0 + s).all()
            assert np.isfinite(found.boxes).all(1).sum() >= len(rig) - 2


def test_read_view_reports_problems(tmp_path):
    assert read_view(None, None) == (None, "")
    img, why = read_view(str(tmp_path / "nope.jpg"), None)
    assert img is None and "no such image file" in why
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    img, why = read_view(str(tmp_path / "bad.jpg"), None)
    assert img is None and "corrupt" in why


@pytest.mark.slow
def test_bad_images_skipped_reported_and_resume(project, capsys):
    with ProjectStore.open(project) as store:
        missing = store.image_paths(1)[3]
        corrupt = store.image_paths(2)[5]
    missing.unlink()
    corrupt.write_bytes(corrupt.read_bytes()[:200])  # truncated mid-header
    rc = main(["machine-label", str(project), "--workers", "1", "--flush-every", "1", *LOOSE])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "instant 1" in err and "no such image file" in err and "instant 2" in err
    assert "labelled 4 instants" in out and "2 skipped" in out
    bad = [b for p in shard_paths(project / "machine") for b in read_shard(p).bad_images]
    assert sorted((b.instant, b.camera) for b in bad) == [(1, 3), (2, 5)]
    with ProjectStore.open(project, "w") as store:
        merge_machine_labels(store)
        det = read_detections(store.machine_dir).records
        assert det.confidence[1, 3].max() == 0 and np.isnan(det.uv_px[1, 3]).all()
        assert det.confidence[2, 5].max() == 0
        assert (det.confidence[0] > 0).any(-1).sum() >= 8  # most of the 12 views cropped
        assert store.labelled_instants("machine").tolist() == [0, 1, 2, 3]
        lab = store.labels(0)
        assert (lab.joint_source[np.isfinite(lab.joints_world_mm).all(1)] == "machine").all()
    # a rerun with the same model and settings has nothing left to do
    assert main(["machine-label", str(project), "--workers", "0", *LOOSE]) == 0
    assert "labelled 0 instants (4 of 4 were done already)" in capsys.readouterr().out
    # the run is keyed by the code too: another version of the labeller starts a new run
    assert read_manifest(project / "machine")[1]["run_key"]["code_version"] == code_version()
    # lose one shard (as a killed run would): only its instants are redone
    shards = shard_paths(project / "machine")
    lost = read_shard(shards[0]).instants.tolist()
    shards[0].unlink()
    assert main(["machine-label", str(project), "--workers", "0", *LOOSE]) == 0
    assert f"labelled {len(lost)} instants" in capsys.readouterr().out
    np.testing.assert_array_equal(completed_instants(project / "machine"), [0, 1, 2, 3])
    # other settings make a new run; the old shards are kept under machine/previous/
    assert (
        main(
            [
                "machine-label",
                str(project),
                "--workers",
                "0",
                "--threshold-px",
                "900",
                "--coarse-threshold-px",
                "1000",
                "--batch-size",
                "12",
            ]
        )
        == 0
    )
    assert "labelled 4 instants" in capsys.readouterr().out
    assert len(list((project / "machine" / "previous").glob("*/shard-*.h5"))) >= 1


@pytest.mark.slow
def test_human_instants_are_skipped_by_default(project, capsys):
    with ProjectStore.open(project, "w") as store:
        store.set_joints_3d(0, store.ground_truth(0).joints_world_mm, source="human")
    assert main(["machine-label", str(project), "--workers", "0", *LOOSE]) == 0
    capsys.readouterr()
    np.testing.assert_array_equal(completed_instants(project / "machine"), [1, 2, 3])
    with ProjectStore.open(project, "w") as store:
        merge_machine_labels(store)
        lab = store.labels(0)
        ok = np.isfinite(store.ground_truth(0).joints_world_mm).all(1)
        assert (lab.joint_source[ok] == "human").all()
        assert skeleton.NUM_JOINTS == lab.joint_source.shape[0]


def test_no_checkpoint_is_a_one_line_error(tmp_path, synth, capsys):
    p = copy_project(synth, tmp_path / "q")
    import shutil

    shutil.rmtree(p / "models")
    assert main(["machine-label", str(p)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no detector checkpoint" in err[0]
    assert main(["machine-label", str(p), "--model", str(tmp_path / "x.pt")]) == 2
    assert "x.pt" in capsys.readouterr().err


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_amp_channels_last_labels_every_instant(project, capsys):
    assert main(["machine-label", str(project), "--device", "cuda", "--workers", "1", *LOOSE]) == 0
    assert "on cuda" in capsys.readouterr().out
    np.testing.assert_array_equal(completed_instants(project / "machine"), [0, 1, 2, 3])


def test_second_fine_pass_crops_again(synth):
    """--fine-passes 2: a second fine forward over crops around the first result."""
    import dataclasses

    from machine_labeler.checkpoint import load_detector, newest_checkpoint
    from machine_labeler.hand_finding import HandFindingSettings
    from machine_labeler.labeling import LabelingSettings, label_instants

    base = LabelingSettings(workers=0, batch_size=12, threshold_px=1000.0,
                            hands=HandFindingSettings(coarse_threshold_px=1000.0))
    with ProjectStore.open(synth) as store:
        det = load_detector(newest_checkpoint(store))
        one = label_instants(store, det.model, det.config, [0], None, base)
        two = label_instants(store, det.model, det.config, [0], None,
                             dataclasses.replace(base, fine_passes=2))
    fine = one.crops - one.images  # crops beyond the coarse pass (one per view)
    assert fine > 0 and two.crops > one.crops and two.crops - two.images >= fine


def _records_of(store, model, config, settings):
    """label_instants with ``settings`` into a list of ShardRecords (a writer stand-in that
    keeps what it is given)."""
    from machine_labeler.labeling import label_instants

    class Keep:
        def __init__(self):
            self.records = []

        def add(self, rec):
            self.records.append(rec)

        def flush(self):
            pass

    keep = Keep()
    stats = label_instants(store, model, config, range(store.num_instants), keep, settings)
    return keep.records, stats


def test_overlapped_pipeline_gives_the_same_labels_as_in_turn(synth):
    """The CPU steps in threads (any depth and thread count, images read there or by a
    loader process) give exactly the labels of everything in turn, in instant order."""
    import dataclasses

    from machine_labeler.checkpoint import load_detector, newest_checkpoint
    from machine_labeler.labeling import LabelingSettings

    base = LabelingSettings(workers=0, pipeline_depth=1, batch_size=12, threshold_px=1000.0,
                            hands=HandFindingSettings(coarse_threshold_px=1000.0))
    with ProjectStore.open(synth) as store:
        det = load_detector(newest_checkpoint(store))
        ref, ref_stats = _records_of(store, det.model, det.config, base)
        assert ref_stats.images == 4 * 12 and np.isfinite(ref[0].joints_world_mm).any()
        for workers, depth, threads in ((0, 2, 1), (0, 6, 1), (1, 3, 1), (0, 4, 3)):
            s = dataclasses.replace(base, workers=workers, pipeline_depth=depth,
                                    cpu_threads=threads)
            got, stats = _records_of(store, det.model, det.config, s)
            assert stats.images == ref_stats.images and stats.crops == ref_stats.crops
            assert len(got) == len(ref)
            for a, b in zip(got, ref, strict=True):
                np.testing.assert_array_equal(a.instants, b.instants)
                np.testing.assert_array_equal(a.joints_world_mm, b.joints_world_mm)
                np.testing.assert_array_equal(a.uv_px, b.uv_px)
                np.testing.assert_array_equal(a.quality, b.quality)


def test_an_error_in_the_model_stops_the_pipeline(synth):
    """A forward that fails surfaces as the same exception; the thread's steps are
    stopped rather than left running."""
    import threading

    from machine_labeler.checkpoint import load_detector, newest_checkpoint
    from machine_labeler.labeling import LabelingSettings, label_instants

    with ProjectStore.open(synth) as store:
        det = load_detector(newest_checkpoint(store))
        calls = []

        def fail_second(module, args):
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("forward failed")

        handle = det.model.register_forward_pre_hook(fail_second)
        try:
            s = LabelingSettings(workers=0, pipeline_depth=4, batch_size=12)
            with pytest.raises(RuntimeError, match="forward failed"):
                label_instants(store, det.model, det.config, range(4), None, s)
        finally:
            handle.remove()
    assert not [t for t in threading.enumerate() if t.name.startswith("label-cpu")]


def test_ensemble_and_mirroring_from_the_command_line(project, capsys):
    """``--model`` twice is an ensemble: the same checkpoint twice gives exactly the labels of
    that checkpoint alone (the average of equal outputs), another checkpoint changes them;
    mirroring (the default) changes them and ``--no-flip-test`` is recorded in the shards;
    an ensemble whose crops differ is a one-line error that leaves the earlier run's shards
    where they were."""
    import json

    from machine_labeler.checkpoint import newest_checkpoint

    with ProjectStore.open(project) as store:
        a = newest_checkpoint(store)
    b = make_detector_checkpoint(project, seed=1)
    base = ["machine-label", str(project), "--workers", "0", *LOOSE]

    def labelled(*extra) -> tuple[np.ndarray, dict]:
        assert main([*base, *extra]) == 0, capsys.readouterr().err
        capsys.readouterr()
        with ProjectStore.open(project, "w") as store:
            merge_machine_labels(store)
        det = read_detections(project / "machine").records
        meta = json.loads((project / "machine" / "run.json").read_text())["meta"]["run_key"]
        return det.joints_world_mm.copy(), meta

    alone, meta = labelled("--model", str(a))
    assert meta["model"] == str(a.resolve()) and meta["flip_test"] is True
    plain, meta = labelled("--model", str(a), "--no-flip-test")
    assert meta["flip_test"] is False and not np.allclose(plain, alone, equal_nan=True)
    # without mirroring, the mean of two equal outputs is exactly that output in float
    twice, meta = labelled("--model", str(a), "--model", str(a), "--no-flip-test")
    assert meta["model"] == [str(a.resolve())] * 2
    np.testing.assert_array_equal(twice, plain)
    mixed, meta = labelled("--model", str(a), "--model", str(b), "--no-flip-test")
    assert np.isfinite(mixed).any() and not np.allclose(mixed, plain, equal_nan=True)
    shards = sorted(p.name for p in (project / "machine").glob("shard-*.h5"))
    other = make_detector_checkpoint(project, seed=2, config_name="paper")
    assert main([*base, "--model", str(a), "--model", str(other)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "crop_px" in err[0] and str(other) in err[0]
    assert sorted(p.name for p in (project / "machine").glob("shard-*.h5")) == shards
    assert json.loads((project / "machine" / "run.json").read_text())["meta"]["run_key"] == meta
