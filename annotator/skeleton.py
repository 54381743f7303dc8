"""The InterHand2.6M two-hand skeleton: the one source of truth for joint order.

42 joints: right hand 0–20, then left hand 21–41. Within a hand, for thumb, index, middle,
ring and pinky in turn: the tip (``*4``), then the three rotation centres towards the palm
(``*3``, ``*2``, ``*1``); the wrist comes last and is the hand's root. The names are those of
InterHand2.6M's ``skeleton.txt`` (``r_thumb4 0 1`` … ``r_wrist 20 -1``, ``l_thumb4 21 22`` …).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "HANDS",
    "FINGERS",
    "JOINTS_PER_HAND",
    "NUM_JOINTS",
    "JOINT_NAMES",
    "PARENTS",
    "ROOT_INDEX",
    "RIGHT_ROOT",
    "LEFT_ROOT",
    "FINGER_OF_JOINT",
    "HAND_OF_JOINT",
    "FLIP_PAIRS",
    "FLIP_INDEX",
    "FINGER_COLORS_BGR",
    "BONES",
    "hand_slice",
    "hand_joints",
    "finger_chain",
    "joint_index",
    "joint_color_bgr",
    "skeleton_txt",
]

HANDS: tuple[str, ...] = ("right", "left")
FINGERS: tuple[str, ...] = ("thumb", "index", "middle", "ring", "pinky")
_HAND_PREFIX = {"right": "r", "left": "l"}
#: 5 fingers × 4 joints + the wrist.
JOINTS_PER_HAND = len(FINGERS) * 4 + 1
NUM_JOINTS = JOINTS_PER_HAND * len(HANDS)
#: Index of the wrist (root) within one hand's block.
_WRIST_IN_HAND = JOINTS_PER_HAND - 1


def _build() -> tuple[list[str], list[int], list[str], list[str]]:
    names: list[str] = []
    parents: list[int] = []
    fingers: list[str] = []
    hands: list[str] = []
    for h, hand in enumerate(HANDS):
        base = h * JOINTS_PER_HAND
        wrist = base + _WRIST_IN_HAND
        for f, finger in enumerate(FINGERS):
            for k in range(4):  # tip (4) first, towards the palm (1)
                idx = base + 4 * f + k
                names.append(f"{_HAND_PREFIX[hand]}_{finger}{4 - k}")
                # Each joint's parent is the next one towards the palm; the last (*1) hangs
                # from the wrist.
                parents.append(idx + 1 if k < 3 else wrist)
                fingers.append(finger)
                hands.append(hand)
        names.append(f"{_HAND_PREFIX[hand]}_wrist")
        parents.append(-1)
        fingers.append("wrist")
        hands.append(hand)
    return names, parents, fingers, hands


_names, _parents, _fingers, _hands = _build()
JOINT_NAMES: tuple[str, ...] = tuple(_names)
#: Parent joint index of each joint; -1 for a root (wrist).
PARENTS: np.ndarray = np.array(_parents, dtype=np.int64)
PARENTS.setflags(write=False)
#: Root (wrist) index per hand, keyed by hand name.
ROOT_INDEX: dict[str, int] = {
    hand: h * JOINTS_PER_HAND + _WRIST_IN_HAND for h, hand in enumerate(HANDS)
}
RIGHT_ROOT = ROOT_INDEX["right"]
LEFT_ROOT = ROOT_INDEX["left"]
FINGER_OF_JOINT: tuple[str, ...] = tuple(_fingers)
HAND_OF_JOINT: tuple[str, ...] = tuple(_hands)
#: ``HAND_INDEX[j]``: index in ``HANDS`` of joint j's hand.
HAND_INDEX: np.ndarray = np.array([HANDS.index(h) for h in _hands], dtype=np.int64)
HAND_INDEX.setflags(write=False)
#: (right, left) index pairs of mirror joints, used by horizontal-flip augmentation.
FLIP_PAIRS: tuple[tuple[int, int], ...] = tuple(
    (j, j + JOINTS_PER_HAND) for j in range(JOINTS_PER_HAND)
)
#: ``FLIP_INDEX[j]`` is the joint that ``j`` becomes after a left/right flip.
FLIP_INDEX: np.ndarray = np.array(
    [(j + JOINTS_PER_HAND) % NUM_JOINTS for j in range(NUM_JOINTS)], dtype=np.int64
)
FLIP_INDEX.setflags(write=False)
#: (child, parent) pairs for drawing and bone lengths.
BONES: tuple[tuple[int, int], ...] = tuple(
    (j, int(p)) for j, p in enumerate(PARENTS) if p >= 0
)

#: Per-finger drawing colours, BGR 0–255 (OpenCV order); the wrist is drawn in grey.
FINGER_COLORS_BGR: dict[str, tuple[int, int, int]] = {
    "thumb": (0, 0, 255),
    "index": (0, 200, 0),
    "middle": (255, 128, 0),
    "ring": (0, 200, 255),
    "pinky": (255, 0, 255),
    "wrist": (160, 160, 160),
}


def hand_slice(hand: str) -> slice:
    """Slice of the 42 joints that belong to ``hand`` ("right" or "left")."""
    h = HANDS.index(_check_hand(hand))
    return slice(h * JOINTS_PER_HAND, (h + 1) * JOINTS_PER_HAND)


def hand_joints(hand: str) -> np.ndarray:
    """Indices of the joints of ``hand``."""
    s = hand_slice(hand)
    return np.arange(s.start, s.stop)


def finger_chain(hand: str, finger: str) -> list[int]:
    """Joint indices of one finger from the wrist to the tip (wrist, *1, *2, *3, *4)."""
    if finger not in FINGERS:
        raise ValueError(f"unknown finger {finger!r}; expected one of {FINGERS}")
    base = hand_slice(hand).start
    f = FINGERS.index(finger)
    return [ROOT_INDEX[hand]] + [base + 4 * f + k for k in (3, 2, 1, 0)]


def joint_index(name: str) -> int:
    """Index of the joint called ``name`` (e.g. ``"l_index4"``)."""
    try:
        return JOINT_NAMES.index(name)
    except ValueError:
        raise ValueError(f"unknown joint name {name!r}") from None


def joint_color_bgr(j: int) -> tuple[int, int, int]:
    """Drawing colour of joint ``j``: its finger's colour."""
    return FINGER_COLORS_BGR[FINGER_OF_JOINT[j]]


def skeleton_txt() -> str:
    """InterHand2.6M ``skeleton.txt``: a comment line, then ``name id parent`` per joint."""
    lines = ["# joint_name joint_id joint_parent_id"]
    pairs = zip(JOINT_NAMES, PARENTS, strict=True)
    lines += [f"{n} {j} {int(p)}" for j, (n, p) in enumerate(pairs)]
    return "\n".join(lines) + "\n"


def _check_hand(hand: str) -> str:
    if hand not in HANDS:
        raise ValueError(f"unknown hand {hand!r}; expected one of {HANDS}")
    return hand
