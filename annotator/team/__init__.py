"""A labelling team on one capture: work packages (``assign``), bringing them back
(``collect``), per-annotator quality (``qc``) and the per-subject bone-length check.

Above the session / machine-label layer, below the CLI: it reads and writes the project
only through :mod:`annotator.store`.
"""
