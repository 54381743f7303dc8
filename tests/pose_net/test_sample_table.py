"""Samples as columns (``SampleTable``): the same samples as one record per image built from
the in-memory reader, sequence behaviour, the batched root items, DataLoader workers and the
evaluation, and the bench that measures memory at scale."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from annotator.interchange import InterHandLayout, read_interhand, rig_from_interhand
from annotator.store import ProjectStore
from pose_net.config import get_config
from pose_net.data import InterNetDataset, RootNetDataset, interhand_samples, load_samples
from pose_net.data.sample import HandSample, root_gated_valid, select_hands
from pose_net.data.sample_table import SampleTable
from pose_net.data.torch_dataset import root_items
from pose_net.evaluate import evaluate
from pose_net.internet import InterNet
from tests._bench_loader import load_bench
from tests.pose_net._data_support import (  # one_torch_thread: autouse fixture
    interhand_sample_root,
    one_torch_thread,  # noqa: F401
    synth_project,
)

REPO = Path(__file__).resolve().parents[2]
_PRESENT = {"right": (1.0, 0.0), "left": (0.0, 1.0), "interacting": (1.0, 1.0)}


def _reference(root: Path, split: str) -> list[HandSample]:
    """One HandSample per image from the in-memory reader (``read_interhand``), written out
    plainly from the public loader's conventions: the oracle the table must reproduce."""
    lay = InterHandLayout(root, split)
    ih = read_interhand(lay.data, lay.camera, lay.joint_3d)
    sizes: dict[str, dict[str, tuple[int, int]]] = {}
    for im in ih.images:
        sizes.setdefault(im.capture, {})[im.camera] = (im.width, im.height)
    rigs = {cap: rig_from_interhand({n: c for n, c in cams.items() if n in sizes[cap]},
                                    sizes[cap])
            for cap, cams in ih.cameras.items() if cap in sizes}
    out = []
    for im, an in zip(ih.images, ih.annotations, strict=True):
        valid = root_gated_valid(np.asarray(an.joint_valid, dtype=bool))
        bbox = np.asarray(an.bbox_xywh, dtype=np.float64)
        if not valid.any() or bbox[2] <= 0 or bbox[3] <= 0:
            continue
        cam = rigs[im.capture][im.camera]
        xyz = np.asarray(ih.frames[im.capture][str(im.frame_idx)].world_coord_mm, np.float64)
        jc = xyz @ cam.R.T + cam.t
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = jc[:, :2] / jc[:, 2:3] * cam.K[[0, 1], [0, 1]] + cam.K[:2, 2]
        out.append(HandSample(lay.images_dir / im.file_name, cam, jc, uv, valid,
                              np.array(_PRESENT[an.hand_type], np.float32),
                              bool(an.hand_type_valid), bbox,
                              f"{im.capture}/{im.frame_idx}/{im.camera}", int(im.subject)))
    return out


