"""``annotator collect``: bring work packages back into their project.

For each package: its identity is checked (a package of another project, or one the
project never handed out, is a one-line error); everything it holds, per queue row, is
read (clicks with their time, 3D joints with their time, hand presence, the per-view
occluded / locked marks) and kept in ``team/answers/<package>.h5`` (the project's record
of what each annotator answered, gold and repeats included). Then the project's labels are
brought in line with all answers collected so far:

- gold rows never write the project's labels (they measure the annotator);
- every instant somebody answered as *work* or *repeat* gets one answer, chosen by this
  rule: the annotator with the lowest median error on gold (annotators without gold answers
  rank last), then the answer with more 3D joints, then the earlier package (assignment
  order);
- an answer replaces the project's human labels at that instant only when the project has
  none there, or has exactly an answer ``collect`` wrote before (any package's, any
  version): a correction somebody made in the project itself is never overwritten (it is
  reported as kept);
- where the project's calibration changed since the package was cut, the 3D joints are
  triangulated again from the clicks with the project's cameras now.

Collecting the same package twice changes nothing; the answers file is written before the
labels are saved, so an interrupted collect is completed by running it again.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from annotator import skeleton
from annotator.session.instant import triangulate_clicks
from annotator.store import ProjectStore, is_project
from annotator.store.store_labels import VIEW_LOCKED, VIEW_OCCLUDED
from annotator.store.team_files import (
    PackageAnswers,
    TeamLedger,
    answered_packages,
    read_answers,
    read_gold,
    read_ledger,
    write_answers,
)
from annotator.team.assign import PROJECT_ID_KEY
from annotator.team.package import package_info

__all__ = ["CollectResult", "collect", "collected_answers", "gold_distances", "gold_medians",
           "answer_rows"]

J = skeleton.NUM_JOINTS


@dataclass(frozen=True)
class CollectResult:
    """packages: ``(id, annotator, rows answered, answers changed)`` per package given;
    written: instants whose labels changed; kept: instants where a later edit in the project
    was kept over an answer."""

    packages: tuple[tuple[str, str, int, bool], ...]
    written: np.ndarray
    kept: np.ndarray


def collect(store, package_dirs: list[Path]) -> CollectResult:
    """Collect ``package_dirs`` into ``store`` (open for writing; saved). ValueError naming
    the folder when one is not a package of this project."""
    ledger = read_ledger(store.path)
    pid = store.metadata.get(PROJECT_ID_KEY)
    done = []
    for folder in package_dirs:
        record = _check_package(store, ledger, pid, Path(folder))
        with ProjectStore.open(folder, mode="r") as pkg:
            fresh = read_package(pkg, store, record.instants)
        old = read_answers(store.path, record.id)
        changed = not fresh.same_answers(old)
        if changed:
            seen = set(old.seen_digests) if old is not None else set()
            seen |= {d for d in fresh.digests.tolist() if d}
            write_answers(store, replace(fresh, seen_digests=frozenset(seen)))
        done.append((record.id, record.annotator, int((fresh.digests != "").sum()), changed))
    written, kept = resolve(store, ledger)
    store.save()
    return CollectResult(tuple(done), written, kept)


def _check_package(store, ledger: TeamLedger | None, pid, folder: Path):
    if not is_project(folder):
        raise ValueError(f"{folder}: not a work package (no project.toml)")
    with ProjectStore.open(folder, mode="r") as pkg:
        info = package_info(pkg)
    if info is None:
        raise ValueError(f"{folder}: a project, not a work package made by 'annotator assign'")
    if ledger is None or info.get("project_id") != pid:
        raise ValueError(
            f"{folder}: a work package of project {info.get('project_name')!r} "
            f"({info.get('project')}), not of {store.path}"
        )
    record = ledger.package(str(info.get("id")))
    if record is None:
        raise ValueError(f"{folder}: package {info.get('id')!r} is not in {store.path}'s team")
    return record


def read_package(pkg, project, instants: np.ndarray) -> PackageAnswers:
    """Everything a package holds, per row, on the project's camera axis."""
    info = package_info(pkg)
    if pkg.num_instants != instants.size:
        raise ValueError(
            f"{pkg.path}: {pkg.num_instants} instants, but the package was handed out with "
            f"{instants.size}"
        )
    to_project = np.array([project.camera_index(n) for n in pkg.camera_names], np.int64)
    hands = np.full((instants.size, 2), -1, np.int8)
    clicks: list[tuple] = []
    joints: list[tuple] = []
    states: list[tuple] = []
    digests = []
    for k in range(instants.size):
        lab = pkg.labels(k)
        rec = pkg.click_records(k)
        vs = pkg.view_states(k)
        hands[k] = lab.hand_present
        c_rows = [(k, int(to_project[c]), int(j), uv, float(t)) for c, j, uv, t in
                  zip(rec.camera, rec.joint, rec.uv_px, rec.time, strict=True)]
        human = np.flatnonzero((lab.joint_source == "human")
                               & np.isfinite(lab.joints_world_mm[:, 0]))
        j_rows = [(k, int(j), lab.joints_world_mm[j], float(lab.time[j])) for j in human]
        s_rows = [(k, int(to_project[c]), int(j), int(vs[c, j]))
                  for c, j in zip(*np.nonzero(vs), strict=True)]
        clicks += c_rows
        joints += j_rows
        states += s_rows
        digests.append(answer_digest(hands[k], c_rows, j_rows, s_rows))
    return PackageAnswers(
        package=str(info["id"]), annotator=str(info["annotator"]), collected_at=time.time(),
        instants=np.asarray(instants, np.int64), hands=hands,
        click_row=_col(clicks, 0, np.int64), click_camera=_col(clicks, 1, np.int64),
        click_joint=_col(clicks, 2, np.int64),
        click_uv=np.array([r[3] for r in clicks], np.float64).reshape(-1, 2),
        click_time=_col(clicks, 4, np.float64),
        joint_row=_col(joints, 0, np.int64), joint_joint=_col(joints, 1, np.int64),
        joint_xyz=np.array([r[2] for r in joints], np.float64).reshape(-1, 3),
        joint_time=_col(joints, 3, np.float64),
        state_row=_col(states, 0, np.int64), state_camera=_col(states, 1, np.int64),
        state_joint=_col(states, 2, np.int64), state_value=_col(states, 3, np.int8),
        digests=np.array(digests, dtype=object).astype(str),
    )


