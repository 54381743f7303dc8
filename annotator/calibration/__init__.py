"""Refining a project's calibration from its labels (``annotator refine-calibration``).

Every human click and every machine detection that passed QC is an observation of a 3D
point from several cameras; :func:`triangulation.refine_rig` bundle-adjusts each capture's
rig on them. :mod:`.refine` gathers the observations, runs it, and writes the result as a
new calibration version with the human 3D joints re-triangulated from their clicks.

Layered above session (the click triangulation rule) and machine_labels (the detections),
below demo and cli (import-linter).
"""

from annotator.calibration.refine import (
    LABEL_SOURCES,
    CalibrationRefinement,
    apply_refinement,
    refine_calibration,
    restore_calibration,
    retriangulate_human,
)

__all__ = [
    "LABEL_SOURCES",
    "CalibrationRefinement",
    "refine_calibration",
    "apply_refinement",
    "restore_calibration",
    "retriangulate_human",
]
