from __future__ import annotations

import numpy as np
import pytest

from annotator import skeleton as sk


def test_interhand_order_and_roots():
    assert sk.NUM_JOINTS == 42
    assert sk.JOINT_NAMES[0] == "r_thumb4"
    assert sk.JOINT_NAMES[sk.RIGHT_ROOT] == "r_wrist"
    assert sk.JOINT_NAMES[sk.LEFT_ROOT] == "l_wrist"
    assert sk.JOINT_NAMES[sk.JOINTS_PER_HAND] == "l_thumb4"
    assert sk.RIGHT_ROOT == sk.JOINTS_PER_HAND - 1 and sk.LEFT_ROOT == sk.NUM_JOINTS - 1
    assert len(set(sk.JOINT_NAMES)) == sk.NUM_JOINTS


def test_parents_form_two_trees_rooted_at_the_wrists():
    roots = [j for j in range(sk.NUM_JOINTS) if sk.PARENTS[j] < 0]
    assert roots == [sk.RIGHT_ROOT, sk.LEFT_ROOT]
    for j in range(sk.NUM_JOINTS):
        # Walking up reaches the wrist of the same hand, never crossing hands.
        k, steps = j, 0
        while sk.PARENTS[k] >= 0:
            k = int(sk.PARENTS[k])
            steps += 1
            assert steps <= 5
        assert k == sk.ROOT_INDEX[sk.HAND_OF_JOINT[j]]


def test_skeleton_txt_matches_the_public_file_format():
    lines = sk.skeleton_txt().splitlines()
    assert lines[0].startswith("#")
    assert lines[1] == "r_thumb4 0 1"
    assert lines[1 + sk.RIGHT_ROOT] == f"r_wrist {sk.RIGHT_ROOT} -1"
    first_left = sk.JOINTS_PER_HAND
    assert lines[1 + first_left] == f"l_thumb4 {first_left} {first_left + 1}"
    assert len(lines) == 1 + sk.NUM_JOINTS


def test_flip_maps_each_joint_to_its_mirror_and_is_an_involution():
    flip = sk.FLIP_INDEX
    assert np.array_equal(flip[flip], np.arange(sk.NUM_JOINTS))
    for j in range(sk.NUM_JOINTS):
        assert sk.JOINT_NAMES[j][2:] == sk.JOINT_NAMES[flip[j]][2:]
        assert sk.HAND_OF_JOINT[j] != sk.HAND_OF_JOINT[flip[j]]


def test_finger_chain_goes_wrist_to_tip():
    chain = sk.finger_chain("left", "index")
    names = [sk.JOINT_NAMES[j] for j in chain]
    assert names == ["l_wrist", "l_index1", "l_index2", "l_index3", "l_index4"]
    for child, parent in zip(chain[1:], chain[:-1], strict=True):
        assert sk.PARENTS[child] == parent


def test_bad_names_raise():
    with pytest.raises(ValueError, match="unknown hand"):
        sk.hand_slice("middle")
    with pytest.raises(ValueError, match="unknown joint"):
        sk.joint_index("r_toe")
