"""The annotator's workflow in the session model (issue 24): which joint a click edits,
panel cameras that survive reopening, disagreeing clicks, honest progress, undo selection."""

from __future__ import annotations

import numpy as np
import pytest

from annotator import skeleton
from annotator.session import AnnotationSession
from annotator.session.edits import DISAGREE_PREFIX
from annotator.store import ProjectStore
from tests.annotator.test_session import gt_uv, visible_views


@pytest.fixture
def store(synth_copy):
    s = ProjectStore.open(synth_copy, mode="w")
    yield s
    s.close(save=False)


def _joint_seen_in(store, i: int, n: int, start: int = 0) -> int:
    """A joint (from ``start`` on) visible in at least ``n`` cameras whose successor is
    visible in ``n`` too (the auto-advance target)."""
    gt = store.ground_truth(i)
    counts = gt.visible.sum(0) * np.repeat(gt.hand_present, skeleton.JOINTS_PER_HAND)
    for j in range(start, skeleton.NUM_JOINTS - 1):
        if counts[j] >= n and counts[j + 1] >= n and j % skeleton.JOINTS_PER_HAND != 20:
            return j
    pytest.skip("no pair of well-seen neighbouring joints")


def test_third_view_click_goes_to_the_placed_joint_not_the_next(store):
    i = 0
    s = AnnotationSession(store, annotator="ana", instant=i)
    j = _joint_seen_in(store, i, 3)
    a, b, c = visible_views(store, i, j, 3)
    s.select_joint(j)
    r1 = s.place(a, gt_uv(store, i, a, j), pick_radius_px=6, advance=True)
    assert r1.joint == j and r1.advanced_to is None and s.joint == j
    r2 = s.place(b, gt_uv(store, i, b, j), pick_radius_px=6, advance=True)
    assert r2.advanced_to == j + 1 and s.joint == j + 1
    # The annotator clicks the same joint in a third view: it lands on j's drawn marker.
    r3 = s.place(c, gt_uv(store, i, c, j) + 0.7, pick_radius_px=6, advance=True)
    assert r3.joint == j and r3.selected_before == j + 1
    assert s.joint == j  # the selection follows the edited joint ...
    assert skeleton.JOINT_NAMES[j] in r3.message  # ... and the app is told why
    assert s.joint_state(j).n_views == 3
    assert s.joint_state(j + 1).n_views == 0  # the next joint was not touched


def test_without_pick_radius_or_off_marker_a_click_places_the_selected_joint(store):
    i = 0
    s = AnnotationSession(store, annotator="ana", instant=i)
    j = _joint_seen_in(store, i, 3)
    a, b, c = visible_views(store, i, j, 3)
    s.select_joint(j)
    s.place(a, gt_uv(store, i, a, j), advance=True)
    s.place(b, gt_uv(store, i, b, j), advance=True)
    assert s.joint == j + 1
    # pick_radius 0 (a Shift+click in the app): the selected joint, whatever the markers
    assert s.click_target(c, gt_uv(store, i, c, j), 0.0) == j + 1
    # far from every placed marker: the selected joint
    far = gt_uv(store, i, c, j) + 40.0
    assert s.click_target(c, far, 6.0) == j + 1
    # the selected joint's own marker wins over a placed neighbour's
    r = s.place(c, gt_uv(store, i, c, j + 1), pick_radius_px=6)
    assert r.joint in (j, j + 1)
    assert (r.joint == j) == (np.linalg.norm(
        gt_uv(store, i, c, j + 1) - s.reprojection(c)[j]) <= 6.0)


