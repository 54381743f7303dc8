"""annotator evaluate on labels whose errors are known; the views curve; no ground truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annotator import skeleton
from annotator.cli.main import main
from annotator.machine_labels.evaluation import evaluate_project
from annotator.machine_labels.merge import merge_machine_labels
from annotator.store import ProjectStore
from annotator.store.machine_shards import ShardWriter, write_manifest
from tests.machine_labeler.labeling_support import make_synth, records_from_truth
from triangulation import triangulate_ransac

J = skeleton.NUM_JOINTS
HUMAN = [0, 1, 2]
MACHINE = [3, 4, 5, 6, 7]


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A project with human labels (truth + known offsets) on 3 instants and merged machine
    labels (truth + known offsets, detections = true projections + 2 px noise) on 5."""
    root = tmp_path_factory.mktemp("evaluate")
    path = make_synth(root / "p", cameras=10, instants=8)
    rng = np.random.default_rng(5)
    human_off = rng.normal(0, 1.5, (len(HUMAN), J, 3))
    machine_off = rng.normal(0, 3.0, (len(MACHINE), J, 3))
    with ProjectStore.open(path, "w") as store:
        for k, i in enumerate(HUMAN):
            store.set_joints_3d(
                i,
                np.where(
                    np.isfinite(store.ground_truth(i).joints_world_mm),
                    store.ground_truth(i).joints_world_mm + human_off[k],
                    np.nan,
                ),
                source="human",
            )
    with ProjectStore.open(path, "w") as store:
        write_manifest(store.machine_dir, np.array(MACHINE), {})
        w = ShardWriter(store.machine_dir, 0, 1, store.camera_names, J)
        w.add(records_from_truth(store, MACHINE, offset_mm=machine_off, px_noise=2.0))
        w.close()
        merge_machine_labels(store)
    json_path = root / "eval.json"
    assert (
        main(
            [
                "evaluate",
                str(path),
                "--json",
                str(json_path),
                "--views",
                "2,3,5,10",
                "--repeats",
                "20",
            ]
        )
        == 0
    )
    return path, json.loads(json_path.read_text()), human_off, machine_off


def _truth(store, instants):
    gts = [store.ground_truth(i) for i in instants]
    return np.stack([g.joints_world_mm for g in gts]), np.stack([g.hand_present for g in gts])


def test_machine_and_human_errors_match_the_offsets(evaluated):
    path, report, human_off, machine_off = evaluated
    with ProjectStore.open(path) as store:
        truth, present = _truth(store, MACHINE)
        h_truth, _ = _truth(store, HUMAN)
    ok = np.isfinite(truth).all(-1)
    e = np.linalg.norm(machine_off, axis=-1)[ok]
    assert report["machine"]["joints"] == ok.sum()
    assert report["machine"]["median_mm"] == pytest.approx(np.median(e), abs=1e-9)
    assert report["machine"]["mean_mm"] == pytest.approx(e.mean(), abs=1e-9)
    assert report["machine"]["coverage"] == 1.0
    both = present.all(1)
    assert both.any() and (~both).any()
    inter = np.linalg.norm(machine_off, axis=-1)[both][ok[both]]
    single = np.linalg.norm(machine_off, axis=-1)[~both][ok[~both]]
    assert report["machine"]["interacting"]["median_mm"] == pytest.approx(np.median(inter))
    assert report["machine"]["single"]["mean_mm"] == pytest.approx(single.mean())
    hok = np.isfinite(h_truth).all(-1)
    eh = np.linalg.norm(human_off, axis=-1)[hok]
    assert report["human"]["median_mm"] == pytest.approx(np.median(eh), abs=1e-9)


def test_baseline_is_the_mean_pose_at_the_true_root(evaluated):
    path, report, human_off, _ = evaluated
    with ProjectStore.open(path) as store:
        truth, _ = _truth(store, MACHINE)
        h_truth, _ = _truth(store, HUMAN)
    human = h_truth + human_off
    errors = []
    for hand in skeleton.HANDS:  # a plain loop, independent of the vectorised code
        joints = skeleton.hand_joints(hand)
        root = skeleton.ROOT_INDEX[hand]
        rel = [
            human[k][joints] - human[k][root]
            for k in range(len(HUMAN))
            if np.isfinite(human[k][joints]).all()
        ]
        mean_rel = np.mean(rel, axis=0)
        for k in range(len(MACHINE)):
            if np.isfinite(truth[k][joints]).all():
                pred = truth[k][root] + mean_rel
                errors.extend(np.linalg.norm(pred - truth[k][joints], axis=1))
    assert report["baseline"]["median_mm"] == pytest.approx(np.median(errors), abs=1e-9)
    assert report["baseline"]["median_mm"] > 5 * report["machine"]["median_mm"]


