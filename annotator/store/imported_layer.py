"""The imported layer of the labels: a dataset's own 3D joints, kept in ``frames.h5``.

An InterHand2.6M import (:mod:`annotator.interchange.interhand_import`) stores each
instant's released joints as instant attrs (``ih_world_coord`` (J, 3) mm, ``ih_joint_valid``
(J,), ``ih_hand_type`` (index into right/left/interacting), ``ih_hand_type_valid``,
``ih_imported_at`` unix seconds, NaN = no layer). Reads show them as 3D joints with source
``"imported"`` and as hand presence, *under* labels.h5: a labels.h5 row for a joint or a hand
always wins, including a cleared one (a row with NaN coordinates and source ``""``; hand
presence -1). So 1.7M imported joints cost labels.h5 nothing, and saving an edit rewrites
only the human work.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from annotator.store.records import JOINT_SOURCES, InstantLabels

__all__ = [
    "ImportedLayer",
    "LAYER_ATTRS",
    "IMPORTED_BY",
    "layer_at",
    "has_layer",
    "overlay",
    "layer_arrays",
]

#: Instant attrs that make up the layer (``ih_imported_at`` says which instants have one).
LAYER_ATTRS = (
    "ih_imported_at",
    "ih_world_coord",
    "ih_joint_valid",
    "ih_hand_type",
    "ih_hand_type_valid",
)
#: The annotator name shown for imported joints.
IMPORTED_BY = "interhand2.6m"
_IMPORTED = JOINT_SOURCES.index("imported")
# Hand presence (right, left) per InterHand2.6M hand type: right, left, interacting.
_PRESENCE = np.array([[1, 0], [0, 1], [1, 1]], np.int8)


@dataclass(frozen=True, eq=False)
class ImportedLayer:
    """One instant's layer: ``world_mm`` (J, 3), ``valid`` (J,) bool, ``hand_present`` (2,)
    int8 (-1 where the hand type is not valid), ``imported_at`` unix seconds."""

    world_mm: np.ndarray
    valid: np.ndarray
    hand_present: np.ndarray
    imported_at: float


def has_layer(frames) -> bool:
    """Whether the frame index holds an imported layer at all."""
    return frames.cached_attr("instant_attrs", "ih_imported_at") is not None


def _presence(hand_type: np.ndarray, type_valid: np.ndarray) -> np.ndarray:
    ht = np.clip(np.asarray(hand_type, np.int64), 0, 2)
    out = _PRESENCE[ht].copy()
    out[~(np.asarray(type_valid) > 0)] = -1
    return out


def layer_at(frames, i: int) -> ImportedLayer | None:
    """The layer of instant ``i`` (None where it has none): one chunk read for the
    coordinates; the small per-instant columns are read once per store and kept."""
    at = frames.cached_attr("instant_attrs", "ih_imported_at")
    if at is None or not np.isfinite(at[i]):
        return None
    world = frames.read_attr("instant_attrs", "ih_world_coord", i)
    valid = frames.cached_attr("instant_attrs", "ih_joint_valid")[i] > 0
    ht = frames.cached_attr("instant_attrs", "ih_hand_type")[i : i + 1]
    htv = frames.cached_attr("instant_attrs", "ih_hand_type_valid")[i : i + 1]
    return ImportedLayer(world, valid, _presence(ht, htv)[0], float(at[i]))


def overlay(
    lab: InstantLabels, layer: ImportedLayer, joint_rows: np.ndarray, hand_rows: np.ndarray
) -> InstantLabels:
    """``lab`` with the layer filled in where labels.h5 has no row.

    ``joint_rows`` / ``hand_rows``: the joints / hands of this instant that have a row.
    """
    use = layer.valid & np.all(np.isfinite(layer.world_mm), axis=1)
    use[np.asarray(joint_rows, np.int64)] = False
    xyz = lab.joints_world_mm.copy()
    xyz[use] = layer.world_mm[use]
    source = lab.joint_source.astype(object)
    source[use] = "imported"
    who = lab.annotator.astype(object)
    who[use] = IMPORTED_BY
    when = lab.time.copy()
    when[use] = layer.imported_at
    hands = lab.hand_present.copy()
    free = np.ones(2, bool)
    free[np.asarray(hand_rows, np.int64)] = False
    hands[free] = layer.hand_present[free]
    return replace(
        lab,
        joints_world_mm=xyz,
        joint_source=source.astype(str),
        annotator=who.astype(str),
        time=when,
        hand_present=hands,
    )


def layer_arrays(frames, F: int, J: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whole-project layer: world (F, J, 3) mm (NaN where none), valid (F, J) bool, hand
    presence (F, 2) int8 (-1 unknown). All invalid when the project has no layer."""
    if not has_layer(frames):
        return np.full((F, J, 3), np.nan), np.zeros((F, J), bool), np.full((F, 2), -1, np.int8)
    at = np.asarray(frames.read_attr("instant_attrs", "ih_imported_at", None), np.float64)
    on = np.isfinite(at)
    world = np.asarray(frames.read_attr("instant_attrs", "ih_world_coord", None), np.float64)
    valid = (frames.read_attr("instant_attrs", "ih_joint_valid", None) > 0) & on[:, None]
    valid &= np.all(np.isfinite(world), axis=2)
    hands = _presence(
        frames.read_attr("instant_attrs", "ih_hand_type", None),
        frames.read_attr("instant_attrs", "ih_hand_type_valid", None),
    )
    hands[~on] = -1
    return world, valid, hands
