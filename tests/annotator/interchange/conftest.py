"""Fixtures: the real InterHand2.6M sample (paths and parsed JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SAMPLE = "interhand2.6m_sample"
PREFIX = "test_interhand2.6m_"


@pytest.fixture()
def ih_sample(realdata_dir) -> dict[str, Path]:
    """Paths of the sample's three JSON files and its image folder."""
    root = realdata_dir(SAMPLE)
    return {
        "data": root / f"{PREFIX}data.json",
        "camera": root / f"{PREFIX}camera.json",
        "joint_3d": root / f"{PREFIX}joint_3d.json",
        "images": root,
    }


@pytest.fixture()
def ih_json(ih_sample) -> dict[str, object]:
    """The sample's three files parsed (fresh, mutable copies per test)."""
    return {k: json.loads(ih_sample[k].read_text()) for k in ("data", "camera", "joint_3d")}


def write_variant(tmp_path: Path, objs: dict, raw: dict[str, str] | None = None) -> dict[str, Path]:
    """Write (possibly broken) copies of the three files; ``raw`` gives literal file texts."""
    out = {}
    for key in ("data", "camera", "joint_3d"):
        p = tmp_path / f"bad_{key}.json"
        p.write_text(raw[key] if raw and key in raw else json.dumps(objs[key]))
        out[key] = p
    return out
