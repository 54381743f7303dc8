"""The overlay draw list, without Qt."""

from __future__ import annotations

import numpy as np
import pytest

from annotator import skeleton
from gui import theme
from gui.overlay import (
    SOURCE_HUMAN,
    SOURCE_NONE,
    SOURCE_PROPOSAL,
    Lines,
    Markers,
    PanelOverlayInput,
    Polyline,
    build_overlay,
)

J = skeleton.NUM_JOINTS


def _inp(**kw) -> PanelOverlayInput:
    rng = np.random.default_rng(0)
    base = dict(
        clicks_px=np.full((J, 2), np.nan),
        reproj_px=rng.uniform(0, 300, (J, 2)),
        source=np.full(J, SOURCE_HUMAN),
        current_joint=0,
    )
    base.update(kw)
    return PanelOverlayInput(**base)


def _lines(dl, dashed=None):
    return [it for it in dl.items if isinstance(it, Lines)
            and (dashed is None or it.dashed == dashed) and it.rgb != theme.FLAG_RGB
            and it.width > 1.5]


def test_full_skeleton_has_one_segment_per_bone_in_finger_colours():
    dl = build_overlay(_inp())
    bones = _lines(dl)
    assert sum(len(b.segments_px) for b in bones) == len(skeleton.BONES)
    # every segment's colour is its child joint's finger colour
    inp = _inp()
    for b in bones:
        for seg in b.segments_px:
            child = int(np.argmin(np.linalg.norm(inp.reproj_px - seg[0], axis=1)))
            assert theme.joint_rgb(child) == b.rgb
    # 42 reprojected joints as discs
    discs = [m for m in dl.items if isinstance(m, Markers) and m.shape == "disc"]
    assert sum(len(m.points_px) for m in discs) == J


def test_bones_need_both_ends_and_proposals_are_dashed():
    reproj = _inp().reproj_px.copy()
    reproj[skeleton.RIGHT_ROOT] = np.nan  # the right wrist: five bones lose an end
    source = np.full(J, SOURCE_HUMAN)
    source[skeleton.hand_slice("left")] = SOURCE_PROPOSAL
    dl = build_overlay(_inp(reproj_px=reproj, source=source))
    solid = sum(len(b.segments_px) for b in _lines(dl, dashed=False))
    dashed = [it for it in dl.items if isinstance(it, Lines) and it.dashed]
    assert solid == len(skeleton.BONES) // 2 - 5
    assert sum(len(b.segments_px) for b in dashed) == len(skeleton.BONES) // 2
    assert all(b.alpha == theme.PROPOSAL_ALPHA for b in dashed)
    rings = [m for m in dl.items if isinstance(m, Markers) and m.shape == "ring"
             and m.alpha == theme.PROPOSAL_ALPHA]
    assert sum(len(m.points_px) for m in rings) == skeleton.JOINTS_PER_HAND


def test_nothing_to_draw_without_3d_but_clicks_and_epipolar():
    clicks = np.full((J, 2), np.nan)
    clicks[3] = (10, 20)
    epi = np.stack([np.linspace(0, 100, 5), np.linspace(0, 50, 5)], axis=1)
    inp = _inp(reproj_px=np.full((J, 2), np.nan), source=np.full(J, SOURCE_NONE),
               clicks_px=clicks, epipolar_px=epi, current_joint=3)
    dl = build_overlay(inp)
    kinds = [type(it).__name__ for it in dl.items]
    assert kinds[0] == "Polyline"
    crosses = [m for m in dl.items if isinstance(m, Markers) and m.shape == "cross"]
    assert len(crosses) == 1 and np.allclose(crosses[0].points_px, [[10, 20]])
    assert not [it for it in dl.items if isinstance(it, Lines)]
    # the current joint's ring sits on its click
    assert np.allclose(dl.items[-1].points_px, [[10, 20]]) and dl.items[-1].size > 15
    off = build_overlay(PanelOverlayInput(**{**inp.__dict__, "show_epipolar": False}))
    assert not [it for it in off.items if isinstance(it, Polyline)]


def test_occluded_flagged_locked_and_residuals():
    inp0 = _inp()
    clicks = inp0.reproj_px + 3.0
    occluded = np.zeros(J, bool)
    occluded[5] = True
    flagged = np.zeros(J, bool)
    flagged[7] = True
    locked = np.zeros(J, bool)
    locked[9] = True
    clicks[5] = np.nan
    dl = build_overlay(_inp(clicks_px=clicks, occluded=occluded, flagged=flagged, locked=locked))
    discs = np.concatenate([m.points_px for m in dl.items
                            if isinstance(m, Markers) and m.shape == "disc"])
    assert len(discs) == J - 1  # the occluded joint's reprojection is hidden
    red = [it for it in dl.items if isinstance(it, Lines) and it.rgb == theme.FLAG_RGB]
    assert len(red) == 1 and len(red[0].segments_px) == 1
    assert np.allclose(red[0].segments_px[0], [clicks[7], inp0.reproj_px[7]])
    squares = [m for m in dl.items if isinstance(m, Markers) and m.shape == "square"]
    assert len(squares) == 1 and np.allclose(squares[0].points_px, clicks[[9]])


def test_drag_moves_the_click_and_primitive_count():
    clicks = np.full((J, 2), np.nan)
    clicks[2] = (5, 5)
    dl = build_overlay(_inp(clicks_px=clicks, drag=(2, np.array([50.0, 60.0]))))
    cross = [m for m in dl.items if isinstance(m, Markers) and m.shape == "cross"][0]
    assert np.allclose(cross.points_px, [[50, 60]])
    assert dl.primitive_count() > J


def test_bad_input_is_a_value_error():
    with pytest.raises(ValueError, match="must be"):
        build_overlay(_inp(clicks_px=np.zeros((3, 2))))
    with pytest.raises(ValueError, match="current_joint"):
        build_overlay(_inp(current_joint=J))


def test_epipolar_polyline_is_cut_at_folds_and_outside_the_image():
    from gui.epipolar import clean_polyline

    x = np.linspace(-50, 150, 21)
    line = np.stack([x, np.full_like(x, 50.0)], axis=1)
    folded = np.concatenate([line, line[::-1][1:] + [0, 5]])  # comes back: a lens fold
    out = clean_polyline(folded, 100, 100, margin=0.0)
    assert len(out) == len(line)
    assert np.isnan(out[x < 0]).all() and np.isnan(out[x > 99]).all()
    assert np.isfinite(out[(x >= 0) & (x <= 99)]).all()
    assert clean_polyline(line + [0, 500], 100, 100) is None
