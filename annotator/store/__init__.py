"""The project store: the one place that reads and writes a project folder.

See ``docs/store_api.md`` (the contract) and DESIGN.md ("The project on disk").
"""

from __future__ import annotations

from annotator.store.errors import ProjectFormatError, ProjectLockedError, ProjectReadOnlyError
from annotator.store.project_file import SCHEMA_VERSION
from annotator.store.records import (
    JOINT_SOURCES,
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
    "ProjectFormatError",
    "ProjectLockedError",
    "ProjectReadOnlyError",
    "SCHEMA_VERSION",
    "JOINT_SOURCES",
    "GroundTruth",
    "Instant",
    "InstantLabels",
    "InstantTable",
    "ProjectStatus",
    "Propagation",
    "PropagationSummary",
]
