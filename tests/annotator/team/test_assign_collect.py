"""A team on a synthetic capture: packages out, simulated annotators, answers back."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from annotator.session.simulate import simulate_annotator
from annotator.store import ProjectStore
from annotator.store.team_files import read_answers, read_gold, read_ledger
from annotator.team.assign import assign
from annotator.team.collect import collect
from annotator.team.package import SEQUENCE, package_info

NOISE = {"ann": 0.5, "bob": 1.0, "cid": 4.0}


def _deal(project: Path, out: Path, names=("ann", "bob", "cid"), **kw):
    with ProjectStore.open(project, mode="w") as store:
        return assign(store, list(names), out, instants="all", gold=kw.pop("gold", 0.2),
                      repeat=kw.pop("repeat", 0.25), seed=kw.pop("seed", 0), **kw)


def _label(package: Path, noise: float, seed: int = 0):
    with ProjectStore.open(package, mode="w") as pkg:
        name = package_info(pkg)["annotator"]
        simulate_annotator(pkg, fraction=1.0, noise_px=noise, seed=seed, annotator=name,
                           click_seconds=3.0)


def _digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def test_packages_share_the_images_and_hide_which_instants_are_gold(team_project, tmp_path):
    records = _deal(team_project, tmp_path / "pk")
    ledger = read_ledger(team_project)
    assert [p.annotator for p in ledger.packages] == ["ann", "bob", "cid"]
    with ProjectStore.open(team_project) as proj:
        for r in records:
            folder = Path(r.path)
            assert not any(p.suffix == ".jpg" for p in folder.rglob("*"))  # no image copied
            with ProjectStore.open(folder) as pkg:
                info = package_info(pkg)
                assert info["annotator"] == r.annotator and info["id"] == r.id
                assert info["project_id"] == proj.metadata["project_id"]
                table = pkg.instants()
                assert set(table.sequence.tolist()) == {SEQUENCE}
                assert table.frame.tolist() == list(range(r.instants.size))
                text = (folder / "project.toml").read_text()
                assert "gold" not in text and "repeat" not in text
                for k, i in enumerate(r.instants.tolist()):
                    assert pkg.image_paths(k) == proj.image_paths(i)
                    g, pg = proj.ground_truth(i), pkg.ground_truth(k)
                    assert np.array_equal(g.joints_world_mm, pg.joints_world_mm, equal_nan=True)
                assert pkg.instant_attr("subject").tolist() == \
                    proj.instant_attr("subject")[r.instants].tolist()
        gold_i, gold_j = read_gold(team_project, 42)
        expect = np.unique(np.concatenate([r.instants[r.kinds == "gold"] for r in records]))
        assert np.array_equal(gold_i, expect)
        present = np.repeat(proj.ground_truth(int(gold_i[0])).hand_present, 21)
        assert np.isfinite(gold_j[0][present]).all() and np.isnan(gold_j[0][~present]).all()


def test_collect_writes_work_only_keeps_provenance_and_is_idempotent(team_project, tmp_path):
    records = _deal(team_project, tmp_path / "pk")
    for r in records:
        _label(Path(r.path), NOISE[r.annotator])
    with ProjectStore.open(team_project, mode="w") as store:
        result = collect(store, [r.path for r in records])
    assert all(changed for *_, changed in result.packages)
    labels_h5 = team_project / "labels.h5"
    before = {p.name: _digest(p) for p in (team_project / "team" / "answers").glob("*.h5")}
    before["labels.h5"] = _digest(labels_h5)
    with ProjectStore.open(team_project, mode="w") as store:
        again = collect(store, [r.path for r in records])
    assert again.written.size == 0 and not any(c for *_, c in again.packages)
    after = {p.name: _digest(p) for p in (team_project / "team" / "answers").glob("*.h5")}
    after["labels.h5"] = _digest(labels_h5)
    assert after == before
    work = {int(i) for r in records for i in r.instants[r.kinds == "work"]}
    with ProjectStore.open(team_project) as store:
        labelled = set(store.labelled_instants("human").tolist())
        assert labelled == work  # every instant was dealt as work: all labelled
        # provenance: each instant's joints and clicks carry the work owner's name and times
        by_owner = {int(i): r for r in records for i in r.instants[r.kinds == "work"]}
        for i in sorted(work)[:6]:
            lab = store.labels(i)
            clicks = store.click_records(i)
            names = set(lab.annotator[lab.joint_source == "human"].tolist())
            assert len(names) == 1 and set(clicks.annotator.tolist()) == names
            owner = by_owner[i]
            ans = read_answers(team_project, owner.id)
            k = int(np.flatnonzero((owner.instants == i) & (owner.kinds == "work"))[0])
            if names != {owner.annotator}:  # a repeat answer won (lower gold error)
                continue
            assert np.allclose(np.sort(clicks.time), np.sort(ans.click_time[ans.click_row == k]))


def test_repeated_instant_keeps_the_answer_of_the_annotator_with_lower_gold_error(
        team_project, tmp_path):
    records = _deal(team_project, tmp_path / "pk", names=("ann", "cid"), repeat=0.5)
    for r in records:
        _label(Path(r.path), NOISE[r.annotator])
    with ProjectStore.open(team_project, mode="w") as store:
        collect(store, [r.path for r in records])
        cid = next(r for r in records if r.annotator == "cid")
        shared = np.setdiff1d(cid.instants[cid.kinds == "repeat"],
                              cid.instants[cid.kinds == "work"])  # ann's work, repeated by cid
        assert shared.size
        for i in shared.tolist():
            lab = store.labels(i)
            assert set(lab.annotator[lab.joint_source == "human"].tolist()) == {"ann"}
        ann = next(r for r in records if r.annotator == "ann")
        for i in np.setdiff1d(ann.instants[ann.kinds == "repeat"],
                              ann.instants[ann.kinds == "work"]).tolist():  # cid's, by ann
            lab = store.labels(i)
            assert set(lab.annotator[lab.joint_source == "human"].tolist()) == {"ann"}


def test_a_later_edit_in_the_project_is_never_overwritten(team_project, tmp_path):
    records = _deal(team_project, tmp_path / "pk", names=("ann",), gold=0.0, repeat=0.0)
    pkg_dir = Path(records[0].path)
    _label(pkg_dir, 1.0)
    with ProjectStore.open(team_project, mode="w") as store:
        collect(store, [pkg_dir])
        i = int(records[0].instants[0])
        j = int(np.flatnonzero(store.labels(i).joint_source == "human")[0])
        fixed = store.labels(i).joints_world_mm.copy()
        fixed[np.arange(42) != j] = np.nan
        fixed[j] += 1.0
        store.set_joints_3d(i, fixed, source="human", annotator="reviewer")
    _label(pkg_dir, 2.0, seed=9)  # the annotator works again: every answer changes
    with ProjectStore.open(team_project, mode="w") as store:
        result = collect(store, [pkg_dir])
        assert i in result.kept.tolist() and i not in result.written.tolist()
        assert result.written.size == records[0].instants.size - 1
        lab = store.labels(i)
        assert lab.annotator[j] == "reviewer"
        assert np.allclose(lab.joints_world_mm[j], fixed[j])


def test_a_package_of_another_project_or_no_package_is_a_one_line_error(
        team_project, team_master, tmp_path):
    other = tmp_path / "other"
    from tests._support.synth_project import copy_project

    copy_project(team_master, other)
    (rec,) = _deal(other, tmp_path / "pk-other", names=("ann",))
    _deal(team_project, tmp_path / "pk", names=("ann",))
    with ProjectStore.open(team_project, mode="w") as store:
        with pytest.raises(ValueError, match="not of") as err:
            collect(store, [rec.path])
        assert "\n" not in str(err.value)
        with pytest.raises(ValueError, match="not a work package"):
            collect(store, [tmp_path])
        with pytest.raises(ValueError, match="a project, not a work package"):
            collect(store, [other])
    assert not (team_project / "team" / "answers").exists()


def test_assign_never_overwrites_a_package(team_project, tmp_path):
    _deal(team_project, tmp_path / "pk", names=("ann",))
    stamp = os.stat(tmp_path / "pk" / "ann" / "labels.h5").st_mtime_ns \
        if (tmp_path / "pk" / "ann" / "labels.h5").exists() else None
    with pytest.raises(ValueError, match="never overwritten"):
        _deal(team_project, tmp_path / "pk", names=("bob", "ann"))
    assert not (tmp_path / "pk" / "bob").exists()
    if stamp is not None:
        assert os.stat(tmp_path / "pk" / "ann" / "labels.h5").st_mtime_ns == stamp
    with pytest.raises(ValueError, match="annotator name"):
        _deal(team_project, tmp_path / "pk2", names=("a/b",))


def test_a_package_cut_before_a_calibration_change_is_triangulated_with_the_new_cameras(
        team_project, tmp_path):
    from annotator.session.instant import triangulate_clicks
    from tests._support.rigs import perturb_rig

    (rec,) = _deal(team_project, tmp_path / "pk", names=("ann",), gold=0.0, repeat=0.0)
    _label(Path(rec.path), 1.0)
    with ProjectStore.open(team_project, mode="w") as store:
        store.set_calibration({c: perturb_rig(r, 0.5, 5.0, seed=1) for c, r in
                               store.rigs.items()}, note="moved")
    with ProjectStore.open(team_project, mode="w") as store:
        collect(store, [rec.path])
        i = int(rec.instants[0])
        lab = store.labels(i)
        rig = store.rig(store.instant(i).capture)
        cams = [store.camera_index(n) for n in rig.names]
        want = triangulate_clicks(lab.clicks_uv_px[cams], store.view_states(i)[cams], rig)
        human = lab.joint_source == "human"
        assert human.any()
        assert np.allclose(lab.joints_world_mm[human], want[human])
        with ProjectStore.open(rec.path) as pkg:
            old = pkg.labels(0).joints_world_mm[human]
        assert np.abs(old - want[human]).max() > 0.5  # the package's 3D was not copied
