"""annotator merge: completeness checks, human labels win, flags, merged detections."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annotator import skeleton
from annotator.cli.main import main
from annotator.machine_labels.merge import MergeError, merge_machine_labels, read_detections
from annotator.store import ProjectStore
from annotator.store.machine_shards import (
    QUALITY_HIGH_ERROR,
    ShardWriter,
    write_manifest,
)
from tests.machine_labeler.labeling_support import copy_project, make_synth, records_from_truth

J = skeleton.NUM_JOINTS


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synth(tmp_path_factory.mktemp("merge") / "p", cameras=8, instants=6)


@pytest.fixture
def project(synth, tmp_path):
    return copy_project(synth, tmp_path / "p")


def _write(store, parts, world=1):
    for rank, (instants, kwargs) in enumerate(parts):
        w = ShardWriter(store.machine_dir, rank, world, store.camera_names, J)
        w.add(records_from_truth(store, instants, **kwargs))
        w.close()


def test_merge_writes_machine_labels_and_human_wins(project):
    with ProjectStore.open(project, "w") as store:
        gt0 = store.ground_truth(0).joints_world_mm
        human = np.full((J, 3), np.nan)
        human[:5] = gt0[:5] + 1.0  # a human labelled 5 joints of instant 0 (1 mm off)
        store.set_joints_3d(0, human, source="human", annotator="ann")
        store.set_flag(2, 3, "human: check this")
        # the run covered every instant (--instants all)
        write_manifest(store.machine_dir, np.arange(6), {})
        quality = np.zeros((3, J), np.uint8)
        quality[1, 7] = QUALITY_HIGH_ERROR
        _write(
            store,
            [
                ([0, 1, 2], dict(offset_mm=[0.0, 0.0, 2.0], quality=quality)),
                ([3, 4, 5], dict(offset_mm=[0.0, 0.0, 2.0])),
            ],
            world=2,
        )
    with ProjectStore.open(project, "w") as store:
        report = merge_machine_labels(store)
    assert report.instants == 6 and report.shards == 2
    assert report.joints_kept_human == 5
    with ProjectStore.open(project) as store:
        lab0 = store.labels(0)
        np.testing.assert_allclose(lab0.joints_world_mm[:5], gt0[:5] + 1.0)
        assert list(lab0.joint_source[:5]) == ["human"] * 5
        present = store.ground_truth(0).hand_present
        for i in range(6):
            gt = store.ground_truth(i)
            lab = store.labels(i)
            machine = lab.joint_source == "machine"
            ok = np.isfinite(gt.joints_world_mm).all(1)
            expected = ok.copy()
            if i == 0:
                expected[:5] = False
            np.testing.assert_array_equal(machine, expected)
            np.testing.assert_allclose(
                lab.joints_world_mm[machine], gt.joints_world_mm[machine] + [0, 0, 2.0]
            )
            np.testing.assert_array_equal(lab.hand_present, gt.hand_present.astype(np.int8))
        assert (7, "machine: large reprojection error") in store.labels(1).flags
        assert (3, "human: check this") in store.labels(2).flags
        assert present is not None
        det = read_detections(store.machine_dir)
        np.testing.assert_array_equal(det.records.instants, np.arange(6))
        np.testing.assert_allclose(
            det.records.uv_px[4], store.ground_truth(4).uv_px.astype(np.float32)
        )
        assert det.records.quality[1, 7] == QUALITY_HIGH_ERROR

    # a second run without the failure: the old machine flag goes, the human one stays
    for p in (project / "machine").glob("shard-*.h5"):
        p.unlink()
    with ProjectStore.open(project, "w") as store:
        _write(store, [(list(range(6)), dict(offset_mm=[0.0, 0.0, -3.0]))])
        merge_machine_labels(store)
    with ProjectStore.open(project) as store:
        assert store.labels(1).flags == ()
        assert (3, "human: check this") in store.labels(2).flags
        lab = store.labels(3)
        m = lab.joint_source == "machine"
        np.testing.assert_allclose(
            lab.joints_world_mm[m], store.ground_truth(3).joints_world_mm[m] + [0, 0, -3.0]
        )
        np.testing.assert_allclose(store.labels(0).joints_world_mm[:5], gt0[:5] + 1.0)


def test_missing_and_duplicated_instants_are_named(project, capsys):
    with ProjectStore.open(project, "w") as store:
        write_manifest(store.machine_dir, np.arange(6), {})
        _write(store, [([0, 1, 2], {}), ([2, 3], {})], world=2)
        with pytest.raises(MergeError) as err:
            merge_machine_labels(store)
        msg = str(err.value)
        assert "2 expected instant(s) missing" in msg and "4-5" in msg
        assert "1 instant(s) in more than one shard: 2 in shard-00000.h5, shard-00001.h5" in msg
        assert store.labelled_instants("machine").size == 0
    assert not (project / "machine" / "detections.h5").exists()
    rc = main(["merge", str(project)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "missing" in err[0]
    with ProjectStore.open(project) as store:
        assert store.labelled_instants("machine").size == 0


def test_default_expected_is_unlabelled_and_cli_json(project, capsys):
    with ProjectStore.open(project, "w") as store:
        store.set_joints_3d(1, store.ground_truth(1).joints_world_mm, source="human")
    with ProjectStore.open(project, "w") as store:  # no manifest: every unlabelled instant
        _write(store, [([0, 2, 3, 4], {})])
    assert main(["merge", str(project)]) == 2
    assert "5" in capsys.readouterr().err
    with ProjectStore.open(project, "w") as store:
        _write(store, [([5], {})])
    assert main(["merge", str(project), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["instants"] == 5 and out["expected"] == 5 and out["shards"] == 2


def test_no_shards(project, capsys):
    assert main(["merge", str(project)]) == 2
    assert "no shard" in capsys.readouterr().err


def test_a_newer_run_withdraws_an_earlier_runs_ghost_hand_but_not_a_persons_verdict(project):
    """Run 1 labels a hand that is not there; run 2 finds it absent: the hand goes. A hand a
    person marked absent stays absent whatever a run says."""
    with ProjectStore.open(project) as store:
        gts = [store.ground_truth(i) for i in range(6)]
    singles = [i for i, g in enumerate(gts) if g.hand_present.sum() == 1]
    assert len(singles) >= 2, "the capture needs two single-hand instants"
    ghost, marked = singles[:2]
    with ProjectStore.open(project, "w") as store:
        store.set_hand_present(marked, int(np.argmin(gts[marked].hand_present)), False)
        write_manifest(store.machine_dir, np.arange(6), {})
        rec = records_from_truth(store, list(range(6)))
        for i in (ghost, marked):
            absent = int(np.argmin(gts[i].hand_present))
            sel = skeleton.hand_slice(skeleton.HANDS[absent])
            rec.hand_present[i, absent] = 1  # run 1: a ghost copy of the other hand
            rec.joints_world_mm[i, sel] = gts[i].joints_world_mm[skeleton.FLIP_INDEX][sel]
        w = ShardWriter(store.machine_dir, 0, 1, store.camera_names, J)
        w.add(rec)
        w.close()
        merge_machine_labels(store)
    with ProjectStore.open(project) as store:
        assert store.labels(ghost).hand_present.tolist() == [1, 1]
        assert store.labels(marked).hand_present.tolist() == gts[marked].hand_present.astype(
            int).tolist()
    for p in (project / "machine").glob("shard-*.h5"):
        p.unlink()
    with ProjectStore.open(project, "w") as store:
        _write(store, [(list(range(6)), {})])  # run 2: right
        merge_machine_labels(store)
    with ProjectStore.open(project) as store:
        for i in (ghost, marked):
            lab = store.labels(i)
            assert lab.hand_present.tolist() == gts[i].hand_present.astype(int).tolist()
            absent = int(np.argmin(gts[i].hand_present))
            sel = skeleton.hand_slice(skeleton.HANDS[absent])
            assert not np.isfinite(lab.joints_world_mm[sel]).any()
