"""Samples from a project: labels by source, camera-frame joints, projected 2D and boxes,
subjects held out, skipped images; the torch datasets."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.interchange import enlarged_bbox_xywh
from annotator.skeleton import HANDS, ROOT_INDEX, hand_slice
from annotator.store import ProjectStore
from pose_net.config import get_config
from pose_net.data import InterNetDataset, RootNetDataset, load_samples, project_samples
from tests.pose_net._data_support import (  # one_torch_thread: autouse fixture
    ground_truth_as_human,
    one_torch_thread,  # noqa: F401
    synth_project,
)
from triangulation import project


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    path = synth_project(tmp_path_factory.mktemp("pn") / "studio")
    ground_truth_as_human(path, instants=[0, 1])
    return path


def test_ground_truth_samples_match_the_cameras(studio):
    with ProjectStore.open(studio) as store:
        samples = project_samples(store, labels="ground-truth")
        table = store.instants()
        assert len(samples) > 0
        for s in samples[::5]:
            cap, frame, cam_name = s.key.split("/")
            i = int(np.nonzero((table.capture == cap) & (table.frame == int(frame)))[0][0])
            gt = store.ground_truth(i)
            rig = store.rig(cap)
            k = rig.names.index(cam_name)
            cam = rig[k]
            has = np.all(np.isfinite(gt.joints_world_mm), axis=1)
            # Camera frame with the camera's R, t; pixels with distortion (project).
            np.testing.assert_allclose(s.joints_cam_mm[has],
                                       gt.joints_world_mm[has] @ cam.R.T + cam.t, atol=1e-9)
            np.testing.assert_allclose(s.joints_uv_px[has],
                                       project(gt.joints_world_mm[has], rig)[:, k], atol=1e-9)
            # The studio's own 2D ground truth agrees.
            c = store.camera_names.index(cam_name)
            np.testing.assert_allclose(s.joints_uv_px[has], gt.uv_px[c][has], atol=1e-3)
            np.testing.assert_array_equal(s.hand_type, gt.hand_present.astype(np.float32))
            np.testing.assert_allclose(s.bbox_xywh,
                                       enlarged_bbox_xywh(s.joints_uv_px, s.joint_valid))
            assert s.joint_valid.tolist() == has.tolist()
            assert s.subject == int(store.instant_attr("subject")[i])


def test_labels_choose_the_source(studio):
    with ProjectStore.open(studio) as store:
        human = project_samples(store, labels="human")
        everything = project_samples(store, labels="all")
        gt = project_samples(store, labels="ground-truth")
        assert {s.key.rsplit("/", 1)[0] for s in human} == {
            f"{store.instant(i).capture}/{store.instant(i).frame}" for i in (0, 1)}
        assert len(everything) == len(human) < len(gt)
        assert len(project_samples(store, labels="machine")) == 0
        with pytest.raises(ValueError, match="labels must be"):
            project_samples(store, labels="robot")


def test_held_out_subjects(studio):
    with ProjectStore.open(studio) as store:
        subj = store.instant_attr("subject")
        a = project_samples(store, labels="ground-truth", subjects=["0"])
        b = project_samples(store, labels="ground-truth", exclude_subjects=["0"])
        assert {s.subject for s in a} == {0} and {s.subject for s in b} == set(subj) - {0}
        assert len(a) + len(b) == len(project_samples(store, labels="ground-truth"))
        with pytest.raises(ValueError, match="subject 7"):
            project_samples(store, labels="ground-truth", subjects=["7"])


def test_out_of_frame_and_absent_hands_give_no_sample(studio):
    with ProjectStore.open(studio) as store:
        samples = project_samples(store, labels="ground-truth")
        n_images = sum(p is not None for i in range(store.num_instants)
                       for p in store.image_paths(i))
    for s in samples:
        inside = ((s.joints_uv_px >= -0.5) & (s.joints_uv_px <= np.array(s.camera.size) - 0.5))
        assert (inside.all(axis=1) & s.joint_valid).any()
        for h, hand in enumerate(HANDS):
            if s.hand_type[h] == 0:
                assert not s.joint_valid[hand_slice(hand)].any()
            else:
                assert s.joint_valid[ROOT_INDEX[hand]]
    assert len(samples) <= n_images


def test_hands_splits_the_samples_by_the_instants_hands(studio):
    from pose_net.cli.train_internet import HAND_TYPE_CHOICES as CLI_TYPES
    from pose_net.cli.train_internet import HANDS_CHOICES as CLI_CHOICES
    from pose_net.data.project_dataset import HAND_TYPE_CHOICES
    from pose_net.data.sample import HANDS_CHOICES

    assert CLI_CHOICES == HANDS_CHOICES and CLI_TYPES == HAND_TYPE_CHOICES
    every = load_samples(studio, labels="ground-truth").samples
    single = load_samples(studio, labels="ground-truth", hands="single").samples
    two = load_samples(studio, labels="ground-truth", hands="interacting").samples
    with ProjectStore.open(studio) as store:
        n_hands = {f"{store.instant(i).capture}/{store.instant(i).frame}":
                   int(store.ground_truth(i).hand_present.sum())
                   for i in range(store.num_instants)}
    assert single and two  # the studio renders both kinds
    assert all(n_hands[s.key.rsplit("/", 1)[0]] == 1 for s in single)
    assert all(n_hands[s.key.rsplit("/", 1)[0]] == 2 for s in two)
    # a partition, in the source's order
    assert [s.key for s in every] == sorted([s.key for s in [*single, *two]],
                                            key=[s.key for s in every].index)
    assert len(single) + len(two) == len(every)


def test_hands_with_no_such_image_is_a_clear_error(tmp_path):
    path = synth_project(tmp_path / "one-kind", cameras=4, instants=4, subjects=1)
    with ProjectStore.open(path) as store:
        two = [i for i in range(store.num_instants)
               if store.ground_truth(i).hand_present.all()]
    assert two  # the studio renders interacting instants
    ground_truth_as_human(path, instants=two[:1])  # human labels on two-hand images only
    with pytest.raises(ValueError, match="--hands single: none of the .* samples shows one "
                                         "hand"):
        load_samples(path, labels="human", hands="single")
    assert load_samples(path, labels="human", hands="interacting").samples


def test_source_errors(studio, tmp_path):
    with pytest.raises(ValueError, match="--split applies"):
        load_samples(studio, split="train")
    with pytest.raises(ValueError, match="neither a project"):
        load_samples(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_samples(tmp_path / "missing")
    with pytest.raises(ValueError, match="no usable sample"):
        load_samples(studio, labels="machine")


def test_torch_datasets_give_fixed_shapes_and_epoch_keyed_augmentation(studio):
    cfg = get_config("cpu-small")
    samples = load_samples(studio, labels="ground-truth").samples
    ds = InterNetDataset(samples, cfg, augment=True, seed=5)
    a, b, c = ds[(0, 3)], ds[(0, 3)], ds[(1, 3)]
    assert a["image"].shape == (3, cfg.input_px, cfg.input_px)
    assert a["image"].dtype == np.float32 and 0 <= a["image"].min() and a["image"].max() <= 1
    np.testing.assert_array_equal(a["image"], b["image"])  # same (epoch, index): same crop
    assert not np.array_equal(a["image"], c["image"])  # next epoch: another draw
    rd = RootNetDataset(samples, cfg.input_px, augment=False)
    item = rd[0]
    n, h = rd.items[0]
    assert item["depth_mm"] == pytest.approx(samples[n].joints_cam_mm[ROOT_INDEX[HANDS[h]], 2])
    assert item["window_area_px"] > 0


def test_hand_type_is_a_target_only_where_people_decided_it(studio, tmp_path):
    """Ground truth and instants with a human joint teach handedness; an instant that only
    the machine stage labelled keeps its joints for the pose and not its hand type."""
    import shutil

    path = tmp_path / "p"
    shutil.copytree(studio, path)
    machine, mixed = 2, 3
    with ProjectStore.open(path, mode="w") as store:
        for i in (machine, mixed):
            store.set_joints_3d(i, store.ground_truth(i).joints_world_mm, source="machine",
                                annotator="machine-labeler")
        xyz = store.ground_truth(mixed).joints_world_mm
        one = np.full_like(xyz, np.nan)
        j = int(np.nonzero(np.isfinite(xyz[:, 0]))[0][0])
        one[j] = xyz[j]
        store.set_joints_3d(mixed, one, source="human", annotator="person")
    with ProjectStore.open(path) as store:
        instant_of = {f"{store.instant(i).capture}/{store.instant(i).frame}": i
                      for i in range(store.num_instants)}

        def decided(table):
            out: dict[int, set] = {}
            for s in table:
                out.setdefault(instant_of[s.key.rsplit("/", 1)[0]], set()).add(s.hand_type_valid)
            return out

        assert decided(project_samples(store, labels="all")) == {
            0: {True}, 1: {True}, machine: {False}, mixed: {True}}
        assert decided(project_samples(store, labels="machine")) == {
            machine: {False}, mixed: {True}}
        assert project_samples(store, labels="ground-truth").hand_type_valid.all()
        # --hand-types stored: every instant's stored presence teaches, the machine's too
        assert decided(project_samples(store, labels="all", hand_types="stored")) == {
            0: {True}, 1: {True}, machine: {True}, mixed: {True}}
        with pytest.raises(ValueError, match="hand types must be one of people, stored"):
            project_samples(store, labels="all", hand_types="machine")
    stored = load_samples(path, labels="machine", hand_types="stored").samples
    assert len(stored) and stored.hand_type_valid.all()