def test_views_are_saved_with_the_instant_and_restored_after_reopening(synth_copy):
    store = ProjectStore.open(synth_copy, mode="w")
    s = AnnotationSession(store, annotator="ana", instant=2)
    shown = s.views
    j = _joint_seen_in(store, 2, 2)
    a, b = visible_views(store, 2, j, 2)
    s.click(a, gt_uv(store, 2, a, j), joint=j)
    s.click(b, gt_uv(store, 2, b, j), joint=j)
    # the first edit froze the panels as they were shown (the estimate changed since)
    assert s.views == shown
    s.goto(4)
    other = next(cam for cam in s.cameras if cam not in s.views)
    s.set_view(3, other)
    chosen = s.views
    s.save()
    store.close()
    store = ProjectStore.open(synth_copy, mode="w")
    try:
        s2 = AnnotationSession(store, annotator="ana", instant=2)
        assert s2.views == shown
        s2.goto(4)
        assert s2.views == chosen and s2.views[3] == other
        # undo of a set_view is written back too
        s2.set_view(0, s2.views[5])
        s2.undo()
        assert s2.views == chosen and store.panel_views(4) == tuple(chosen)
        # the automatic choice again removes the saved cameras
        s2.choose_views()
        assert store.panel_views(4) is None
    finally:
        store.close(save=False)


def test_moving_on_keeps_the_cameras_that_still_see_the_hands(store):
    s = AnnotationSession(store, annotator="ana", instant=0)
    auto_next = None
    s.goto(1)
    auto_next = s.views
    s.goto(0)
    # choose cameras by hand at instant 0: a panel shows a camera the automatic choice
    # of instant 1 does not
    extra = next(cam for cam in s.cameras if cam not in auto_next and cam not in s.views)
    s.set_view(1, extra)
    chosen = s.views
    s.goto(1)
    kept = [k for k in range(len(chosen)) if s.views[k] == chosen[k]]
    assert len(kept) >= 4, (chosen, s.views)  # the same cameras, in the same panels
    assert s.views != auto_next
    assert len(set(s.views)) == len(s.views)


def test_a_disagreeing_click_is_kept_and_queued_for_review_at_once(store):
    i = 1
    s = AnnotationSession(store, annotator="ana", instant=i)
    j = _joint_seen_in(store, i, 3)
    a, b, c = visible_views(store, i, j, 3)
    s.select_joint(j)
    s.place(a, gt_uv(store, i, a, j), advance=True)
    assert s.review_queue() == []
    wrong = gt_uv(store, i, b, j) + np.array([60.0, -40.0])
    r = s.place(b, wrong, advance=True)
    assert r.disagreement is not None and r.disagreement.startswith(DISAGREE_PREFIX)
    assert r.advanced_to is None and s.joint == j  # auto-advance waits for an answer
    assert s.review_queue() == [i]
    assert s.review_reasons(i) == [(j, r.disagreement)]
    st = s.joint_state(j)
    assert st.flagged and st.flag_reason == r.disagreement
    # the flag is stored: another session sees the instant in its queue
    s.save()
    assert [int(k) for k in store.flagged_instants()] == [i]
    # undo takes the click and its flag back
    s.undo()
    assert s.review_queue() == [] and not s.joint_state(j).flagged
    s.redo()
    assert s.review_queue() == [i]
    # fixing the click clears the flag
    s.click(b, gt_uv(store, i, b, j), joint=j)
    assert s.review_queue() == [] and not s.joint_state(j).flagged
    # a flag the session did not set (the machine stage's) is left alone
    store.set_flag(i, j + 1, "machine: low score")
    s.reload()
    s.click(a, gt_uv(store, i, a, j + 1), joint=j + 1)
    s.click(c, gt_uv(store, i, c, j + 1), joint=j + 1)
    assert s.review_reasons(i) == [(j + 1, "machine: low score")]