def test_views_curve_falls_and_matches_all_view_triangulation(evaluated):
    path, report, _, _ = evaluated
    curve = report["views_curve"]
    assert [p["views"] for p in curve] == [2, 3, 5, 10]
    means = [p["mean_mm"] for p in curve]
    assert means[0] > means[1] > means[2] > means[3]
    assert curve[0]["std_mm"] > 0 and curve[-1]["std_mm"] == pytest.approx(0, abs=1e-9)
    # all 10 views: the same as triangulating every detection directly
    with ProjectStore.open(path) as store:
        rec = records_from_truth(store, MACHINE, px_noise=2.0)  # same seed: same noise
        truth, _ = _truth(store, MACHINE)
        rig = store.rig(store.captures[0])
        errs = []
        for k, i in enumerate(MACHINE):
            rig_k = store.rig(store.instant(i).capture)
            assert rig_k.names == rig.names
            tri = triangulate_ransac(
                np.swapaxes(rec.uv_px[k].astype(np.float64), 0, 1),
                rig_k,
                confidence=rec.confidence[k].T.astype(np.float64),
            )
            errs.append(np.linalg.norm(tri.points_world_mm - truth[k], axis=-1))
    e = np.concatenate(errs)
    assert curve[-1]["mean_mm"] == pytest.approx(np.nanmean(e), rel=1e-6)


def test_evaluate_library_rejects_bad_views(evaluated):
    path, _, _, _ = evaluated
    with ProjectStore.open(path) as store, pytest.raises(ValueError, match="2..10"):
        evaluate_project(store, views=[1, 4], repeats=2)


