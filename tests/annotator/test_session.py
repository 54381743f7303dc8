"""AnnotationSession without a window: placing, triangulating, lock, occluded, hand absent,
proposals, review queue, navigation, events and bad input, on a real synthetic project."""

from __future__ import annotations

import numpy as np
import pytest

from annotator import skeleton
from annotator.session import AnnotationSession
from annotator.store import ProjectStore
from annotator.store.store_labels import VIEW_LOCKED, VIEW_OCCLUDED


@pytest.fixture
def store(synth_copy):
    s = ProjectStore.open(synth_copy, mode="w")
    yield s
    s.close(save=False)


def visible_views(store, i: int, j: int, n: int = 2) -> list[str]:
    """``n`` cameras of instant i's rig where joint j is visible (ground truth)."""
    gt = store.ground_truth(i)
    rig = store.rig(store.instant(i).capture)
    cams = [c for c in rig.names if gt.visible[store.camera_index(c), j]]
    if len(cams) < n:
        pytest.skip(f"joint {j} visible in {len(cams)} < {n} cameras")
    return cams[:n]


def pick_joint(store, i: int, n: int) -> int:
    """A joint of a present hand of instant i that is visible in at least n cameras."""
    gt = store.ground_truth(i)
    counts = gt.visible.sum(0) * np.repeat(gt.hand_present, skeleton.JOINTS_PER_HAND)
    j = int(np.argmax(counts >= n))
    assert counts[j] >= n
    return j


def gt_uv(store, i: int, cam: str, j: int) -> np.ndarray:
    return store.ground_truth(i).uv_px[store.camera_index(cam), j]


def segment_distance(poly: np.ndarray, p: np.ndarray) -> float:
    """Smallest distance from point p to the polyline poly (N, 2)."""
    poly = poly[np.isfinite(poly).all(1)]
    a, b = poly[:-1], poly[1:]
    ab = b - a
    t = np.clip(np.einsum("ni,ni->n", p - a, ab) / np.einsum("ni,ni->n", ab, ab), 0, 1)
    return float(np.min(np.linalg.norm(a + t[:, None] * ab - p, axis=1)))


def test_two_exact_clicks_triangulate_within_1mm_and_reproject_everywhere(store):
    i = 1
    j = pick_joint(store, i, 3)
    a, b, c = visible_views(store, i, j, 3)
    s = AnnotationSession(store, annotator="ana", instant=i)
    s.select_joint(j)
    s.click(a, gt_uv(store, i, a, j))
    st = s.joint_state(j)
    assert (st.status, st.n_views) == ("one_view", 1)
    assert np.isnan(s.joint_point(j)).all() and np.isnan(st.mean_error_px)
    # the single click's epipolar curve passes through the joint's true position elsewhere
    curve = s.epipolar_curve(c)
    assert curve.shape[1] == 2 and segment_distance(curve, gt_uv(store, i, c, j)) < 0.5
    assert s.epipolar_curve(a) is None  # not in the clicked camera itself
    s.click(b, gt_uv(store, i, b, j))
    gt = store.ground_truth(i)
    assert np.linalg.norm(s.joint_point(j) - gt.joints_world_mm[j]) < 1.0
    st = s.joint_state(j)
    assert (st.status, st.n_views, st.source) == ("triangulated", 2, "human")
    assert set(st.reproj_error_px) == {a, b} and st.mean_error_px < 0.01
    assert s.epipolar_curve(c) is None  # two clicks: no curve
    # reprojected into every camera of the rig, not only the six shown
    for cam in s.cameras:
        k = store.camera_index(cam)
        if gt.visible[k, j]:
            assert np.linalg.norm(s.reprojection(cam)[j] - gt.uv_px[k, j]) < 0.5
    # written through: clicks on the project camera axis, 3D with provenance
    lab = store.labels(i)
    assert np.allclose(lab.clicks_uv_px[store.camera_index(a), j], gt_uv(store, i, a, j))
    assert np.allclose(lab.joints_world_mm[j], s.joint_point(j))
    assert (lab.joint_source[j], lab.annotator[j]) == ("human", "ana")
    h = skeleton.HANDS.index(skeleton.HAND_OF_JOINT[j])
    assert lab.hand_present[h] == 1  # a labelled joint means the hand is there