def test_progress_counts_complete_instants_and_occluded_joints(store):
    s = AnnotationSession(store, annotator="ana", instant=0)
    F = store.num_instants
    assert s.progress() == (0, F) and s.joint_progress() == (0, 42 * F)
    s.set_hand_absent("left")
    assert s.joint_progress() == (21, 42 * F) and s.progress() == (0, F)
    # a right-hand joint marked occluded in all panels but one counts as done
    j = skeleton.hand_joints("right")[0]
    for cam in s.views[:5]:
        s.set_occluded(cam, int(j))
    assert s.joints_done()[j] and s.joint_progress() == (22, 42 * F)
    s.set_occluded(s.views[0], int(j), occluded=False)
    assert not s.joints_done()[j] and s.joint_progress() == (21, 42 * F)
    s.set_hand_absent("right")
    assert s.progress() == (1, F) and s.joint_progress() == (42, 42 * F)
    s.save()
    # the same from another session over the saved project
    s2 = AnnotationSession(store, annotator="bo", instant=3)
    assert s2.progress() == (1, F)
    assert s2.next_unlabelled() == 4
    s2.goto(F - 1)
    assert s2.next_unlabelled() == 1  # wraps, skipping the complete instant 0


def test_undo_and_redo_select_the_joint_they_change(store):
    i = 1
    s = AnnotationSession(store, annotator="ana", instant=i)
    j = _joint_seen_in(store, i, 2)
    a, b = visible_views(store, i, j, 2)
    s.click(a, gt_uv(store, i, a, j), joint=j)
    s.click(b, gt_uv(store, i, b, j), joint=j)
    s.select_joint(0 if j != 0 else 1)
    events = []
    s.subscribe(events.append)
    s.undo()
    assert s.joint == j and any(e.kind == "joint" and e.joint == j for e in events)
    s.select_joint(0 if j != 0 else 1)
    s.redo()
    assert s.joint == j


def test_clear_joint_removes_it_from_every_view(store):
    i = 1
    s = AnnotationSession(store, annotator="ana", instant=i)
    j = _joint_seen_in(store, i, 3)
    cams = visible_views(store, i, j, 3)
    for cam in cams:
        s.click(cam, gt_uv(store, i, cam, j), joint=j)
    s.set_occluded(s.cameras[-1], j)
    s.clear_joint(j)
    st = s.joint_state(j)
    assert st.n_views == 0 and st.status == "none" and not st.occluded_in
    assert not np.isfinite(store.labels(i).clicks_uv_px[:, j]).any()
    s.undo()
    assert s.joint_state(j).n_views == 3


def test_preview_click_matches_the_click_and_changes_nothing(store):
    i = 1
    s = AnnotationSession(store, annotator="ana", instant=i)
    j = _joint_seen_in(store, i, 2)
    a, b = visible_views(store, i, j, 2)
    s.click(a, gt_uv(store, i, a, j), joint=j)
    assert np.isnan(s.preview_click(a, gt_uv(store, i, a, j) + 3, j)).all()  # one view
    s.click(b, gt_uv(store, i, b, j), joint=j)
    before = s.joint_point(j)
    moved = gt_uv(store, i, b, j) + np.array([4.0, -3.0])
    uv = s.preview_click(b, moved, j)
    assert np.allclose(s.joint_point(j), before)
    np.testing.assert_allclose(s.clicks(b)[j], gt_uv(store, i, b, j))
    s.click(b, moved, joint=j)
    np.testing.assert_allclose(uv, s._work.uv[j], atol=1e-6)


def test_click_counts_and_polite_messages(store):
    i = 1
    s = AnnotationSession(store, annotator="ana", instant=i)
    j = _joint_seen_in(store, i, 2)
    a, b = visible_views(store, i, j, 2)
    assert s.click_counts() == {}
    s.click(a, gt_uv(store, i, a, j), joint=j)
    s.click(b, gt_uv(store, i, b, j), joint=j)
    assert s.click_counts() == {a: 1, b: 1}
    w, h = s.rig[a].size
    with pytest.raises(ValueError, match=rf"outside the {w}x{h} image of camera {a}$"):
        s.click(a, (w + 50.0, 1.0), joint=j)


def test_views_at_predicts_the_views_of_another_instant_without_going_there(store):
    s = AnnotationSession(store, annotator="ana", instant=0)
    events = []
    s.subscribe(events.append)
    predicted = s.views_at(1)
    assert s.instant == 0 and events == []
    s.goto(1)
    assert s.views == predicted
