"""The toolkit's core, without torch and without Qt (import-linter contracts).

Layers, each importing only those below it (``pyproject.toml``, checked by ``lint-imports``):

- :mod:`annotator.cli`: the ``annotator`` command; finds every command (this package's and
  those of ``gui``, ``machine_labeler``, ``pose_net``) as entry points;
- :mod:`annotator.demo`: ``annotator demo``, the whole loop on a synthetic capture and its report;
- :mod:`annotator.session` (the app's model and the simulated annotator),
  :mod:`annotator.interchange` (InterHand2.6M and COCO import/export),
  :mod:`annotator.synth` (the synthetic studio), :mod:`annotator.machine_labels` (merge,
  selection and evaluation of machine labels): siblings that do not import each other;
- :mod:`annotator.store`: the project folder, its files and their crash safety;
- :mod:`annotator.skeleton`, :mod:`annotator.images`, :mod:`annotator.time_budget`: leaves.

Geometry comes from ``triangulation``, crash-safe writes from ``atomic_files``.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
