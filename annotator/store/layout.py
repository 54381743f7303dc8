"""The project folder's layout: every file and folder name, and where each lives.

The store is the one owner of a project folder (``docs/store_api.md``, "The project on
disk"). Code outside it that needs a path (the app's open dialog, the demo, pose_net's
sources, a model's run folder) asks here instead of spelling ``"project.toml"`` or
``"models"`` itself. Stdlib only: a command's argument checks use it before anything heavy
is imported.

::

    PROJECT/
      project.toml     name, schema version, skeleton, image root, settings
      cameras.toml     the cameras of each capture
      frames.h5        the instant index and image paths
      labels.h5        human and merged machine labels
      ground_truth.h5  synthetic captures only: the exact truth
      propagated.h5    human 3D joints projected into every camera (derived, recomputable)
      calibrations.json, calibrations/v0001.toml ...
                       earlier calibrations (annotator refine-calibration); cameras.toml is
                       the active one
      machine/         labelling shards, then detections.h5 (annotator merge)
      models/<kind>/   training runs: labeler, internet, rootnet
      exports/         InterHand2.6M and COCO exports
      team/            a labelling team's work packages: team.json (who got which instants,
                       hidden from them), gold.h5 (the trusted 3D of the gold instants),
                       answers/<package>.h5 (what each package brought back)
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "PROJECT_NAME",
    "CAMERAS_NAME",
    "FRAMES_NAME",
    "LABELS_NAME",
    "GROUND_TRUTH_NAME",
    "PROPAGATED_NAME",
    "LOCK_NAME",
    "MACHINE_DIR",
    "MODELS_DIR",
    "CALIBRATIONS_DIR",
    "CALIBRATIONS_NAME",
    "EXPORTS_DIR",
    "TEAM_DIR",
    "TEAM_NAME",
    "GOLD_NAME",
    "ANSWERS_DIR",
    "MODEL_KINDS",
    "is_project",
    "machine_dir",
    "models_dir",
    "model_runs_dir",
    "runs_in",
    "exports_dir",
    "team_dir",
]

PROJECT_NAME = "project.toml"
CAMERAS_NAME = "cameras.toml"
FRAMES_NAME = "frames.h5"
LABELS_NAME = "labels.h5"
GROUND_TRUTH_NAME = "ground_truth.h5"
PROPAGATED_NAME = "propagated.h5"
LOCK_NAME = ".lock"
MACHINE_DIR = "machine"
MODELS_DIR = "models"
#: Every calibration the project has had (``v0001.toml`` ...); cameras.toml is the active one.
CALIBRATIONS_DIR = "calibrations"
#: The calibration versions: which file each is, when and why it was made, which is active.
CALIBRATIONS_NAME = "calibrations.json"
EXPORTS_DIR = "exports"
#: A labelling team's bookkeeping (``annotator assign`` / ``collect`` / ``qc``).
TEAM_DIR = "team"
#: In ``team/``: the work packages and their queues (which instants are gold or repeats).
TEAM_NAME = "team.json"
#: In ``team/``: the trusted 3D joints of the gold instants, frozen when they were assigned.
GOLD_NAME = "gold.h5"
#: In ``team/``: one ``<package id>.h5`` per collected package, its answers as brought back.
ANSWERS_DIR = "answers"
#: The networks whose training runs a project keeps, each under ``models/<kind>/``.
MODEL_KINDS = ("labeler", "internet", "rootnet")

PathLike = str | os.PathLike[str]


def is_project(path: PathLike) -> bool:
    """Whether ``path`` is a project folder (it holds ``project.toml``)."""
    return (Path(path) / PROJECT_NAME).is_file()


def machine_dir(project: PathLike) -> Path:
    """``PROJECT/machine``: labelling shards and the merged detections."""
    return Path(project) / MACHINE_DIR


def models_dir(project: PathLike) -> Path:
    """``PROJECT/models``: every training run of the project."""
    return Path(project) / MODELS_DIR


def model_runs_dir(project: PathLike, kind: str) -> Path:
    """``PROJECT/models/<kind>``: the training runs of one network (:data:`MODEL_KINDS`)."""
    return runs_in(models_dir(project), kind)


def runs_in(models: PathLike, kind: str) -> Path:
    """``<models>/<kind>`` for a models folder (``ProjectStore.models_dir``)."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {MODEL_KINDS}")
    return Path(models) / kind


def exports_dir(project: PathLike) -> Path:
    """``PROJECT/exports``: InterHand2.6M and COCO exports."""
    return Path(project) / EXPORTS_DIR


def team_dir(project: PathLike) -> Path:
    """``PROJECT/team``: work packages, gold and the answers collected from a team."""
    return Path(project) / TEAM_DIR