def test_no_ground_truth_is_a_one_line_error(tmp_path, capsys):
    from tests._support.rigs import dome_rig

    store = ProjectStore.create(tmp_path / "p", rigs=dome_rig(4))
    store.close()
    assert main(["evaluate", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no ground truth" in err[0]


def test_instants_without_found_hands_lower_the_coverage(evaluated, tmp_path):
    from dataclasses import replace

    from tests.machine_labeler.labeling_support import copy_project

    path = copy_project(evaluated[0], tmp_path / "p")
    for p in (path / "machine").glob("shard-*.h5"):
        p.unlink()
    with ProjectStore.open(path, "w") as store:
        rec = records_from_truth(store, MACHINE)
        joints = rec.joints_world_mm.copy()
        joints[0] = np.nan  # instant 3: the coarse pass found no hand
        hands = rec.hand_present.copy()
        hands[0] = 0
        w = ShardWriter(store.machine_dir, 0, 1, store.camera_names, J)
        w.add(replace(rec, joints_world_mm=joints, hand_present=hands))
        w.close()
        merge_machine_labels(store)
        assert (-1, "machine: no hands found") in store.labels(3).flags
        report = evaluate_project(store, views=[2], repeats=2)
        truth, _ = _truth(store, MACHINE)
    ok = np.isfinite(truth).all(-1)
    assert report["machine"]["instants"] == len(MACHINE)
    assert report["machine"]["coverage"] == pytest.approx(ok[1:].sum() / ok.sum())
    assert report["machine"]["median_mm"] == pytest.approx(0.0, abs=1e-9)


def test_views_curve_scores_joints_without_consensus_by_weighted_dlt(evaluated):
    """Noise far above the RANSAC threshold: 2-view draws rarely agree, yet every joint with
    two detections is scored (by the weighted DLT), so the curve compares like with like."""
    from annotator.machine_labels.evaluation import views_curve

    path, _, _, _ = evaluated
    with ProjectStore.open(path) as store:
        rec = records_from_truth(store, MACHINE, px_noise=25.0)
        truth, present = _truth(store, MACHINE)
        curve = views_curve(store, np.array(MACHINE), rec.uv_px.astype(np.float64),
                            rec.confidence.astype(np.float64), truth, [2, 10], repeats=4,
                            threshold_px=2.0)
    seen = np.isfinite(rec.uv_px).all(-1) & (rec.confidence > 0)  # (F, C, J)
    want = np.isfinite(truth).all(-1)
    assert (seen.sum(1)[want] >= 2).all()  # every evaluated joint has >= 2 detections
    two, ten = curve
    assert two.triangulated == pytest.approx(1.0) and ten.triangulated == pytest.approx(1.0)
    assert two.ransac_share < 0.5 < ten.ransac_share
    assert two.mean_mm > ten.mean_mm
    both = present.all(1)
    assert np.isfinite(two.single_mean_mm) == bool((~both).any())
    assert np.isfinite(two.interacting_mean_mm) == bool(both.any())


def test_views_curve_drops_a_fallback_point_behind_a_camera(evaluated):
    """Two detections whose rays meet behind one of their cameras (the true joint reflected
    through camera a's centre projects to the same pixel in a): the weighted DLT finds that
    point, which is no label; it counts as not triangulated instead of a metres-off error."""
    from annotator.machine_labels.evaluation import views_curve
    from triangulation import in_front, project

    path, _, _, _ = evaluated
    with ProjectStore.open(path) as store:
        i = MACHINE[0]
        truth, _ = _truth(store, [i])
        capture = store.instant(i).capture
        cols = np.nonzero(store.camera_mask(capture))[0]
        rig = store.rig(capture)
        want = np.isfinite(truth[0]).all(-1)
        x = truth[0][want][0]
        a = 0
        centre = -rig.R[a].T @ rig.t[a]
        y = 2 * centre - x  # behind camera a, on the ray through x
        assert in_front(x, rig)[a] and not in_front(y, rig)[a]
        b = int(np.flatnonzero(in_front(y, rig))[0])
        uv_x, uv_y = project(x, rig), project(y, rig)
        assert np.allclose(uv_x[a], project(x + 0.5 * (centre - x), rig)[a], atol=1e-6)
        uv = np.full((1, len(store.camera_names), J, 2), np.nan)
        conf = np.zeros((1, len(store.camera_names), J))
        joint = int(np.flatnonzero(want)[0])
        uv[0, cols[a], joint] = uv_x[a]
        uv[0, cols[b], joint] = uv_y[b]
        conf[0, [cols[a], cols[b]], joint] = 1.0
        only = np.full_like(truth, np.nan)
        only[0, joint] = x
        (point,) = views_curve(store, np.array([i]), uv, conf, only, [2], repeats=3,
                               threshold_px=2.0)
    assert point.triangulated == 0.0 and np.isnan(point.mean_mm)


def test_qc_split_medians_share_and_recall():
    from annotator.machine_labels.evaluation import qc_split

    e = np.array([[1.0, 2.0, 30.0, np.nan], [3.0, 40.0, 50.0, 4.0]])
    flagged = np.array([[False, False, True, True], [False, True, False, False]])
    q = qc_split(e, flagged)
    assert q["joints"] == 7
    assert q["flagged_share"] == pytest.approx(2 / 7)  # the NaN joint's flag does not count
    assert q["flagged_median_mm"] == pytest.approx(35.0)
    assert q["unflagged_median_mm"] == pytest.approx(3.0)
    assert q["flagged_recall_20mm"] == pytest.approx(2 / 3)


def test_qc_reports_the_flag_split_and_the_selection_precision(evaluated):
    """No joint of the truth-made labels failed a check: nothing flagged; the selection
    rule's precision is the share of its kept joints whose known offset is within 5 mm."""
    from annotator.machine_labels.merge import read_detections
    from annotator.machine_labels.selection import select_machine_joints

    path, report, _, machine_off = evaluated
    q = report["qc"]
    assert q["flagged_share"] == 0 and q["flagged_median_mm"] is None
    assert q["unflagged_median_mm"] == pytest.approx(report["machine"]["median_mm"])
    with ProjectStore.open(path) as store:
        sel = select_machine_joints(store, read_detections(store.machine_dir))
    e = np.linalg.norm(machine_off, axis=-1)[[MACHINE.index(i) for i in sel.instants]]
    assert q["selected_joints"] == int(sel.kept.sum()) > 0
    assert q["selected_precision"] == pytest.approx(np.mean(e[sel.kept] <= 5.0))
    assert 0 < q["selected_precision"] < 1  # 3 mm offsets per axis: some near, some far
