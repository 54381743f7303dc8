"""The per-subject bone-length check on a real project: statistics, findings, review flags,
and the injected-error evaluation (simulated annotator, 1 px click noise)."""

from __future__ import annotations

import numpy as np
import pytest

from annotator import skeleton
from annotator.session import AnnotationSession
from annotator.session.simulate import simulate_annotator
from annotator.store import JOINT_SOURCES, ProjectStore
from annotator.team import bone_check as bc
from tests._support.synth_project import copy_project, synth_project

J = skeleton.NUM_JOINTS
#: 48 instants (24 per subject), 12 cameras, small images: renders and labels in ~10 s.
_CONFIG = {"cameras": 12, "instants": 48, "subjects": 2, "seed": 3, "width": 256,
           "height": 168}


@pytest.fixture(scope="module")
def labelled_master(tmp_path_factory):
    """A synthetic capture every instant of which the simulated annotator labelled."""
    root = tmp_path_factory.mktemp("bones")
    proj = copy_project(synth_project(root, **_CONFIG), root / "labelled")
    with ProjectStore.open(proj, mode="w") as store:
        simulate_annotator(store, fraction=1.0, noise_px=1.0, seed=0)
    return proj


@pytest.fixture
def labelled(labelled_master, tmp_path):
    return copy_project(labelled_master, tmp_path / "proj")


