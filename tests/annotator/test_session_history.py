"""Undo/redo of every edit kind, autosave timing with an injected clock, save + reopen."""

from __future__ import annotations

import numpy as np
import pytest

from annotator import skeleton
from annotator.session import AnnotationSession
from annotator.store import ProjectStore


def fingerprint(session: AnnotationSession) -> dict:
    """Everything an edit may change: the store's labels of the instant and the panels."""
    store, i = session.store, session.instant
    lab = store.labels(i)
    return {
        "instant": i,
        "clicks": lab.clicks_uv_px.copy(),
        "xyz": lab.joints_world_mm.copy(),
        "source": lab.joint_source.copy(),
        "hands": lab.hand_present.copy(),
        "states": store.view_states(i).copy(),
        "views": tuple(session.views),
        "model_clicks": np.stack([session.clicks(c) for c in session.cameras]),
        "model_xyz": np.stack([session.joint_point(j) for j in range(skeleton.NUM_JOINTS)]),
    }


def same(a: dict, b: dict) -> bool:
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, np.ndarray):
            if x.dtype.kind == "f":
                if not np.array_equal(x, y, equal_nan=True):
                    return False
            elif not np.array_equal(x, y):
                return False
        elif x != y:
            return False
    return True


def _views_for(store, i, j, n):
    gt = store.ground_truth(i)
    rig = store.rig(store.instant(i).capture)
    return [c for c in rig.names if gt.visible[store.camera_index(c), j]][:n]


def test_undo_redo_every_edit_kind(synth_copy):
    store = ProjectStore.open(synth_copy, mode="w")
    i = 2
    gt = store.ground_truth(i)
    store.set_joints_3d(i, gt.joints_world_mm + 2.0, source="machine", annotator="det")
    s = AnnotationSession(store, annotator="ana", instant=i)
    counts = gt.visible.sum(0) * np.repeat(gt.hand_present, skeleton.JOINTS_PER_HAND)
    j = int(np.argmax(counts >= 3))
    a, b, c = _views_for(store, i, j, 3)
    uv = {cam: gt.uv_px[store.camera_index(cam), j] for cam in (a, b, c)}
    other_hand = 1 - skeleton.HANDS.index(skeleton.HAND_OF_JOINT[j])
    proposal_joint = next(
        k for k in range(skeleton.NUM_JOINTS)
        if k != j and np.isfinite(gt.joints_world_mm[k, 0])
        and skeleton.HANDS.index(skeleton.HAND_OF_JOINT[k]) != other_hand
    )
    spare = next(cam for cam in s.cameras if cam not in s.views)
    edits = [
        ("click", lambda: s.click(a, uv[a], joint=j)),
        ("second click triangulates", lambda: s.click(b, uv[b], joint=j)),
        ("third click", lambda: s.click(c, uv[c] + [4.0, 0.0], joint=j)),
        ("drag", lambda: s.click(c, uv[c] + [1.0, 1.0], joint=j)),
        ("lock", lambda: s.lock_view(c, joint=j)),
        ("occluded", lambda: s.set_occluded(b, j)),
        ("remove click", lambda: s.remove_click(c, joint=j)),
        ("clear joint", lambda: s.clear_joint(j)),
        ("panel camera", lambda: s.set_view(1, spare)),
        ("accept proposal", lambda: s.accept_proposal(proposal_joint)),
        ("hand absent", lambda: s.set_hand_absent(other_hand)),
        ("hand present", lambda: s.set_hand_absent(other_hand, absent=False)),
        ("auto views", lambda: s.choose_views()),
    ]
    states = [fingerprint(s)]
    for name, edit in edits:
        edit()
        states.append(fingerprint(s))
        assert not same(states[-1], states[-2]), f"{name} changed nothing"
    s.goto(0)  # undo from another instant goes back to the edit's instant
    for k in range(len(edits), 0, -1):
        assert s.undo(), f"undo of {edits[k - 1][0]}"
        assert same(fingerprint(s), states[k - 1]), f"undo of {edits[k - 1][0]}"
    assert not s.can_undo and not s.undo()
    for k in range(1, len(edits) + 1):
        assert s.redo()
        assert same(fingerprint(s), states[k]), f"redo of {edits[k - 1][0]}"
    assert not s.can_redo
    s.undo()
    s.click(a, uv[a] + [2.0, 2.0], joint=j)  # a new edit clears the redo stack
    assert not s.can_redo
    store.close(save=False)


def test_autosave_after_quiet_period_with_injected_clock(synth_copy):
    now = [100.0]
    store = ProjectStore.open(synth_copy, mode="w")
    s = AnnotationSession(store, annotator="ana", autosave_s=3.0, clock=lambda: now[0])
    events = []
    s.subscribe(lambda e: events.append(e.kind))
    cam = s.views[0]
    assert not s.maybe_autosave()  # nothing to save
    s.click(cam, (20.0, 30.0), joint=0)
    assert s.dirty
    now[0] = 102.9
    assert not s.maybe_autosave()
    s.click(cam, (21.0, 30.0), joint=0)  # a new edit restarts the wait
    now[0] = 105.0
    assert not s.maybe_autosave()
    assert s.maybe_autosave(now=105.9)
    assert not s.dirty and events[-2:] == ["saved", "dirty"]
    with ProjectStore.open(synth_copy, mode="r") as reader:  # on disk for other readers
        assert np.allclose(reader.labels(0).clicks_uv_px[store.camera_index(cam), 0], (21, 30))
    s.click(cam, (22.0, 30.0), joint=1)
    s.goto(1)  # changing instant saves pending edits when autosave is on
    assert not s.dirty
    store.close(save=False)


