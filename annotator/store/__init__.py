"""The project store: the one place that reads and writes a project folder.

See ``docs/store_api.md`` (the contract, and "The project on disk" for the folder layout,
which :mod:`annotator.store.layout` names).
"""

from __future__ import annotations

from annotator.store import layout
from annotator.store.errors import ProjectFormatError, ProjectLockedError, ProjectReadOnlyError
from annotator.store.layout import is_project
from annotator.store.project_file import SCHEMA_VERSION
from annotator.store.records import (
    JOINT_SOURCES,
    ClickRecords,
    GroundTruth,
    Instant,
    InstantLabels,
    InstantTable,
    ProjectStatus,
    Propagation,
    PropagationSummary,
)
from annotator.store.store import ProjectStore

__all__ = [
    "ProjectStore",
    "is_project",
    "layout",
    "ProjectFormatError",
    "ProjectLockedError",
    "ProjectReadOnlyError",
    "SCHEMA_VERSION",
    "JOINT_SOURCES",
    "ClickRecords",
    "GroundTruth",
    "Instant",
    "InstantLabels",
    "InstantTable",
    "ProjectStatus",
    "Propagation",
    "PropagationSummary",
]