def test_mean_error_is_over_clicked_views_and_large_errors_flag(store):
    i = 2
    j = pick_joint(store, i, 3)
    a, b, c = visible_views(store, i, j, 3)
    s = AnnotationSession(store, annotator="ana", instant=i)
    s.click(a, gt_uv(store, i, a, j), joint=j)
    s.click(b, gt_uv(store, i, b, j), joint=j)
    s.click(c, gt_uv(store, i, c, j) + [25.0, 0.0], joint=j)
    st = s.joint_state(j)
    errs = np.array(list(st.reproj_error_px.values()))
    assert len(errs) == 3 and st.mean_error_px == pytest.approx(errs.mean())
    assert st.mean_error_px > 2.0  # the offset click pulls the point: errors are real
    assert st.flagged and errs.max() > s.error_flag_px
    s.click(c, gt_uv(store, i, c, j), joint=j)  # drag it back onto the joint
    assert not s.joint_state(j).flagged and s.joint_state(j).mean_error_px < 0.01


def test_lock_forces_the_point_through_the_locked_click(store):
    i = 0
    j = pick_joint(store, i, 3)
    a, b, c = visible_views(store, i, j, 3)
    s = AnnotationSession(store, annotator="ana", instant=i)
    s.select_joint(j)
    s.click(a, gt_uv(store, i, a, j))
    s.click(b, gt_uv(store, i, b, j))
    s.click(c, gt_uv(store, i, c, j) + [12.0, -9.0])
    free = s.joint_state(j).reproj_error_px[c]
    s.lock_view(c)
    st = s.joint_state(j)
    assert st.locked_in == (c,)
    assert st.reproj_error_px[c] < 0.05 * free  # forced through the locked ray
    assert store.view_states(i)[store.camera_index(c), j] == VIEW_LOCKED
    s.lock_view(c, locked=False)
    assert s.joint_state(j).reproj_error_px[c] == pytest.approx(free, rel=1e-6)
    assert store.view_states(i)[store.camera_index(c), j] == 0


def test_occluded_removes_click_reprojection_and_3d(store):
    i = 3
    j = pick_joint(store, i, 2)
    a, b = visible_views(store, i, j, 2)
    s = AnnotationSession(store, annotator="ana", instant=i)
    s.click(a, gt_uv(store, i, a, j), joint=j)
    s.click(b, gt_uv(store, i, b, j), joint=j)
    assert np.isfinite(s.reprojection(b)[j]).all()
    s.set_occluded(b, j)
    st = s.joint_state(j)
    assert st.occluded_in == (b,) and st.n_views == 1 and st.status == "one_view"
    assert np.isnan(s.clicks(b)[j]).all() and np.isnan(s.reprojection(b)[j]).all()
    assert np.isnan(s.joint_point(j)).all()
    lab = store.labels(i)
    assert lab.joint_source[j] == "" and np.isnan(lab.joints_world_mm[j]).all()
    assert store.view_states(i)[store.camera_index(b), j] == VIEW_OCCLUDED
    s.click(b, gt_uv(store, i, b, j), joint=j)  # clicking there again clears the mark
    assert s.joint_state(j).occluded_in == () and s.joint_state(j).status == "triangulated"


def test_hand_absent(store):
    i = 1
    s = AnnotationSession(store, annotator="ana", instant=i)
    left = skeleton.hand_joints("left")
    j = int(left[3])
    cams = s.cameras
    uv = store.rig(store.instant(i).capture)[cams[0]].size
    s.click(cams[0], (uv[0] / 2, uv[1] / 2), joint=j)
    s.set_hand_absent("left")
    assert all(s.joint_state(k).status == "hand_absent" for k in left)
    assert store.labels(i).hand_present.tolist() == [-1, 0]
    assert np.isnan(s.clicks(cams[0])[j]).all()  # the hand's clicks went with it
    with pytest.raises(ValueError, match="absent"):
        s.click(cams[1], (10.0, 10.0), joint=j)
    s.select_joint(skeleton.RIGHT_ROOT)
    s.next_joint()  # the wrist is the right hand's last joint: skips all of the left hand
    assert s.joint == 0
    s.next_joint(-1)
    assert s.joint == skeleton.RIGHT_ROOT
    s.next_joint(3)
    assert s.joint == 2
    s.set_hand_absent(1, absent=False)
    assert store.labels(i).hand_present.tolist() == [-1, 1]
    assert s.joint_state(j).status == "none"