def _inject(store, rate, mm, seed):
    """Move ``rate`` of the human joints by ``mm`` (random 3D directions, pending edits);
    (instant * J + joint) keys of the moved and the untouched joints."""
    xyz, src = store.joints_3d_all()
    ok = (src == JOINT_SOURCES.index("human")) & np.isfinite(xyz[..., 0])
    keys = np.flatnonzero(ok.reshape(-1))
    rng = np.random.default_rng(seed)
    moved = np.sort(rng.choice(keys, max(1, round(rate * keys.size)), replace=False))
    d = rng.normal(size=(moved.size, 3))
    d *= mm / np.linalg.norm(d, axis=1, keepdims=True)
    for k, step in zip(moved.tolist(), d, strict=True):
        new = np.full((J, 3), np.nan)
        new[k % J] = xyz[k // J, k % J] + step
        store.set_joints_3d(k // J, new, source="human", annotator="injected")
    return moved, np.setdiff1d(keys, moved)


def test_stats_per_subject(labelled):
    with ProjectStore.open(labelled) as store:
        stats = bc.subject_bone_stats(store)
        xyz, _ = store.joints_3d_all()
        subject = store.instant_attr("subject")
    assert stats.subjects.tolist() == [0, 1]
    assert stats.median_mm.shape == stats.threshold_mm.shape == (2, len(bc.BONE_NAMES)) == (2, 58)
    judged = stats.count >= bc.MIN_COUNT
    assert judged.mean() > 0.9
    assert np.isfinite(stats.threshold_mm[judged]).all()
    assert np.isnan(stats.threshold_mm[~judged]).all()
    lengths = bc.bone_lengths(xyz[subject == 1])
    np.testing.assert_allclose(stats.median_mm[1], np.nanmedian(lengths, axis=0))
    # the threshold rule: k robust sigmas, never under the floors
    thr = stats.threshold_mm[judged]
    assert (thr >= bc.FLOOR_MM).all()
    assert (thr >= bc.REL_FLOOR * np.abs(stats.median_mm[judged]) - 1e-9).all()
    assert (thr >= bc.K_SIGMA * stats.spread_mm[judged] - 1e-9).all()
    assert stats.of_subject(1) == 1 and stats.of_subject(7) is None


@pytest.mark.parametrize(("mm", "least"), [(15.0, 0.65), (30.0, 0.85)])
def test_injected_errors_are_found(labelled, mm, least):
    """2 % of the labelled joints moved by ``mm``: detection and false flags, 3 seeds.

    The issue asks for >= 90 % of 15 mm moves found with <= 5 % false flags;
    bench/bone_check.py measures it on 120-instant, 20-camera, 512 px captures (90.7-93.2 %
    found, 1.9-3.0 % false flags on five captures, docs/bone_lengths.md). On this small
    capture (256 px images, 12 cameras, 1 px clicks) the label noise puts the thresholds at
    4-9 mm: 72 % / 92 % found with 5.0 / 5.3 % false flags (without the finger planes 68 % /
    89 % with 4.4 / 4.8 %); the floors guard against regressions.
    """
    detected, false = [], []
    with ProjectStore.open(labelled, mode="w") as store:
        for seed in range(3):
            moved, untouched = _inject(store, 0.02, mm, seed)
            found = bc.check_bones(store)
            flagged = found.instant * J + found.joint
            detected.append(np.isin(moved, flagged).mean())
            false.append(np.isin(untouched, flagged).mean())
            store.discard_changes()
    print(f"{mm} mm: detected {np.mean(detected):.3f}, false flags {np.mean(false):.4f}")
    assert np.mean(detected) >= least, detected
    assert np.mean(false) <= 0.06, false


def test_one_endpoint_is_blamed(labelled):
    """A mid-finger joint moved along its bone: it is flagged, its neighbours are not."""
    j = skeleton.joint_index("r_index2")
    with ProjectStore.open(labelled, mode="w") as store:
        i = int(store.labelled_instants()[0])
        lab = store.labels(i)
        x = lab.joints_world_mm
        assert np.isfinite(x[[j - 1, j, j + 1]]).all()
        new = np.full((J, 3), np.nan)
        new[j] = x[j] + 25.0 * (x[j] - x[j + 1]) / np.linalg.norm(x[j] - x[j + 1])
        store.set_joints_3d(i, new, source="human", annotator="injected")
        found = bc.check_bones(store, instants=[i])
        here = found.joint[found.instant == i].tolist()
    assert j in here
    assert j - 1 not in here and j + 1 not in here
    row = found.joint.tolist().index(j)
    assert bc.BONE_NAMES[found.bone[row]] in ("r_index3–r_index2", "r_index2–r_index1")


def test_finger_planes_of_the_ground_truth_are_flat(labelled_master):
    """The synthetic hand's PIP and DIP (the thumb's MCP and IP) are hinges about one axis:
    every measured tip offset of the ground truth is ~0, and most fingers are measured."""
    with ProjectStore.open(labelled_master) as store:
        gt = np.stack([store.ground_truth(i).joints_world_mm for i in range(store.num_instants)])
    off = bc.finger_plane_offsets(gt)
    assert off.shape == (store.num_instants, bc.NUM_FINGER_PLANES)
    present = np.isfinite(gt[:, bc.FINGER_PLANES[:, 3], 0])
    measured = np.isfinite(off)
    assert measured[present].mean() > 0.8
    assert np.nanpercentile(np.abs(off), 99) < 2.0


def test_a_tip_moved_out_of_its_finger_plane_is_flagged(labelled):
    """A tip turned about its DIP out of the finger's plane by twice the plane's threshold,
    the bone's length kept: no length tells, the finger plane finds it, and only the tip
    is blamed."""
    with ProjectStore.open(labelled, mode="w") as store:
        stats = bc.subject_bone_stats(store)
        subject = store.instant_attr("subject")
        for i in store.labelled_instants().tolist():
            x = store.labels(i).joints_world_mm
            thr = stats.threshold_mm[stats.of_subject(subject[i]), -bc.NUM_FINGER_PLANES:]
            ok = np.isfinite(bc.finger_plane_offsets(x)) & np.isfinite(thr)
            ok[[0, 5]] = False  # not a thumb: any finger
            before = set(bc.check_bones(store, stats, instants=[i]).joint.tolist())
            ok &= [not set(c.tolist()) & before for c in bc.FINGER_PLANES]  # none flagged
            if ok.any():
                plane = int(np.flatnonzero(ok)[0])
                break
        else:
            pytest.fail("no labelled instant with a judged, unflagged finger plane")
        chain = bc.FINGER_PLANES[plane]  # knuckle .. tip
        tip = int(chain[3])
        bone = x[tip] - x[chain[2]]
        length = np.linalg.norm(bone)
        side = np.cross(bone, np.cross(bone, x[chain[1]] - x[chain[0]]))  # in the plane
        side = np.cross(bone, side)  # across the plane
        side /= np.linalg.norm(side)
        turn = np.arcsin(min(0.9, 2.0 * thr[plane] / length))
        new = np.full((J, 3), np.nan)
        new[tip] = x[chain[2]] + np.cos(turn) * bone + np.sin(turn) * length * side
        store.set_joints_3d(i, new, source="human", annotator="injected")
        found = bc.check_bones(store, stats, instants=[i])
    assert np.linalg.norm(new[tip] - x[chain[2]]) == pytest.approx(length)
    here = found.joint[found.instant == i].tolist()
    assert set(here) - before == {tip}
    name = skeleton.JOINT_NAMES[tip]
    assert bc.BONE_NAMES[found.bone[here.index(tip)]] == f"{name} off plane"


def test_flags_reach_the_review_queue_and_go_away(labelled):
    j = skeleton.joint_index("l_middle3")
    with ProjectStore.open(labelled, mode="w") as store:
        i = int(store.labelled_instants()[1])
        store.set_flag(i, skeleton.joint_index("l_wrist"), "clicks disagree: kept")
        saved = store.labels(i).joints_world_mm.copy()
        assert np.isfinite(saved[[j - 1, j, j + 1]]).all()
        new = np.full((J, 3), np.nan)
        new[j] = saved[j] + [30.0, -20.0, 10.0]
        store.set_joints_3d(i, new, source="human", annotator="slip")
        stats = bc.subject_bone_stats(store)
        found = bc.check_bones(store, stats)
        added, removed = bc.apply_bone_flags(store, found)
        assert added == len(found) and removed == 0
        assert bc.apply_bone_flags(store, found) == (0, 0)  # idempotent
        store.save()

        session = AnnotationSession(store, annotator="reviewer", instant=i)
        assert i in session.review_queue()
        reasons = dict(session.review_reasons(i))
        assert reasons[j].startswith(bc.BONE_FLAG_PREFIX)
        assert "l_middle" in reasons[j] and "subject" in reasons[j] and "±" in reasons[j]
        assert reasons[skeleton.joint_index("l_wrist")] == "clicks disagree: kept"

        # the joint put back: its bone flag goes, the other check's flag stays
        back = np.full((J, 3), np.nan)
        back[j] = saved[j]
        store.set_joints_3d(i, back, source="human", annotator="slip")
        found = bc.check_bones(store, stats, instants=[i])
        added, removed = bc.apply_bone_flags(store, found, instants=[i])
        assert removed >= 1
        flags = dict(store.labels(i).flags)
        assert j not in flags
        assert flags[skeleton.joint_index("l_wrist")] == "clicks disagree: kept"


def test_chart_rows_and_share(labelled):
    with ProjectStore.open(labelled) as store:
        stats = bc.subject_bone_stats(store)
        i = int(store.labelled_instants()[0])
        x = store.labels(i).joints_world_mm.copy()
        sub = int(store.instant_attr("subject")[i])
    x[4] += [0.0, 0.0, 40.0]  # r_index4
    rows = bc.instant_bones(stats, sub, x)
    assert rows.length_mm.shape == (58,) and rows.names[4] == "r_index4–r_index3"
    assert rows.names[40] == "r_index1–r_middle1"
    assert rows.names[49] == "r_index4 off plane"
    assert rows.deviant[4]
    judged = np.isfinite(rows.low_mm)
    assert judged[:-bc.NUM_FINGER_PLANES].mean() > 0.9  # planes: straight thumbs unmeasured
    assert judged[-bc.NUM_FINGER_PLANES:].mean() >= 0.5
    assert (rows.low_mm[judged] < rows.median_mm[judged]).all()
    assert (rows.high_mm[judged] > rows.median_mm[judged]).all()
    nothing = bc.instant_bones(None, sub, x)
    assert np.isnan(nothing.median_mm).all() and not nothing.deviant.any()

    found = bc.BoneFindings(*(np.array(v, np.int64) for v in ([3, 3], [4, 9], [4, 8], [0, 0])),
                            *(np.zeros(2) for _ in range(3)))
    assert bc.joint_flag_share(found, [3, 3, 3, 5], [4, 5, 9, 4]) == 0.5
    assert np.isnan(bc.joint_flag_share(found, [], []))


def test_bad_input(labelled):
    with ProjectStore.open(labelled) as store:
        with pytest.raises(ValueError, match="sources"):
            bc.subject_bone_stats(store, sources=("robot",))
        with pytest.raises(ValueError, match="instants"):
            bc.check_bones(store, instants=[store.num_instants])
    with pytest.raises(ValueError, match="shape"):
        bc.instant_bones(None, 0, np.zeros((21, 3)))
    with pytest.raises(ValueError, match="length"):
        bc.joint_flag_share(bc.BoneFindings(*(np.zeros(0, np.int64),) * 4,
                                            *(np.zeros(0),) * 3), [1, 2], [3])