def test_no_autosave_when_off(synth_copy):
    store = ProjectStore.open(synth_copy, mode="w")
    s = AnnotationSession(store, annotator="ana", autosave_s=None, clock=lambda: 0.0)
    s.click(s.views[0], (20.0, 30.0), joint=0)
    assert not s.maybe_autosave(now=1e9)
    s.goto(1)
    assert s.dirty
    store.close(save=False)


def test_save_and_reopen_restores_exactly(synth_copy):
    store = ProjectStore.open(synth_copy, mode="w")
    i = 1
    gt = store.ground_truth(i)
    s = AnnotationSession(store, annotator="ana", instant=i)
    counts = gt.visible.sum(0) * np.repeat(gt.hand_present, skeleton.JOINTS_PER_HAND)
    j = int(np.argmax(counts >= 3))
    a, b, c = _views_for(store, i, j, 3)
    for cam, off in ((a, 0.0), (b, 1.0), (c, -2.0)):
        s.click(cam, gt.uv_px[store.camera_index(cam), j] + off, joint=j)
    s.lock_view(a, joint=j)
    k = int(np.argmax((counts >= 2) & (np.arange(len(counts)) != j)))
    s.set_occluded(b, k)
    absent = [h for h in range(2) if not gt.hand_present[h]]
    s.set_hand_absent(absent[0] if absent else 1)
    s.set_hand_absent(1 - (absent[0] if absent else 1), absent=False)
    before = {jj: s.joint_state(jj) for jj in range(skeleton.NUM_JOINTS)}
    fp = fingerprint(s)
    s.save()
    store.close()
    with ProjectStore.open(synth_copy, mode="w") as again:
        s2 = AnnotationSession(again, annotator="ana", instant=i)
        fp2 = fingerprint(s2)
        assert same({k_: v for k_, v in fp.items() if k_ != "views"},
                    {k_: v for k_, v in fp2.items() if k_ != "views"})
        for jj, st in before.items():
            st2 = s2.joint_state(jj)
            assert (st2.status, st2.n_views, st2.source, st2.occluded_in, st2.locked_in) == (
                st.status, st.n_views, st.source, st.occluded_in, st.locked_in)
            assert st2.mean_error_px == pytest.approx(st.mean_error_px, nan_ok=True)
        assert s2.joint_state(j).locked_in == (a,) and s2.joint_state(k).occluded_in == (b,)


def test_random_edit_sequences_undo_and_redo_exactly(synth_copy):
    """Property: any sequence of edits, undone in full, restores the start; redone, the end."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    store = ProjectStore.open(synth_copy, mode="w")
    s = AnnotationSession(store, annotator="ana", instant=0, autosave_s=None)
    cams = s.cameras
    sizes = {c: store.rig(store.instant(0).capture)[c].size for c in cams}
    joints = [0, 1, 20, 21, 40]  # a few joints of both hands, so edits interact
    edit = st.one_of(
        st.tuples(st.just("click"), st.sampled_from(cams), st.sampled_from(joints),
                  st.floats(0, 1), st.floats(0, 1)),
        st.tuples(st.just("remove"), st.sampled_from(cams), st.sampled_from(joints)),
        st.tuples(st.just("occluded"), st.sampled_from(cams), st.sampled_from(joints),
                  st.booleans()),
        st.tuples(st.just("lock"), st.sampled_from(cams), st.sampled_from(joints),
                  st.booleans()),
        st.tuples(st.just("absent"), st.sampled_from([0, 1]), st.booleans()),
        st.tuples(st.just("view"), st.integers(0, 5), st.sampled_from(cams)),
        st.tuples(st.just("clear"), st.sampled_from(joints)),
    )

    def apply(e) -> None:
        kind = e[0]
        if kind == "click":
            w, h = sizes[e[1]]
            try:
                s.click(e[1], (e[3] * (w - 1), e[4] * (h - 1)), joint=e[2])
            except ValueError as exc:  # a click on an absent hand: refused, nothing changed
                assert "absent" in str(exc)
        elif kind == "remove":
            s.remove_click(e[1], joint=e[2])
        elif kind == "occluded":
            s.set_occluded(e[1], e[2], occluded=e[3])
        elif kind == "lock":
            s.lock_view(e[1], locked=e[3], joint=e[2])
        elif kind == "absent":
            s.set_hand_absent(e[1], absent=e[2])
        elif kind == "view":
            s.set_view(e[1], e[2])
        else:
            s.clear_joint(e[1])

    @settings(max_examples=15, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(edit, min_size=1, max_size=12))
    def check(edits):
        start = fingerprint(s)
        depth = len(s.history._undo)
        for e in edits:
            apply(e)
        end = fingerprint(s)
        n = len(s.history._undo) - depth
        for _ in range(n):
            assert s.undo()
        assert same(fingerprint(s), start)
        for _ in range(n):
            assert s.redo()
        assert same(fingerprint(s), end)

    check()
    store.close(save=False)