def _col(rows: list[tuple], k: int, dtype) -> np.ndarray:
    return np.array([r[k] for r in rows], dtype)


def answer_digest(hands, clicks, joints, states) -> str:
    """Digest of one instant's answer: hand presence, clicks ``(row, camera, joint, uv, t)``,
    joints ``(row, joint, xyz, t)`` and marks ``(row, camera, joint, state)``; times are not
    part of it. "" when nothing is answered."""
    if not clicks and not joints and not states and (np.asarray(hands) < 0).all():
        return ""
    h = hashlib.sha1()
    h.update(np.asarray(hands, np.int8).tobytes())
    for c in sorted((r[1], r[2], round(float(r[3][0]), 6), round(float(r[3][1]), 6))
                    for r in clicks):
        h.update(repr(c).encode())
    h.update(b"|")
    for j in sorted((r[1], *(round(float(x), 6) for x in r[2])) for r in joints):
        h.update(repr(j).encode())
    h.update(b"|")
    for s in sorted((r[1], r[2], r[3]) for r in states):
        h.update(repr(s).encode())
    return h.hexdigest()


def _project_digest(store, i: int) -> str:
    """The digest of the project's human work at instant ``i`` (as :func:`answer_digest`)."""
    lab = store.labels(i)
    rec = store.click_records(i)
    vs = store.view_states(i)
    clicks = [(0, int(c), int(j), uv, 0.0) for c, j, uv in
              zip(rec.camera, rec.joint, rec.uv_px, strict=True)]
    human = np.flatnonzero((lab.joint_source == "human") & np.isfinite(lab.joints_world_mm[:, 0]))
    joints = [(0, int(j), lab.joints_world_mm[j], 0.0) for j in human]
    states = [(0, int(c), int(j), int(vs[c, j])) for c, j in zip(*np.nonzero(vs), strict=True)]
    return answer_digest(lab.hand_present, clicks, joints, states)


def answer_rows(a: PackageAnswers, k: int) -> dict:
    """Row ``k`` of ``a`` as arrays: ``clicks`` (camera, joint, uv, time), ``joints``
    (joint, xyz, time), ``states`` (camera, joint, value), ``hands``."""
    c, jn, s = a.click_row == k, a.joint_row == k, a.state_row == k
    return {
        "clicks": (a.click_camera[c], a.click_joint[c], a.click_uv[c], a.click_time[c]),
        "joints": (a.joint_joint[jn], a.joint_xyz[jn], a.joint_time[jn]),
        "states": (a.state_camera[s], a.state_joint[s], a.state_value[s]),
        "hands": a.hands[k],
    }