def test_proposals_accept_and_come_back(store):
    i = 4
    gt = store.ground_truth(i)
    machine = gt.joints_world_mm + 3.0  # a machine guess, 5 mm off
    store.set_joints_3d(i, machine, source="machine", annotator="detector")
    j = pick_joint(store, i, 2)
    s = AnnotationSession(store, annotator="ana", instant=i)
    assert np.allclose(s.proposals(), machine)
    assert s.joint_state(j).status == "proposal" and np.isnan(s.joint_point(j)).all()
    cam = s.views[0]
    assert np.isfinite(s.reprojection(cam)).any()  # proposals are drawn
    s.accept_proposal(j)
    assert s.joint_state(j).status == "triangulated"
    assert np.allclose(s.joint_point(j), machine[j])
    assert store.labels(i).joint_source[j] == "human"
    assert s.undo() and s.joint_state(j).status == "proposal"
    assert store.labels(i).joint_source[j] == "machine"
    # clicks replace the proposal; removing them brings it back
    k = pick_joint(store, i, 2)
    a, b = visible_views(store, i, k, 2)
    s.click(a, gt_uv(store, i, a, k), joint=k)
    s.click(b, gt_uv(store, i, b, k), joint=k)
    assert np.linalg.norm(s.joint_point(k) - gt.joints_world_mm[k]) < 1.0
    s.remove_click(b, joint=k)
    assert s.joint_state(k).status == "one_view"
    assert store.labels(i).joint_source[k] == "machine"
    assert np.allclose(store.labels(i).joints_world_mm[k], machine[k])
    s.accept_proposal()  # all remaining proposals
    lab = store.labels(i)
    assert (lab.joint_source == "human").sum() == np.isfinite(machine[:, 0]).sum()
    with pytest.raises(ValueError, match="no machine proposal"):
        s.accept_proposal(k)


def test_review_queue_navigation_and_progress(store):
    store.set_flag(3, 5, "reprojection error 9 px")
    store.set_flag(1, None, "check")
    s = AnnotationSession(store, annotator="ana")
    assert s.review_queue() == [1, 3]
    s.goto(3)
    assert s.joint_state(5).flagged and not s.joint_state(6).flagged
    assert s.progress() == (0, store.num_instants)
    j = pick_joint(store, 3, 2)
    a, b = visible_views(store, 3, j, 2)
    s.click(a, gt_uv(store, 3, a, j), joint=j)
    s.click(b, gt_uv(store, 3, b, j), joint=j)
    # one joint of 42 in 3D: the instant is started, not labelled
    assert s.progress() == (0, store.num_instants)
    assert s.joint_progress() == (1, 42 * store.num_instants)
    s.goto(2)
    assert s.next_unlabelled() == 3 and s.instant == 3
    other = 1 - skeleton.HANDS.index(skeleton.HAND_OF_JOINT[j])
    s.set_hand_absent(other)
    assert s.progress() == (0, store.num_instants)
    assert s.joint_progress() == (22, 42 * store.num_instants)
    assert s.joints_done().sum() == 22
    s.set_hand_absent(1 - other)  # both hands absent: every joint is decided
    assert s.progress() == (1, store.num_instants)
    s.goto(2)
    assert s.next_unlabelled() == 4 and s.instant == 4
    s.goto(2)
    s.step_instant(1)
    assert s.instant == 4 - 1
    s.step_instant(-100)
    assert s.instant == 0
    s.step_instant(+100)
    assert s.instant == store.num_instants - 1


