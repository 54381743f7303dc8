"""A small studio shared by the synthetic-studio tests (12 cameras, 6 instants)."""

from __future__ import annotations

import pytest

from annotator.synth import Studio, StudioConfig


@pytest.fixture(scope="package")
def small_studio() -> Studio:
    return Studio(StudioConfig(cameras=12, instants=6, subjects=2, seed=3))


@pytest.fixture(scope="package")
def small_renders(small_studio: Studio) -> list:
    return [small_studio.render(i, keep_maps=True) for i in range(small_studio.num_instants)]