def gold_distances(store, ledger: TeamLedger,
                   answers: dict[str, PackageAnswers]) -> dict[str, np.ndarray]:
    """``{annotator: (N,) mm}``: the 3D distance of every joint answered on a collected gold
    row to the trusted 3D frozen at assignment (``team/gold.h5``)."""
    inst, ref = read_gold(store.path, J)
    at = {int(i): k for k, i in enumerate(inst.tolist())}
    errs: dict[str, list[np.ndarray]] = {}
    for record in ledger.packages:
        a = answers.get(record.id)
        if a is None:
            continue
        dense = a.joints_dense(J)
        for k in np.flatnonzero(record.kinds == "gold").tolist():
            g = at.get(int(record.instants[k]))
            if g is None:
                continue
            d = np.linalg.norm(dense[k] - ref[g], axis=1)
            errs.setdefault(record.annotator, []).append(d[np.isfinite(d)])
    return {n: np.concatenate(e) for n, e in errs.items()}


def gold_medians(store, ledger: TeamLedger, answers: dict[str, PackageAnswers]) -> dict:
    """``{annotator: median 3D error (mm) on gold}`` over all collected gold rows."""
    return {n: float(np.median(d)) for n, d in gold_distances(store, ledger, answers).items()
            if d.size}


def collected_answers(project, ledger: TeamLedger) -> dict[str, PackageAnswers]:
    """``{package id: answers}`` of every package of ``ledger`` collected into ``project``."""
    answers = {p: read_answers(project, p) for p in answered_packages(project)}
    return {p: a for p, a in answers.items() if a is not None and ledger.package(p)}


def resolve(store, ledger: TeamLedger | None) -> tuple[np.ndarray, np.ndarray]:
    """Bring the project's labels in line with every collected answer (module docstring).
    Returns ``(written, kept)`` instant indices."""
    if ledger is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    answers = collected_answers(store.path, ledger)
    medians = gold_medians(store, ledger, answers)
    seen: set[str] = set()
    best: dict[int, tuple] = {}
    for order, record in enumerate(ledger.packages):
        a = answers.get(record.id)
        if a is None:
            continue
        seen |= a.seen_digests
        for k in np.flatnonzero(record.kinds != "gold").tolist():
            if not a.digests[k]:
                continue
            i = int(record.instants[k])
            key = (medians.get(record.annotator, np.inf), -int((a.joint_row == k).sum()),
                   order, k)
            if i not in best or key < best[i][0]:
                best[i] = (key, record, a, k)
    written, kept = [], []
    for i in sorted(best):
        _, record, a, k = best[i]
        now = _project_digest(store, i)
        if now == a.digests[k]:
            continue
        if now and now not in seen:
            kept.append(i)
            continue
        _write_answer(store, i, a, k, retriangulate=record.calibration_version
                      != store.active_calibration)
        written.append(i)
    return np.array(written, np.int64), np.array(kept, np.int64)


def _write_answer(store, i: int, a: PackageAnswers, k: int, retriangulate: bool) -> None:
    """Replace the human work of project instant ``i`` by row ``k`` of ``a``."""
    names = store.camera_names
    old = store.click_records(i)
    for c, j in zip(old.camera.tolist(), old.joint.tolist(), strict=True):
        store.set_click(i, names[c], j, None)
    vs = store.view_states(i)
    for c, j in zip(*np.nonzero(vs), strict=True):
        store.set_view_state(i, names[c], int(j), occluded=False, locked=False)
    lab = store.labels(i)
    for j in np.flatnonzero(lab.joint_source == "human").tolist():
        store.clear_joint_3d(i, j)
    row = answer_rows(a, k)
    cams, joints, uvs, times = row["clicks"]
    for c, j, uv, t in zip(cams.tolist(), joints.tolist(), uvs, times.tolist(), strict=True):
        store.set_click(i, names[c], j, uv, annotator=a.annotator, time=t)
    for c, j, v in zip(*(x.tolist() for x in row["states"]), strict=True):
        store.set_view_state(i, names[c], j, occluded=bool(v & VIEW_OCCLUDED),
                             locked=bool(v & VIEW_LOCKED))
    jj, xyz, jt = row["joints"]
    if retriangulate and jj.size:
        xyz = _retriangulate(store, i, jj)
    for j, p, t in zip(jj.tolist(), xyz, jt.tolist(), strict=True):
        if not np.isfinite(p).all():
            continue
        full = np.full((J, 3), np.nan)
        full[j] = p
        store.set_joints_3d(i, full, source="human", annotator=a.annotator, time=t)
    for h, v in enumerate(np.asarray(row["hands"]).tolist()):
        store.set_hand_present(i, h, None if v < 0 else bool(v))


def _retriangulate(store, i: int, joints: np.ndarray) -> np.ndarray:
    """(len(joints), 3) the joints triangulated from the (pending) clicks with the project's
    cameras now."""
    rig = store.rig(store.instant(i).capture)
    cams = np.array([store.camera_index(n) for n in rig.names], np.int64)
    clicks = store.labels(i).clicks_uv_px[cams]
    states = store.view_states(i)[cams]
    return triangulate_clicks(clicks, states, rig)[joints]
