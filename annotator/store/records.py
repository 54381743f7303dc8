"""Small frozen result types returned by :class:`~annotator.store.ProjectStore`.

Axis letters: F instants, C project cameras, J joints (``skeleton.NUM_JOINTS``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Instant",
    "InstantTable",
    "InstantLabels",
    "ClickRecords",
    "GroundTruth",
    "Propagation",
    "ProjectStatus",
    "PropagationSummary",
    "JOINT_SOURCES",
]

#: Provenance codes of a 3D joint, stored as int8 in labels.h5 (index into this tuple).
JOINT_SOURCES: tuple[str, ...] = ("", "human", "machine", "imported")


@dataclass(frozen=True)
class Instant:
    """One time instant: position ``index`` on the F axis and where it comes from."""

    index: int
    instant_id: int
    capture: str
    sequence: str
    frame: int


@dataclass(frozen=True)
class InstantTable:
    """All instants as columns: ``instant_id (F,) int64, capture (F,) str, sequence (F,) str,
    frame (F,) int64``."""

    instant_id: np.ndarray
    capture: np.ndarray
    sequence: np.ndarray
    frame: np.ndarray

    def __len__(self) -> int:
        return int(self.instant_id.shape[0])


@dataclass(frozen=True)
class InstantLabels:
    """The human (and merged machine/imported) work of one instant.

    Attributes:
        clicks_uv_px: (C, J, 2) clicked pixel positions, NaN where none.
        joints_world_mm: (J, 3) 3D joints in world mm, NaN where unset.
        joint_source: (J,) str, one of ``JOINT_SOURCES`` ("" = unset).
        annotator: (J,) str, who set each 3D joint.
        time: (J,) float, unix seconds when each 3D joint was set (NaN when unset).
        hand_present: (2,) int8 in ``skeleton.HANDS`` order: -1 unknown, 0 absent, 1 present.
        flags: ((joint, reason), ...) review flags; joint -1 flags the whole instant.
    """

    clicks_uv_px: np.ndarray
    joints_world_mm: np.ndarray
    joint_source: np.ndarray
    annotator: np.ndarray
    time: np.ndarray
    hand_present: np.ndarray
    flags: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class ClickRecords:
    """The clicks of one instant with their provenance, one row per (camera, joint) click.

    camera (N,) int64 project camera index; joint (N,) int64; uv_px (N, 2); annotator (N,)
    str; time (N,) unix seconds when the click was placed. Rows sorted by (camera, joint).
    """

    camera: np.ndarray
    joint: np.ndarray
    uv_px: np.ndarray
    annotator: np.ndarray
    time: np.ndarray

    def __len__(self) -> int:
        return int(self.camera.size)


@dataclass(frozen=True)
class GroundTruth:
    """Exact synthetic-studio truth of one instant (``ground_truth.h5``).

    joints_world_mm (J, 3); visible (C, J) bool; uv_px (C, J, 2); hand_present (2,) bool.
    """

    joints_world_mm: np.ndarray
    visible: np.ndarray
    uv_px: np.ndarray
    hand_present: np.ndarray


@dataclass(frozen=True)
class Propagation:
    """3D joints projected into every project camera.

    uv_px (F, C, J, 2) float64 (NaN where the joint is unset, behind the camera or the
    capture lacks the camera); in_image (F, C, J) bool; in_front (F, C, J) bool;
    instants (F,) int64 instant indices.
    """

    uv_px: np.ndarray
    in_image: np.ndarray
    in_front: np.ndarray
    instants: np.ndarray

    @property
    def visible(self) -> np.ndarray:
        """(F, C, J) bool: a usable 2D label (in front of the camera and inside the image)."""
        return self.in_image & self.in_front


@dataclass(frozen=True)
class ProjectStatus:
    """Counts shown by ``annotator status PROJECT``."""

    instants: int
    cameras: int
    images: int
    human_labelled: int
    machine_labelled: int
    flagged: int
    #: instants with 3D joints imported from a dataset (e.g. InterHand2.6M)
    imported_labelled: int = 0


@dataclass(frozen=True)
class PropagationSummary:
    """What :meth:`ProjectStore.write_propagation` wrote: instants, (instant, camera) views
    with at least one visible joint, visible (instant, camera, joint) 2D labels, the file."""

    instants: int
    labelled_views: int
    joint_views: int
    path: str
