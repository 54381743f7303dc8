"""The bone chart in the main window (real offscreen Qt, real project on disk)."""

from __future__ import annotations

import numpy as np
import pytest

from annotator import skeleton
from annotator.session.simulate import simulate_annotator
from annotator.store import ProjectStore
from annotator.team import bone_check as bc
from gui.bone_chart import BoneChart, chart_rows

J = skeleton.NUM_JOINTS


@pytest.fixture
def labelled(project):
    """The app's synthetic project with every instant labelled (1 px clicks)."""
    with ProjectStore.open(project, mode="w") as store:
        simulate_annotator(store, fraction=1.0, noise_px=1.0, seed=0)
    return project


def test_chart_rows_pure():
    B = len(bc.BONE_NAMES)
    stats = bc.BoneStats(np.array([0]), np.full((1, B), 30.0), np.full((1, B), 1.0),
                         np.full((1, B), 3.0), np.full((1, B), 10))
    x = np.full((J, 3), np.nan)
    right = skeleton.hand_joints("right")
    x[right] = 0.0
    x[right, 0] = 30.0 * np.arange(len(right))  # every right bone 30 mm ... except
    x[skeleton.ROOT_INDEX["right"]] = [0.0, 0.0, 0.0]
    rows = chart_rows(bc.instant_bones(stats, 0, x))
    assert {r.hand for r in rows} == {0}  # the left hand has no bone labelled: left out
    # the 20 bones by finger, then the 4 palm spans, then the 5 finger planes
    assert len(rows) == 29 and [r.row for r in rows] == list(range(29))
    assert [r.label for r in rows[20:24]] == ["palm"] * 4
    assert [r.label for r in rows[24:]] == ["plane"] * 5
    # a hand along one line has no plane: its rows say so and draw no marker
    assert all(np.isnan(r.rel) and "not measured here" in r.tooltip for r in rows[24:])
    assert rows[25].tooltip.startswith("r_index4 off plane")
    assert "r_index1–r_middle1" in rows[20].tooltip
    assert rows[0].label == "thumb" and rows[4].label == "index"
    assert abs(rows[0].rel) < 1e-9 and not rows[0].deviant  # thumb4-thumb3: 30 mm
    assert rows[3].deviant  # thumb1-wrist: 90 mm
    assert "r_thumb1–r_wrist" in rows[3].tooltip and "30.0 mm ± 3.0" in rows[3].tooltip


def test_chart_follows_instant_and_edits(labelled, open_window, qtbot, tmp_path):
    win = open_window(labelled)
    chart = win.bone_chart
    assert isinstance(chart, BoneChart) and chart.isVisible()
    stats = win.bone_stats()
    assert stats.subjects.tolist() == [0]
    rows = chart.rows()
    assert rows and all(r.hand in (0, 1) for r in rows)
    # 3 labelled instants: fewer than MIN_COUNT, nothing judged yet
    assert not any(np.isfinite(r.rel) for r in rows)

    # statistics with a band: give the window enough instants' worth
    count = np.full_like(stats.count, 10)
    # 3 mm bands on the bones; the knuckle spans (not edited here) get a wide one, as the
    # medians of 3 instants put some of them a few mm off this instant's
    band = np.full_like(stats.median_mm, 3.0)
    band[:, bc.NUM_SKELETON_BONES:] = 10.0
    win._bone_stats = bc.BoneStats(stats.subjects, stats.median_mm, stats.spread_mm, band,
                                   count)
    s = win.session
    j = skeleton.joint_index("r_index3")
    if not np.isfinite(s.joint_point(j)).all():
        pytest.skip("r_index3 not labelled on the first instant")
    win._update_bone_chart()
    assert not chart.deviant_names()
    # move the joint in the store as a slip would, reload: the chart shows both bones off
    p = s.joint_point(j) + [0.0, 0.0, 25.0]
    new = np.full((J, 3), np.nan)
    new[j] = p
    win.store.set_joints_3d(s.instant, new, source="human", annotator="slip")
    win.intent(s.reload)
    qtbot.waitUntil(lambda: len(chart.deviant_names()) >= 1, timeout=2000)
    assert any("r_index3" in n for n in chart.deviant_names())
    img = chart.grab()
    assert img.width() > 150 and img.height() > 100
    # another instant: its own bones, within the band again
    win.intent(s.step_instant, 1)
    assert s.instant == 1 and chart.rows()
    assert not any("r_index3" in n for n in chart.deviant_names())
