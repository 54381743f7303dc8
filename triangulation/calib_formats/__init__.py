"""Readers and the writer behind :mod:`triangulation.io`, one module per file format.

``native`` (our ``cameras.toml``), ``anipose`` (``calibration.toml``), ``interhand``
(InterHand2.6M ``*_camera.json``) and ``opencv`` (FileStorage YAML/XML/JSON, plain JSON).
Use the public functions of :mod:`triangulation.io`; these modules are its internals.
"""

from __future__ import annotations

__all__ = ["anipose", "interhand", "native", "opencv"]
