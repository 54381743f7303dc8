"""The synthetic studio: the embedded default capture with exact 3D ground truth.

An articulated two-hand model (``hand_model``), scripted poses and sequences (``poses``,
``script``), subjects (``subjects``), a camera dome (``dome``), a z-buffer renderer
(``render``, ``background``), the studio that ties them (``studio``) and the project writer
(``writer``). numpy and OpenCV only.
"""

from __future__ import annotations

from annotator.synth.dome import make_dome
from annotator.synth.studio import InstantRender, Studio, StudioConfig
from annotator.synth.writer import SynthResult, write_capture

__all__ = ["InstantRender", "Studio", "StudioConfig", "SynthResult", "make_dome", "write_capture"]
