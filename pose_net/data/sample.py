"""One training/evaluation item: an image of a camera at an instant with its hands in camera mm.

Both datasets (:mod:`.project_dataset`, :mod:`.interhand_dataset`) reduce their source to a
sequence of :class:`HandSample` (a column table, :mod:`.sample_table`, whose items are
built on demand); crops, augmentation and targets (:mod:`.crops`) and the
evaluation (:mod:`pose_net.evaluate`) only ever see this form, which is why a project and its
``export-interhand`` folder give the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annotator.skeleton import HANDS, NUM_JOINTS, hand_slice
from triangulation import Camera

__all__ = [
    "HANDS_CHOICES",
    "HAND_TYPE_NAMES",
    "HandSample",
    "hand_type_name",
    "root_gated_valid",
    "select_hands",
]

#: InterHand2.6M's hand_type strings, by (right present, left present).
HAND_TYPE_NAMES: dict[tuple[bool, bool], str] = {
    (True, False): "right",
    (False, True): "left",
    (True, True): "interacting",
}


@dataclass(frozen=True, eq=False)
class HandSample:
    """Everything the crop, the targets and the evaluation need about one image.

    Attributes:
        image_path: the image file (any format OpenCV reads).
        camera: the camera that took it (``triangulation.Camera``: K, distortion, R, t,
            size); InterHand2.6M cameras have no distortion.
        joints_cam_mm: (J, 3) joints in the camera frame, mm (``x_cam = R X + t``); NaN where
            unknown.
        joints_uv_px: (J, 2) the joints' pixels in the image (distortion included).
        joint_valid: (J,) bool: the joint is annotated (its hand's root too, as the public
            loader demands for root-relative targets).
        hand_type: (2,) float, [right, left] presence (1/0), ``skeleton.HANDS`` order.
        hand_type_valid: whether ``hand_type`` is known.
        bbox_xywh: (4,) the hand box in image px (tight box of the valid joints ×1.2).
        key: a stable identity across sources: ``"capture/frame/camera"``.
        subject: subject id, -1 if unknown.
    """

    image_path: Path
    camera: Camera
    joints_cam_mm: np.ndarray
    joints_uv_px: np.ndarray
    joint_valid: np.ndarray
    hand_type: np.ndarray
    hand_type_valid: bool
    bbox_xywh: np.ndarray
    key: str
    subject: int = -1

    @property
    def hand_type_name(self) -> str:
        return hand_type_name(self.hand_type)


def hand_type_name(hand_type: np.ndarray) -> str:
    """The hand type ("right", "left" or "interacting") of a (2,) [right, left] presence."""
    key = (bool(hand_type[0] > 0.5), bool(hand_type[1] > 0.5))
    if key not in HAND_TYPE_NAMES:
        raise ValueError("a sample must show at least one hand")
    return HAND_TYPE_NAMES[key]


#: ``--hands`` values: the paper's Table 3 training sets (single-hand images only,
#: interacting-hand images only, both).
HANDS_CHOICES: tuple[str, ...] = ("single", "interacting", "all")


def select_hands(samples: Sequence[HandSample], hands: str) -> Sequence[HandSample]:
    """The samples whose image shows one hand (``"single"``: hand type right or left), two
    (``"interacting"``), or all of them (``"all"``), in their order: a smaller
    :class:`~pose_net.data.sample_table.SampleTable` for a table, else a list.

    The hand type is the image's, as InterHand2.6M's ``hand_type`` (a project: the instant's
    hand-present flags), not the count of hands visible in the crop. A sample with
    ``hand_type_valid`` False counts by its flags as well: the public loader keeps those
    images and only drops their handedness loss.
    """
    if hands not in HANDS_CHOICES:
        raise ValueError(f"hands must be one of {', '.join(HANDS_CHOICES)}, got {hands!r}")
    want_interacting = hands == "interacting"
    interacting = getattr(samples, "interacting", None)
    if interacting is not None:  # a SampleTable: one mask over its columns
        return samples if hands == "all" else samples.take(interacting == want_interacting)
    if hands == "all":
        return list(samples)
    return [s for s in samples if (s.hand_type_name == "interacting") == want_interacting]


def root_gated_valid(valid: np.ndarray) -> np.ndarray:
    """(..., J) bool with each hand's joints cleared where that hand's root is not valid,
    for one sample (J,) or a column of them (N, J).

    Root-relative depth needs the root, so the public InterNet loader does the same.
    """
    from annotator.skeleton import ROOT_INDEX

    out = np.array(valid, dtype=bool, copy=True)
    if out.ndim < 1 or out.shape[-1] != NUM_JOINTS:
        raise ValueError(f"joint_valid must have shape (..., {NUM_JOINTS}), got {out.shape}")
    for hand in HANDS:
        out[..., hand_slice(hand)] &= out[..., ROOT_INDEX[hand], None]
    return out
