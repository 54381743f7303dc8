"""SOURCE on the command line: a project folder or an InterHand2.6M root -> samples."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from annotator.store.layout import is_project
from pose_net.data.interhand_dataset import interhand_samples, is_interhand_root
from pose_net.data.project_dataset import project_samples
from pose_net.data.sample import HANDS_CHOICES, HandSample, select_hands

__all__ = ["SourceSamples", "load_samples"]


@dataclass(frozen=True, eq=False)
class SourceSamples:
    """The samples of a source, what it is (``kind``: "project" | "interhand") and where a
    default output folder belongs (the project folder, or None for an InterHand root)."""

    samples: Sequence[HandSample]  # a SampleTable: items built on demand
    kind: str
    project_dir: Path | None


def load_samples(
    source: str | os.PathLike[str],
    *,
    split: str | None = None,
    labels: str = "all",
    subjects: Sequence[str] | None = None,
    exclude_subjects: Sequence[str] | None = None,
    hands: str = "all",
    hand_types: str = "people",
) -> SourceSamples:
    """Samples of a project (``labels`` chooses which 3D labels; ``split`` must be None) or of
    one split of an InterHand2.6M root (its own annotations; ``labels`` must be "all" or
    "human"); ``hands`` keeps the single-hand or the interacting-hand images only
    (:func:`~pose_net.data.sample.select_hands`); ``hand_types`` says whose hand presence
    teaches handedness in a project (:func:`~pose_net.data.project_dataset.project_samples`).
    Raises ``FileNotFoundError`` /
    ``ValueError`` with a one-line message."""
    if hands not in HANDS_CHOICES:
        raise ValueError(f"--hands must be one of {', '.join(HANDS_CHOICES)}, got {hands!r}")
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such project folder or InterHand2.6M root")
    if is_project(path):
        if split is not None:
            raise ValueError(
                f"{path}: --split applies to an InterHand2.6M root; choose a project's "
                "instants with --subjects / --exclude-subjects"
            )
        from annotator.store import ProjectStore

        with ProjectStore.open(path, mode="r") as store:
            samples = project_samples(
                store, labels=labels, subjects=subjects, exclude_subjects=exclude_subjects,
                hand_types=hand_types,
            )
        kind, project_dir = "project", path
    elif is_interhand_root(path):
        if labels not in ("all", "human"):
            raise ValueError(
                f"{path}: an InterHand2.6M root has its own annotations; --labels {labels} "
                "applies to a project"
            )
        samples = interhand_samples(
            path, split, subjects=subjects, exclude_subjects=exclude_subjects
        )
        kind, project_dir = "interhand", None
    else:
        raise ValueError(
            f"{path}: neither a project (no project.toml) nor an InterHand2.6M root "
            "(no annotations/S/InterHand2.6M_S_data.json)"
        )
    if not samples:
        raise ValueError(f"{path}: no usable sample (no labelled hand inside an image)")
    if hands != "all":
        kept = select_hands(samples, hands)
        if not kept:
            other = "interacting" if hands == "single" else "single-hand"
            raise ValueError(
                f"{path}: --hands {hands}: none of the {len(samples)} samples shows "
                f"{'one hand' if hands == 'single' else 'two hands'} (all are {other})"
            )
        samples = kept
    return SourceSamples(samples, kind, project_dir)
