"""The annotation session: the app's model, torch- and Qt-free, scriptable and tested.

- :mod:`.model`: :class:`AnnotationSession`, the instant on screen, its cameras, clicks,
  triangulation, reprojection and undo (the app draws and forwards input; nothing else);
- :mod:`.instant`, :mod:`.edits`, :mod:`.history`: one instant's state, its edits and undo;
- :mod:`.views`: which cameras the panels show; :mod:`.progress`: how far the work is;
- :mod:`.types`: the small records the session hands out;
- :mod:`.simulate`: a simulated annotator that labels through the session
  (``annotator simulate-annotator``).

Layered above the store, beside interchange, synth and machine_labels (import-linter).
"""

from __future__ import annotations

from annotator.session.model import (
    ERROR_FLAG_PX,
    PANELS,
    AnnotationSession,
    JointState,
    PlaceResult,
    SessionEvent,
)

__all__ = ["AnnotationSession", "JointState", "PlaceResult", "SessionEvent", "PANELS",
           "ERROR_FLAG_PX"]