def _assert_same(a: HandSample, b: HandSample) -> None:
    """Bit-identical fields (NaN equal to NaN), cameras included."""
    assert str(a.image_path) == str(b.image_path)
    assert (a.key, a.subject, a.hand_type_valid) == (b.key, b.subject, b.hand_type_valid)
    for name in ("joints_cam_mm", "joints_uv_px", "joint_valid", "hand_type", "bbox_xywh"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    for name in ("K", "dist", "R", "t"):
        np.testing.assert_array_equal(getattr(a.camera, name), getattr(b.camera, name))
    assert (a.camera.name, a.camera.width, a.camera.height) == (
        b.camera.name, b.camera.width, b.camera.height)


def _generated_split(root: Path, n: int = 2400) -> Path:
    """bench/_interhand_gen.py's official-schema split, with edge cases written in: a hand
    whose root is not valid, an empty box, an image with no valid joint, a left-only image
    and an invalid hand type."""
    gen = load_bench("_interhand_gen")
    gen.write_split(root, "train", n, images=False)
    data = root / "annotations/train/InterHand2.6M_train_data.json"
    obj = json.loads(data.read_text())
    anns = obj["annotations"]
    anns[3]["joint_valid"][20] = [0]  # right root invalid: the right hand's joints drop
    anns[5]["bbox"][2] = 0  # empty box: no sample
    anns[7]["joint_valid"] = [[0]] * 42  # nothing valid: no sample
    anns[11]["hand_type"] = "left"
    anns[13]["hand_type_valid"] = 0
    data.write_text(json.dumps(obj))
    return root


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    return _generated_split(tmp_path_factory.mktemp("gen") / "ih")


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    return synth_project(tmp_path_factory.mktemp("st") / "studio", cameras=6, instants=6)


def test_interhand_table_equals_the_per_image_records(generated):
    table = interhand_samples(generated, "train")
    ref = _reference(generated, "train")
    assert isinstance(table, SampleTable)
    assert len(table) == len(ref) == 2400 - 2  # the empty box and the all-invalid image
    for a, b in zip(table, ref, strict=True):
        _assert_same(a, b)
    # the edge cases are really in there
    assert sum(not s.hand_type_valid for s in table) == 1
    assert sum(s.hand_type_name == "left" for s in table) == 1
    assert not table[3].joint_valid[:21].any() and table[3].joint_valid[21:].all()
    # ~100 bytes of columns per image (no Python object per image)
    assert table.nbytes() / len(table) < 150


def test_interhand_table_on_the_real_sample(realdata_dir, tmp_path):
    root = interhand_sample_root(realdata_dir("interhand2.6m_sample"), tmp_path / "ih")
    table = interhand_samples(root)
    ref = _reference(root, "test")
    assert len(table) == len(ref) == 4
    for a, b in zip(table, ref, strict=True):
        _assert_same(a, b)
        assert a.image_path.is_file()


def test_project_table_items_and_subjects(studio):
    everything = load_samples(studio, labels="ground-truth").samples
    with ProjectStore.open(studio) as store:
        paths = {(store.instant(i).capture, store.instant(i).frame, c): p
                 for i in range(store.num_instants)
                 for c, p in zip(store.camera_names, store.image_paths(i), strict=True)}
    for s in everything:
        cap, frame, cam = s.key.split("/")
        assert s.image_path == paths[(cap, int(frame), cam)] and s.image_path.is_file()
    by_subject = [load_samples(studio, labels="ground-truth", subjects=[k]).samples
                  for k in ("0", "1")]
    assert sorted(len(t) for t in by_subject) == sorted(
        int((everything.subject == k).sum()) for k in (0, 1))
    for t, k in zip(by_subject, (0, 1), strict=True):
        for a, b in zip(t, everything.take(everything.subject == k), strict=True):
            _assert_same(a, b)


def test_sequence_behaviour(generated):
    table = interhand_samples(generated, "train")
    n = len(table)
    sub = table[1:40:3]
    assert isinstance(sub, SampleTable) and len(sub) == len(range(1, 40, 3))
    for k, i in enumerate(range(1, 40, 3)):
        _assert_same(sub[k], table[i])
    _assert_same(table[-1], table[n - 1])
    picked = table.take(np.array([5, 2, 5]))
    _assert_same(picked[0], table[5])
    _assert_same(picked[2], table[5])
    assert len(table[np.zeros(n, bool)]) == 0
    with pytest.raises(IndexError, match="out of range"):
        table[n]
    with pytest.raises(IndexError, match="out of range"):
        table.take([n])
    with pytest.raises(IndexError, match="mask"):
        table.take(np.ones(3, bool))
    two = select_hands(table, "interacting")
    one = select_hands(table, "single")
    assert isinstance(two, SampleTable) and len(two) + len(one) == n
    assert all(s.hand_type_name == "interacting" for s in two)
    assert [s.key for s in select_hands(list(table), "single")] == [s.key for s in one]


@pytest.mark.parametrize("source", ["generated", "studio"])
def test_batched_root_items_equal_the_per_sample_rule(source, generated, studio):
    table = (interhand_samples(generated, "train") if source == "generated"
             else load_samples(studio, labels="ground-truth").samples)
    batched = root_items(table)
    per_sample = root_items(list(table))
    assert batched.shape[1] == 2 and len(batched) > len(table) // 2
    np.testing.assert_array_equal(batched, per_sample)
    np.testing.assert_array_equal(table.root_items(chunk=7), batched)  # chunking changes nothing
    np.testing.assert_array_equal(
        table.joints_uv_px(np.arange(len(table))),
        np.stack([s.joints_uv_px for s in table]))


def test_dataloader_workers_give_the_list_items(studio):
    table = load_samples(studio, labels="ground-truth").samples[:12]
    config = get_config("cpu-small")
    ds_table = InterNetDataset(table, config, augment=True, seed=3)
    ds_list = InterNetDataset(list(table), config, augment=True, seed=3)
    assert ds_table.samples is table  # kept as columns
    forked = list(DataLoader(ds_table, batch_size=4, num_workers=2,
                             multiprocessing_context="fork"))
    inline = list(DataLoader(ds_list, batch_size=4, num_workers=0))
    assert len(forked) == len(inline) == 3
    for a, b in zip(forked, inline, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    roots = RootNetDataset(table, 64, augment=False)
    assert len(roots) == len(root_items(list(table)))
    item = roots[0]
    assert item["image"].shape == (3, 64, 64) and np.isfinite(item["depth_mm"])


def test_evaluation_of_a_table_equals_that_of_a_list(studio):
    torch.manual_seed(0)
    model = InterNet(get_config("cpu-small")).eval()
    table = load_samples(studio, labels="ground-truth").samples[::2]
    a = evaluate(model, table, batch_size=8)
    b = evaluate(model, list(table), batch_size=8)
    assert a.n_samples == b.n_samples == len(table)
    assert json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)


def test_scale_bench_runs_and_reports_memory(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench/internet_data_scale.py"), "3200", "--items", "1500",
         "--workers", "2", "--steps", "samples,loader", "--dir", str(tmp_path / "w"),
         "--json", str(out)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["samples"]["samples"] == 3200
    loader = res["loader"]
    assert loader["items"] == 1500 and loader["workers"] == 2
    assert 0 < loader["workers_private_mb"] < loader["workers_rss_mb"]
    assert res["samples"]["columns_mb"] * 2**20 / 3200 < 150


def test_a_table_pickles_for_spawned_workers(studio):
    """DataLoader workers started by ``spawn`` (macOS, Windows) get the dataset pickled."""
    import pickle

    table = load_samples(studio, labels="ground-truth").samples
    back = pickle.loads(pickle.dumps(table))
    assert isinstance(back, SampleTable) and len(back) == len(table)
    for a, b in zip(table, back, strict=True):
        _assert_same(a, b)
