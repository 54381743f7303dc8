"""``OUT/report.html``: one self-contained page (pictures embedded as data URIs; the PNGs
also lie in ``OUT/figures/``) from summary.json's dict."""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from annotator.demo.figures import PAPER_MACHINE_MM, PAPER_MACHINE_VIEWS
from annotator.demo.html_text import escape as _e
from annotator.demo.html_text import number as _mm
from annotator.demo.plan import Stage
from annotator.demo.report_tables import paper_tables_section

__all__ = ["render_report", "PAPER_TABLE4"]

#: InterHand2.6M (Moon et al. 2020): InterNet trained on H+M, real Test set, MPJPE single /
#: interacting (mm). The H and M rows are not repeated here: see the paper's Table 4.
PAPER_TABLE4 = {"H+M": (12.16, 16.02)}
PAPER_MRRPE_MM = 32.57

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
 background:#f6f7f9;color:#1d2330}
main{max-width:1100px;margin:0 auto;padding:28px 28px 60px}
h1{font-size:26px;margin:0 0 4px} h2{font-size:19px;margin:34px 0 8px;
 border-bottom:2px solid #dde2ea;padding-bottom:4px}
.sub{color:#5b6475;margin:0 0 18px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(190px,1fr));gap:12px}
.card{background:#fff;border:1px solid #dde2ea;border-radius:10px;padding:12px 14px}
.card .k{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#5b6475}
.card .v{font-size:26px;font-weight:650;margin:2px 0}
.card .n{font-size:12.5px;color:#5b6475}
.good{color:#17803d} .bad{color:#b42318}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13.5px;margin:6px 0}
th,td{border:1px solid #dde2ea;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f6;font-weight:600} td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,monospace;background:#eef1f6;
 padding:1px 4px;border-radius:4px;word-break:break-all}
figure{margin:10px 0;background:#fff;border:1px solid #dde2ea;border-radius:10px;padding:10px}
figure img{max-width:100%;display:block;margin:0 auto}
figcaption{font-size:13px;color:#5b6475;margin-top:6px}
.two{display:grid;grid-template-columns:1fr 1fr;gap:14px;align-items:start}
.note{font-size:13.5px;color:#3b4456}
@media (max-width:800px){.two{grid-template-columns:1fr}}
"""


def _pct(value) -> str:
    return "–" if value is None else f"{100 * float(value):.1f} %"


def _sig(value: float) -> str:
    """Three significant figures, no exponent (0.0482, 1.25, 31.7, 1250)."""
    return f"{value:.3g}" if 0.001 <= abs(value) < 1000 else f"{value:.0f}"


def _setting(value) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else "(default)"
    return "(default)" if value is None else str(value)


def _img(path: Path | None, alt: str) -> str:
    if path is None or not Path(path).exists():
        return f'<p class="note">({_e(alt)}: not produced in this run)</p>'
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}">'


def _card(key: str, value: str, note: str, cls: str = "") -> str:
    return (f'<div class="card"><div class="k">{_e(key)}</div>'
            f'<div class="v {cls}">{value}</div><div class="n">{note}</div></div>')


def _ratio(a, b) -> float | None:
    if a is None or b is None or not b:
        return None
    return float(a) / float(b)


def _headline(s: Mapping) -> str:
    human, machine, base = s["human"], s["machine"], s["baseline"]
    net = s["internet"]
    mean_pose = s.get("internet_mean_pose") or s.get("internet_mean_pose_train") or {}
    r_m = _ratio(machine.get("median_mm"), base.get("median_mm"))
    r_n = _ratio(net.get("mpjpe_all"), mean_pose.get("mpjpe_all"))
    cards = [
        _card("human stage", f"{_mm(human.get('median_mm'))} mm",
              f"median 3D error, {s['size']['human_views']} views clicked "
              f"({s['size']['noise_px']} px noise)"),
        _card("machine labels", f"{_mm(machine.get('median_mm'))} mm",
              (f"median 3D error, all {s['size']['cameras']} views; mean-pose baseline "
               f"{_mm(base.get('median_mm'), 1)} mm"
               + (f" ({r_m:.2f}×)" if r_m is not None else ""))
              if machine.get("joints") != 0 else
              (f"none: the detector found no hand in the {_e(machine.get('instants'))} "
               f"unlabelled instants after {_steps(s, 'train-labeler')} training steps"),
              "good" if r_m is not None and r_m < 0.5 else ("bad" if machine.get("joints") == 0
                                                           else "")),
        _card("InterNet MPJPE", f"{_mm(net.get('mpjpe_single'), 1)} / "
              f"{_mm(net.get('mpjpe_interacting'), 1)}",
              "mm, single / interacting hands, held-out subjects; mean-pose predictor "
              f"{_mm(mean_pose.get('mpjpe_single'), 1)} / "
              f"{_mm(mean_pose.get('mpjpe_interacting'), 1)}",
              "good" if r_n is not None and r_n < 0.8 else ""),
        _card("InterNet MRRPE", f"{_mm(net.get('mrrpe'), 1)} mm",
              f"relative root position; handedness accuracy "
              f"{_pct(net.get('handedness_accuracy'))}"),
        _card("wall time", f"{s['total_seconds'] / 60:.1f} min",
              f"{len(s['seconds'])} stages on {_e(s['machine_info'].get('cores'))} CPU cores"
              + (f" ({sum(s['cpu_seconds'].values()) / 60:.1f} CPU-min)"
                 if s.get("cpu_seconds") else "")
              + (f"; load average up to {max(s['load_average'].values()):.0f}"
                 if s.get("load_average") else "")
              + (f", GPU {_e(s['machine_info']['gpu'])}" if s["machine_info"].get("gpu")
                 else ", no GPU")),
    ]
    return '<div class="cards">' + "".join(cards) + "</div>"


def _steps(s: Mapping, stage: str) -> int:
    """Steps a training stage took (its planned count where the run did not record it);
    for "train-labeler", the machine labeller's steps over every bootstrapping round."""
    if stage == "train-labeler":
        done = sum(int(r.get("steps") or 0) for r in s.get("bootstrap") or [])
        return done or int(s["size"]["labeler_steps"])
    done = (s.get("steps") or {}).get(stage)
    key = "labeler_steps" if stage == "train-labeler" else "internet_steps"
    return int(done) if done else int(s["size"][key])


def _internet_steps(s: Mapping) -> int:
    main = "train-internet-all" if "all" in s["size"]["table4"] else \
        f"train-internet-{s['size']['table4'][0]}"
    return _steps(s, main)


def _verdict(s: Mapping) -> str:
    """What this run shows, in plain words, from its numbers (no claim the numbers lack)."""
    size, human, machine, base = s["size"], s["human"], s["machine"], s["baseline"]
    net = s["internet"]
    mean_pose = s.get("internet_mean_pose") or s.get("internet_mean_pose_train") or {}
    says = []
    if human.get("median_mm") is not None:
        says.append(f"The human stage (simulated clicks in {size['human_views']} views) labels "
                    f"joints to {_mm(human['median_mm'])} mm (median).")
    if machine.get("joints") == 0:
        says.append(f"The machine labeler found no hand after {_steps(s, 'train-labeler')} "
                    "training steps: at this budget the detector has not learnt enough to "
                    "find hands; train longer (<code>annotator train-labeler --steps N "
                    "--resume</code>) or on a GPU (<code>--config paper</code>).")
    else:
        r = _ratio(machine.get("median_mm"), base.get("median_mm"))
        if r is not None:
            says.append(f"Machine labels: {_mm(machine['median_mm'])} mm median, "
                        f"{r:.2f}× the mean-pose baseline ({_mm(base['median_mm'], 1)} mm)"
                        + ("." if r < 0.5 else ": not yet far better than a mean hand."))
    r = _ratio(net.get("mpjpe_all"), mean_pose.get("mpjpe_all"))
    if r is not None:
        says.append(f"InterNet: MPJPE {_mm(net['mpjpe_all'], 1)} mm on held-out subjects, "
                    f"{r:.2f}× a constant mean pose ({_mm(mean_pose['mpjpe_all'], 1)} mm)"
                    + ("." if r < 0.8 else f"; after {_internet_steps(s)} CPU training "
                       "steps it has not yet learnt more than the mean pose."))
    return "<p class='note'>" + " ".join(says) + "</p>" if says else ""


def _stage_table(s: Mapping, stages: Sequence[Stage]) -> str:
    rows = []
    cpu = s.get("cpu_seconds") or {}
    load = s.get("load_average") or {}
    for n, st in enumerate(stages, 1):
        sec = s["seconds"].get(st.name)
        taken = (s.get("steps") or {}).get(st.name)  # a training's steps, from its run
        items = taken or st.items
        rate = f"{_sig(items / sec)} {st.unit}s/s" if sec and items else ""
        if taken:
            rate = f"{taken} steps, {rate}"
        rows.append(
            f"<tr><td>{n}</td><td><b>{_e(st.name)}</b><br><span class='note'>{_e(st.title)}"
            f"</span></td><td><code>{_e(s['commands'].get(st.name, st.command))}</code></td>"
            f"<td class='num'>{'–' if sec is None else f'{sec:.1f} s'}</td>"
            f"<td class='num'>{'–' if cpu.get(st.name) is None else f'{cpu[st.name]:.0f} s'}</td>"
            f"<td class='num'>{_e(load.get(st.name, '–'))}</td>"
            f"<td class='num'>{_e(rate)}</td></tr>")
    return ("<table><tr><th>#</th><th>stage</th><th>command (run it yourself to redo or "
            "replace the stage)</th><th>wall</th><th>CPU</th><th>load</th><th>throughput</th></tr>"
            + "".join(rows) + "</table>")


def _views_table(curve: Sequence[Mapping]) -> str:
    if not curve:
        return ""
    head = "".join(f"<th>{_e(c['views'])}</th>" for c in curve)
    vals = "".join(f"<td class='num'>{_mm(c.get('mean_mm'))} ± {_mm(c.get('std_mm'))}</td>"
                   for c in curve)
    rows = f"<tr><th>machine error, mm</th>{vals}</tr>"
    for key, name in (("single_mean_mm", "one hand"), ("interacting_mean_mm", "two hands")):
        if any(c.get(key) is not None for c in curve):
            cells = "".join(f"<td class='num'>{_mm(c.get(key))}</td>" for c in curve)
            rows += f"<tr><th>{name}, mm</th>{cells}</tr>"
    return f"<table><tr><th>views</th>{head}</tr>{rows}</table>"


def _split_table(s: Mapping) -> str:
    """Machine-label error overall and per group (``evaluate``'s nested single / interacting
    / unflagged records), with the human stage and the mean-pose baseline for scale."""
    rows = [("machine, all", s["machine"])]
    rows += [(f"machine, {k}", v) for k, v in s["machine"].items()
             if isinstance(v, Mapping) and k != "hands"]  # hands: counts, said below
    rows += [("human stage", s["human"]), ("mean-pose baseline", s["baseline"])]
    body = "".join(
        f"<tr><td>{_e(name)}</td><td class='num'>{_e(r.get('joints', '–'))}</td>"
        + "".join(f"<td class='num'>{_mm(r.get(k))}</td>" for k in
                  ("median_mm", "mean_mm", "p90_mm"))
        + "</tr>" for name, r in rows)
    m = s["machine"]
    extra = ""
    if m.get("instants") is not None:
        extra = (f"<p class='note'>{_e(m['instants'])} machine-labelled instants; joint "
                 f"coverage {_pct(m.get('coverage'))}; {_e(m.get('flagged_joints', 0))} joints "
                 "flagged for review"
                 + _hands_note(m.get("hands")) + ".</p>")
    return ("<table><tr><th>3D error vs ground truth</th><th>joints</th><th>median mm</th>"
            "<th>mean mm</th><th>p90 mm</th></tr>" + body + "</table>" + extra)


def _rounds_table(s: Mapping) -> str:
    """Machine-label error after each bootstrapping round, what each round trained on."""
    rounds = s.get("bootstrap") or []
    if not rounds:
        return ""
    body = ""
    for r in rounds:
        m = r.get("machine") or {}
        sel = r.get("selection") or {}
        prec = sel.get("precision_5mm")
        trained = ("human labels" if r.get("labels") == "human" else
                   f"human + {_e(sel.get('kept'))} of {_e(sel.get('candidates'))} machine "
                   f"joints ({_pct(prec)} within 5 mm)")
        secs = r.get("train_seconds")
        body += (f"<tr><td>{_e(r.get('round'))}</td><td>{trained}</td>"
                 f"<td class='num'>{_e(r.get('steps'))}"
                 + (f" ({secs / 60:.1f} min)" if isinstance(secs, (int, float)) else "")
                 + "</td>"
                 + "".join(f"<td class='num'>{_mm(m.get(k))}</td>" for k in
                           ("median_mm", "mean_mm", "single_median_mm",
                            "interacting_median_mm"))
                 + "</tr>")
    return ("<h3>Multiview bootstrapping, round by round</h3><table><tr><th>round</th>"
            "<th>trained on</th><th>steps</th><th>median mm</th><th>mean mm</th>"
            "<th>one hand</th><th>two hands</th></tr>" + body + "</table>"
            "<p class='note'>Each round: <code>train-labeler</code> (round 0 on the human "
            "labels, later rounds on the human plus the machine joints the selection rule "
            "keeps, from the previous round's weights), <code>machine-label</code> (each "
            "crop also mirrored, per-hand refinement; later rounds with every round's "
            "detector so far together), <code>merge</code>; errors over all views.</p>")


def _qc_note(s: Mapping) -> str:
    q = s.get("qc") or {}
    if not q.get("joints"):
        return ""
    ratio = _ratio(q.get("unflagged_median_mm"), q.get("flagged_median_mm"))
    return (f"<p class='note'>Review flags (quality score below the threshold): "
            f"{_pct(q.get('flagged_share'))} of the machine joints flagged, median error "
            f"{_mm(q.get('flagged_median_mm'))} mm flagged against "
            f"{_mm(q.get('unflagged_median_mm'))} mm unflagged"
            + (f" ({ratio:.2f}×)" if ratio is not None else "")
            + f"; {_pct(q.get('flagged_recall_20mm'))} of the joints more than 20 mm off are "
            f"flagged. The training selection rule keeps {_e(q.get('selected_joints'))} "
            f"joints, {_pct(q.get('selected_precision'))} of them within 5 mm.</p>")


def _hands_note(hands) -> str:
    if not isinstance(hands, Mapping) or hands.get("present") is None:
        return ""
    return (f"; hands: {_e(hands.get('found'))} of {_e(hands.get('present'))} found, "
            f"{_e(hands.get('missed'))} missed, {_e(hands.get('extra'))} labelled where "
            "there is none (or in the other hand's slot)")


def _trainings_table(s: Mapping) -> str:
    """Every training's steps, seconds and what ended it (its time budget or its step cap)."""
    rows = s.get("trainings") or []
    if not rows:
        return ""
    ended = {"time": "its time budget", "steps": "its step cap", "interrupted": "a stop"}
    body = "".join(
        f"<tr><td>{_e(r.get('stage'))}</td><td class='num'>{_e(r.get('steps'))}</td>"
        f"<td class='num'>{_mm(r.get('seconds'), 0)}</td>"
        f"<td>{_e(ended.get(r.get('stopped_by'), r.get('stopped_by') or '–'))}</td></tr>"
        for r in rows)
    return ("<h3>Trainings</h3><table><tr><th>training</th><th>steps</th><th>seconds</th>"
            "<th>ended by</th></tr>" + body + "</table>")


def _hand_split(row: Mapping) -> str:
    """Handedness accuracy per hand type, and the two-hand share a network answering "both"
    for every crop would score."""
    by = row.get("handedness_by_type")
    if not isinstance(by, Mapping):
        return "–"
    split = " / ".join(_pct(by.get(k)).replace(" %", "") for k in ("right", "left",
                                                                   "interacting"))
    return f"{split} % ({_pct(row.get('interacting_share'))})"


def _table4(s: Mapping) -> str:
    rows = []
    for row in ("H", "M", "H+M"):
        got = s["table4"].get(row)
        if row not in s["table4"]:
            continue
        p = PAPER_TABLE4.get(row)
        got = got or {}
        rows.append(
            f"<tr><td><b>{row}</b></td>"
            + "".join(f"<td class='num'>{_mm(got.get(k), 1)}</td>" for k in
                      ("mpjpe_single", "mpjpe_interacting", "mpjpe_all", "mrrpe"))
            + f"<td class='num'>{_pct(got.get('handedness_accuracy'))}</td>"
            f"<td class='num'>{_hand_split(got)}</td>"
            f"<td class='num'>{f'{p[0]} / {p[1]}' if p else 'see paper'}</td></tr>")
    for key, name in (("internet_mean_pose", "mean pose of the test samples (oracle)"),
                      ("internet_mean_pose_train", "mean pose of the training subjects")):
        mp = s.get(key)
        if not mp:
            continue
        rows.append(f"<tr><td>{name}</td>"
                    + "".join(f"<td class='num'>{_mm(mp.get(k), 1)}</td>" for k in
                              ("mpjpe_single", "mpjpe_interacting", "mpjpe_all"))
                    + "<td></td><td></td><td></td><td></td></tr>")
    return ("<table><tr><th>trained on</th><th>MPJPE single</th><th>MPJPE interacting</th>"
            "<th>MPJPE all</th><th>MRRPE</th><th>handedness acc.</th>"
            "<th>handedness: right only / left only / both (two-hand share)</th>"
            "<th>paper (real data, R-50) single / interacting</th></tr>"
            + "".join(rows) + "</table>")


def _table4_note(s: Mapping) -> str:
    t = {k: v for k, v in s["table4"].items() if v and v.get("mpjpe_all") is not None}
    if len(t) < 2:
        return ("<p class='note'>Quick mode trains the H+M row only; the full demo "
                "(<code>annotator demo</code>) trains H, M and H+M on the same held-in "
                "subjects and evaluates them on the same held-out ground truth.</p>")
    best = min(t, key=lambda k: t[k]["mpjpe_all"])
    h, m = s["human"], s["machine"]
    share = _ratio(m.get("median_mm"), t[best]["mpjpe_all"])
    spread = max(r["mpjpe_all"] for r in t.values()) - t[best]["mpjpe_all"]
    noise = (f", {share:.0%} of the best InterNet's own error" if share is not None else "")
    return (
        f"<p class='note'>Best here: <b>{best}</b>. H has the human-labelled instants only "
        f"({_e(h.get('instants'))} instants, median error {_mm(h.get('median_mm'))} mm); "
        f"M has the machine-labelled rest (median error {_mm(m.get('median_mm'))} mm); "
        "H+M has both. In the paper H+M wins because its machine labels (2.78 mm) are far "
        "more precise than the network trained on them (12-16 mm), so the extra poses come "
        f"almost free of noise. Here the machine labels' median error is "
        f"{_mm(m.get('median_mm'))} mm{noise}, and a run of a few CPU minutes sees each crop "
        "once or a few times: whether more poses outweigh noisier labels can go either way "
        f"(here the rows span {_mm(spread, 1)} mm).</p>")


def render_report(
    path: Path, summary: Mapping, stages: Sequence[Stage], *, figures: Mapping[str, Path | None]
) -> Path:
    """Write the HTML report. ``figures``: "views", "labels", "internet", "training" -> PNG."""
    s = summary
    mi = s["machine_info"]
    machine = (f"{_e(mi.get('cpu'))}, {_e(mi.get('cores'))} cores, "
               f"{_e(mi.get('memory_gib'))} GiB RAM, torch {_e(mi.get('torch'))}, "
               + (f"GPU: {_e(mi['gpu'])}" if mi.get("gpu") else "no GPU")
               + f", Python {_e(mi.get('python'))}, {_e(mi.get('os'))}")
    size = s["size"]
    config = "".join(f"<tr><td>{_e(k)}</td><td>{_e(_setting(v))}</td></tr>"
                     for k, v in size.items())
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>annotator demo — {_e(size['name'])}</title><style>{_CSS}</style></head>",
        "<body><main>",
        "<h1>Multi-view hand annotation: the whole loop on a synthetic studio capture</h1>",
        f"<p class='sub'>{_e(size['name'])} demo · {size['cameras']} cameras · "
        f"{size['instants']} instants · {size['subjects']} subjects "
        f"({size['held_out']} held out for InterNet) · written "
        f"{time.strftime('%Y-%m-%d %H:%M')} · {machine}</p>",
        _headline(s),
        _verdict(s),
        "<h2>Machine labels: 3D error against the number of views</h2>",
        "<div class='two'><figure>" + _img(figures.get("views"), "views curve")
        + "<figcaption>The paper's Fig. 4 method: each machine-labelled joint re-triangulated "
        "from v random views of its detections (mean ± std over random subsets). Red star: "
        f"the paper's {PAPER_MACHINE_MM} mm with {PAPER_MACHINE_VIEWS} views on real data."
        "</figcaption></figure><div>" + _split_table(s) + _qc_note(s)
        + _views_table(s["views_curve"]) + _rounds_table(s)
        + "<p class='note'>Mean-pose baseline: a mean hand placed at the true root. Human "
        f"stage: the simulated annotator, {size['human_views']} views per joint, "
        f"{size['noise_px']} px click noise, on {_e(s['human'].get('instants'))} instants."
        "</p></div></div>",
        "<h2>Labels over the images</h2><figure>" + _img(figures.get("labels"), "labels")
        + "<figcaption>Coloured skeleton: the human or machine label projected into the view; "
        "white rings: ground truth (visible joints). Caption: source, hands, camera, mean 3D "
        "error of that instant's label.</figcaption></figure>",
        "<h2>InterNet on held-out subjects (the paper's Table 4 rows)</h2>",
        _table4(s), _table4_note(s),
        "<h2>InterNet by training set over seeds (the paper's Tables 3 and 4)</h2>",
        paper_tables_section(s),
        "<figure>" + _img(figures.get("internet"), "InterNet predictions")
        + "<figcaption>InterNet (H+M) on images of held-out subjects, drawn by "
        "<code>annotator infer</code>.</figcaption></figure>",
        "<h2>Training</h2><figure>" + _img(figures.get("training"), "training curves")
        + "<figcaption>Losses from each run's metrics.jsonl.</figcaption></figure>",
        "<h2>Stages, commands and timings</h2>",
        _stage_table(s, stages), _trainings_table(s),
        "<p class='note'>Wall times include each command's start-up (Python, torch import). "
        "CPU: user + system seconds of the stage's processes; load: the machine's 1-minute "
        "load average as the stage ended. On a machine shared with other "
        f"work, wall time is well above CPU time / {_e(mi.get('cores'))} cores and the wall "
        "times are upper bounds.</p>",
        "<h2>Configuration and machine</h2><div class='two'><table><tr><th>setting</th>"
        f"<th>value</th></tr>{config}</table><table><tr><th>machine</th><th></th></tr>"
        + "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in mi.items())
        + "</table></div>",
        f"<p class='note'>Project: <code>{_e(s['project'])}</code> — open it in the app with "
        f"<code>annotator gui {_e(s['project'])}</code> (machine labels that failed the "
        "quality checks are in its review queue). Numbers for scripts: "
        "<code>summary.json</code> beside this page.</p>",
        "</main></body></html>",
    ]
    path.write_text("\n".join(parts), encoding="utf-8")
    return path

