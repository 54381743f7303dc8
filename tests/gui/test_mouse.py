"""Mouse logic and the viewport, without Qt."""

from __future__ import annotations

import numpy as np
import pytest

from gui import mouse
from gui.mouse import Click, DragPreview, Interaction, Pan, Pointer, Zoom, handle, hit_test
from gui.viewport import Viewport, fit, fit_rect

VP = Viewport(2.0, 10.0, 20.0)
J = 4
NONE = np.full((J, 2), np.nan)


def _run(events, clicks=NONE, reproj=NONE, current=0, vp=VP):
    state, out = Interaction(), []
    for ev in events:
        state, acts = handle(state, ev, vp, clicks, reproj, current)
        out += acts
    return state, out


def test_viewport_round_trip_zoom_and_fit():
    uv = np.array([[3.0, 4.0], [100.5, -7.25]])
    assert np.allclose(VP.to_image(VP.to_widget(uv)), uv)
    z = VP.zoom_at(1.7, 55.0, 66.0)
    assert np.allclose(z.to_image((55.0, 66.0)), VP.to_image((55.0, 66.0)))
    f = fit(512, 334, 1024, 1000)
    assert f.scale == pytest.approx(2.0)
    assert np.allclose(f.to_widget((255.5, 166.5)), (512, 500))
    r = fit_rect((100, 100, 110, 120), 400, 400, margin=0.0, max_scale=100)
    assert r.scale == pytest.approx(20.0)
    assert np.allclose(r.to_widget((105, 110)), (200, 200))
    with pytest.raises(ValueError):
        fit_rect((0, 0, np.nan, 1), 10, 10)


def test_click_without_motion_places_the_current_joint():
    state, acts = _run([Pointer("press", 30, 40, "left"), Pointer("move", 31, 41),
                        Pointer("release", 31, 41, "left")])
    assert state.mode == "idle"
    assert acts == [Click((10.0, 10.0))]


def test_dragging_a_click_moves_that_joint():
    clicks = NONE.copy()
    clicks[2] = VP.to_widget((50.0, 50.0))
    state, acts = _run([Pointer("press", clicks[2, 0] + 3, clicks[2, 1], "left"),
                        Pointer("move", 150, 150), Pointer("release", 170, 180, "left")],
                       clicks=clicks)
    assert isinstance(acts[0], DragPreview) and acts[0].joint == 2
    assert acts[-1] == Click(tuple(VP.to_image((170, 180))), 2)


def test_drag_from_empty_image_does_nothing_and_reprojection_can_be_grabbed():
    _, acts = _run([Pointer("press", 0, 0, "left"), Pointer("move", 40, 40),
                    Pointer("release", 40, 40, "left")])
    assert acts == []
    reproj = NONE.copy()
    reproj[1] = (200, 200)
    _, acts = _run([Pointer("press", 201, 199, "left"), Pointer("move", 220, 220),
                    Pointer("release", 220, 220, "left")], reproj=reproj)
    assert acts[-1].joint == 1


def test_pan_with_middle_right_or_space_and_wheel_zoom():
    for press in (Pointer("press", 0, 0, "middle"), Pointer("press", 0, 0, "right"),
                  Pointer("press", 0, 0, "left", space=True)):
        state, acts = _run([press, Pointer("move", 5, 7), Pointer("move", 6, 9),
                            Pointer("release", 6, 9, press.button)])
        assert acts == [Pan(5, 7), Pan(1, 2)] and state.mode == "idle"
    _, acts = _run([Pointer("wheel", 3, 4, wheel_delta=240)])
    assert acts == [Zoom(mouse.WHEEL_STEP ** 2, 3, 4)]


def test_hit_test_prefers_the_current_joint_and_clicks_over_reprojections():
    pts = np.array([[0.0, 0.0], [3.0, 0.0], [np.nan, np.nan], [50, 50]])
    assert hit_test(2.0, 0.0, pts, NONE) == 1
    assert hit_test(2.0, 0.0, pts, NONE, prefer=0) == 0
    assert hit_test(100, 100, pts, NONE) is None
    assert hit_test(50, 51, NONE, pts) == 3
    with pytest.raises(ValueError):
        handle(Interaction(), Pointer("hover", 0, 0), VP, NONE, NONE)
