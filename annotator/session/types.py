"""Small frozen records the annotation session hands out: joint states and change events."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["JointState", "PlaceResult", "SessionEvent", "JOINT_STATUSES", "EVENT_KINDS"]

#: ``JointState.status`` values, in the order the joint list explains them.
JOINT_STATUSES: tuple[str, ...] = ("none", "one_view", "triangulated", "proposal", "hand_absent")
#: ``SessionEvent.kind`` values.
EVENT_KINDS: tuple[str, ...] = ("instant", "views", "joint", "labels", "saved", "dirty")


@dataclass(frozen=True)
class JointState:
    """What the joint list shows for one joint of the current instant.

    Attributes:
        status: one of :data:`JOINT_STATUSES`: "none" (nothing placed), "one_view" (a
            single usable click), "triangulated" (a human/imported 3D label), "proposal"
            (only a machine 3D joint), "hand_absent" (its hand is marked absent).
        n_views: usable clicks (clicked views not marked occluded).
        reproj_error_px: camera name -> px distance between that view's click and the
            projection of the joint's 3D point (clicked views only; NaN without a point).
        mean_error_px: mean of ``reproj_error_px`` over the clicked views; NaN when fewer
            than two views are clicked (never divided by the number of cameras).
        source: provenance of the 3D point: "", "human", "machine" or "imported".
        occluded_in: cameras where the annotator marked the joint not visible.
        locked_in: cameras whose click the 3D point is forced through.
        flagged: a click's error exceeds the session's ``error_flag_px``, or the store has
            a review flag on this joint.
        flag_reason: the review flag's reason ("" when none).
    """

    status: str
    n_views: int
    reproj_error_px: dict[str, float]
    mean_error_px: float
    source: str
    occluded_in: tuple[str, ...]
    locked_in: tuple[str, ...]
    flagged: bool
    flag_reason: str = ""


@dataclass(frozen=True)
class PlaceResult:
    """What one :meth:`~annotator.session.AnnotationSession.place` did.

    Attributes:
        joint: the joint whose click was placed.
        selected_before: the joint selected when the click came.
        advanced_to: the joint auto-advance selected, or None.
        disagreement: the review reason when the joint's clicks now disagree, else None.
        message: what to tell the annotator ("" when the click did the obvious thing).
    """

    joint: int
    selected_before: int
    advanced_to: int | None
    disagreement: str | None
    message: str


@dataclass(frozen=True)
class SessionEvent:
    """A change notification: ``kind`` in :data:`EVENT_KINDS`, at ``instant``, optionally
    about one ``joint`` and/or ``camera``."""

    kind: str
    instant: int
    joint: int | None = None
    camera: str | None = None
