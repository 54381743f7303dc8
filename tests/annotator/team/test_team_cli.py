"""The team commands end to end: assign, simulate-annotator on packages, collect, qc."""

from __future__ import annotations

import json

import numpy as np

from annotator.cli.main import main
from annotator.store import ProjectStore
from tests._support.cli import run_cli

KEYS = {"name", "instants", "joints", "joints_per_hour", "gold_median_mm", "gold_p90_mm",
        "repeat_median_mm", "bone_flagged_share"}


def test_a_simulated_team_through_the_commands(team_project, tmp_path, capsys):
    pk = tmp_path / "pk"
    assert main(["assign", str(team_project), "--annotators", "ann,cid", "--instants", "all",
                 "--gold", "0.2", "--repeat", "0.3", "--out", str(pk)]) == 0
    for name, noise in (("ann", "0.5"), ("cid", "4")):
        assert main(["simulate-annotator", str(pk / name), "--noise-px", noise,
                     "--click-seconds", "3"]) == 0
        with ProjectStore.open(pk / name) as pkg:  # the whole queue, under the package's name
            assert pkg.labelled_instants("human").size == pkg.num_instants
            lab = pkg.labels(0)
            assert set(lab.annotator[lab.joint_source == "human"].tolist()) == {name}
    capsys.readouterr()
    assert main(["collect", str(team_project), str(pk / "ann"), str(pk / "cid"),
                 "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert [p["annotator"] for p in first["packages"]] == ["ann", "cid"]
    assert all(p["changed"] for p in first["packages"]) and first["written"]
    assert main(["collect", str(team_project), str(pk / "ann"), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["written"] == [] and not again["packages"][0]["changed"]
    assert main(["status", str(team_project), "--json"]) == 0
    team = json.loads(capsys.readouterr().out)["team"]
    assert team == {"packages": 2, "annotators": ["ann", "cid"], "collected": 2}
    assert main(["status", str(pk / "cid"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["team"]["annotator"] == "cid"
    out_json, out_html = tmp_path / "qc.json", tmp_path / "qc.html"
    assert main(["qc", str(team_project), "--json", str(out_json), "--html",
                 str(out_html)]) == 0
    report = json.loads(out_json.read_text())
    rows = {a["name"]: a for a in report["annotators"]}
    assert set(rows) == {"ann", "cid"} and all(KEYS <= set(a) for a in rows.values())
    assert rows["ann"]["gold_median_mm"] < rows["cid"]["gold_median_mm"]
    assert rows["ann"]["gold_p90_mm"] >= rows["ann"]["gold_median_mm"]
    assert rows["ann"]["repeat_median_mm"] is not None
    for a in rows.values():
        # a paced clock of ~3 s per click, two clicks per joint: about 600 joints per hour
        assert 200 < a["joints_per_hour"] < 1200
        assert 0.0 <= a["bone_flagged_share"] <= 1.0
        assert a["clicks_per_joint"] >= 2.0
    page = out_html.read_text()
    assert "<svg" in page and "ann" in page and "gold" in page.lower()
    text = capsys.readouterr().out
    assert "ann" in text and "cid" in text


def test_collect_and_qc_refuse_what_is_not_theirs_in_one_line(team_project, team_master,
                                                              tmp_path):
    from tests._support.synth_project import copy_project

    other = copy_project(team_master, tmp_path / "other")
    r = run_cli("assign", other, "--annotators", "ann", "--instants", "all", "--out",
                tmp_path / "pk-other")
    assert r.returncode == 0, r.stderr
    r = run_cli("qc", team_project)
    assert r.returncode == 2 and "assign" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_cli("assign", team_project, "--annotators", "ann", "--instants", "all", "--out",
                tmp_path / "pk")
    assert r.returncode == 0, r.stderr
    before = (team_project / "labels.h5").read_bytes() \
        if (team_project / "labels.h5").exists() else None
    r = run_cli("collect", team_project, tmp_path / "pk-other" / "ann")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "not of" in r.stderr
    after = (team_project / "labels.h5").read_bytes() \
        if (team_project / "labels.h5").exists() else None
    assert before == after
    r = run_cli("assign", team_project, "--annotators", "x,x", "--out", tmp_path / "pk2")
    assert r.returncode == 2 and "twice" in r.stderr
    r = run_cli("assign", team_project, "--annotators", "x", "--gold", "1.5", "--out",
                tmp_path / "pk3")
    assert r.returncode == 2 and "--gold" in r.stderr


def test_the_app_opens_a_package(team_project, tmp_path):
    assert main(["assign", str(team_project), "--annotators", "ann", "--instants", "0-5",
                 "--gold", "0", "--repeat", "0", "--out", str(tmp_path / "pk")]) == 0
    png = tmp_path / "shot.png"
    assert main(["gui", str(tmp_path / "pk" / "ann"), "--screenshot", str(png), "--size",
                 "900x600"]) == 0
    assert png.stat().st_size > 10_000
    with ProjectStore.open(tmp_path / "pk" / "ann") as pkg:
        assert pkg.num_instants == 6
        assert np.array_equal(pkg.instants().frame, np.arange(6))