def test_views_override_and_auto(store):
    s = AnnotationSession(store, annotator="ana")
    views = s.views
    assert len(views) == 6 and len(set(views)) == 6 and set(views) <= set(s.cameras)
    other = next(c for c in s.cameras if c not in views)
    s.set_view(2, other)
    assert s.views[2] == other and s.views[:2] == views[:2]
    s.set_view(0, s.views[1])  # a camera already shown swaps places
    assert s.views[:2] == [views[1], views[0]]
    s.goto(1)
    s.goto(0)
    assert s.views[2] == other  # overrides stay with their instant
    s.choose_views()
    assert s.views == views
    with pytest.raises(ValueError, match="panel"):
        s.set_view(6, other)
    with pytest.raises(ValueError, match="unknown camera"):
        s.set_view(0, "no-such-camera")


def test_events(store):
    s = AnnotationSession(store, annotator="ana")
    events = []
    unsubscribe = s.subscribe(events.append)
    j = pick_joint(store, 0, 2)
    a, _ = visible_views(store, 0, j, 2)
    s.select_joint(j)
    s.click(a, gt_uv(store, 0, a, j))
    s.save()
    s.goto(1)
    kinds = [e.kind for e in events]
    assert kinds == ["joint", "labels", "dirty", "saved", "dirty", "instant", "views"]
    assert events[1].joint == j and events[1].camera == a and events[1].instant == 0
    assert events[-1].instant == 1
    unsubscribe()
    s.goto(2)
    assert len(events) == 7


def test_bad_input_loses_nothing(store):
    j = pick_joint(store, 0, 2)
    a, b = visible_views(store, 0, j, 2)
    s = AnnotationSession(store, annotator="ana")
    s.click(a, gt_uv(store, 0, a, j), joint=j)
    s.click(b, gt_uv(store, 0, b, j), joint=j)
    before = store.labels(0)
    point = s.joint_point(j)
    w, h = store.rig(store.instant(0).capture)[a].size
    with pytest.raises(ValueError, match=r"outside the .* image of camera"):
        s.click(a, (w + 5.0, 10.0), joint=j)
    with pytest.raises(ValueError, match="unknown camera"):
        s.click("nope", (1.0, 1.0), joint=j)
    with pytest.raises(ValueError, match="joint"):
        s.click(a, (1.0, 1.0), joint=42)
    with pytest.raises(ValueError, match="finite"):
        s.click(a, (np.nan, 1.0), joint=j)
    with pytest.raises(ValueError, match="instant"):
        s.goto(store.num_instants)
    after = store.labels(0)
    assert np.array_equal(before.clicks_uv_px, after.clicks_uv_px, equal_nan=True)
    assert np.array_equal(point, s.joint_point(j))
    assert s.history.can_undo and len(s.history._undo) == 2


def test_read_only_store_browses_but_refuses_edits(synth_copy):
    with ProjectStore.open(synth_copy, mode="r") as ro:
        s = AnnotationSession(ro, annotator="ana")
        assert s.read_only and len(s.views) == 6
        with pytest.raises(ValueError, match="read-only"):
            s.click(s.views[0], (5.0, 5.0))
        with pytest.raises(ValueError, match="read-only"):
            s.set_hand_absent("left")
        other = next(c for c in s.cameras if c not in s.views)
        s.set_view(0, other)  # browsing other cameras is no edit of the project
        assert s.views[0] == other and s.undo() and s.views[0] != other
        assert not s.maybe_autosave(now=1e9)


def test_reload_sees_what_another_writer_put_in_the_store(store):
    s = AnnotationSession(store, annotator="ana", instant=5)
    other = next(c for c in s.cameras if c not in s.views)
    s.set_view(0, other)
    gt = store.ground_truth(5)
    store.set_joints_3d(5, gt.joints_world_mm, source="machine", annotator="merge")
    assert np.isnan(s.proposals()).all()  # the session's working copy predates it
    s.reload()
    assert np.allclose(s.proposals(), gt.joints_world_mm, equal_nan=True)
    assert s.views[0] == other  # panel overrides survive
