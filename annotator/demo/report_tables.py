"""The report's section for ``bench/paper_tables.py``: the paper's Tables 3 (training images
by their hands) and 4 (training labels by their source), each row as mean ± std over seeds,
with the orderings the paper shows checked against the spread."""

from __future__ import annotations

from collections.abc import Mapping

from annotator.demo.html_text import escape as _e
from annotator.demo.html_text import number as _num

__all__ = ["paper_tables_section"]

#: bench/paper_tables.py's tables: row name -> what the row trains on.
_ROWS: dict[str, list[tuple[str, str]]] = {
    "3": [("SH", "single-hand images"), ("IH", "interacting-hand images"),
          ("SH+IH", "both")],
    "4": [("H", "human labels"), ("M", "machine labels"), ("H+M", "both")],
}
_TITLES = {"3": "Table 3: training images by their hands (all labels)",
           "4": "Table 4: training labels by their source (all images)"}
_VERDICTS = {"agrees": "as in the paper", "reversed": "the other way round",
             "within spread": "within the spread: no ordering",
             "one run": "one seed: no ordering claimed", "missing": "not measured"}


def _agg(agg, digits: int = 1, scale: float = 1.0) -> str:
    if not isinstance(agg, Mapping) or agg.get("mean") is None:
        return "–"
    text = f"{scale * agg['mean']:.{digits}f}"
    if agg.get("std") is not None:
        text += f" ± {scale * agg['std']:.{digits}f}"
    return text


def _table(t: str, pt: Mapping) -> str:
    rows = pt["rows"].get(t) or {}
    body = []
    for name, what in _ROWS[t]:
        r = rows.get(name)
        if r is None:
            continue
        body.append(
            f"<tr><td><b>{name}</b></td><td>{what} <code>--labels {_e(r.get('labels'))} "
            f"--hands {_e(r.get('hands'))}</code>"
            + (f"<br>not trained: {_e(r['not_trained'])}" if r.get("not_trained") else "")
            + "</td>"
            f"<td class='num'>{_e(r.get('n_train', '–'))}</td>"
            f"<td class='num'>{_agg(r.get('steps'), 0)}</td>"
            + "".join(f"<td class='num'>{_agg(r.get(k))}</td>" for k in
                      ("mpjpe_single", "mpjpe_interacting", "mpjpe_all", "mrrpe"))
            + f"<td class='num'>{_agg(r.get('handedness_accuracy'), 1, 100)}</td></tr>")
    base = pt.get("baseline") or {}
    body.append("<tr><td>mean pose</td><td>the test crops' own mean pose (oracle)</td>"
                "<td></td><td></td>"
                + "".join(f"<td class='num'>{_num(base.get(k), 1)}</td>" for k in
                          ("mpjpe_single", "mpjpe_interacting", "mpjpe_all"))
                + "<td></td><td></td></tr>")
    paper = pt.get("paper_full") or {}
    body.append("<tr><td>paper</td><td>InterNet on all of InterHand2.6M (H+M, SH+IH; "
                "ResNet-50, 20 epochs on GPUs)</td><td></td><td></td>"
                f"<td class='num'>{_num(paper.get('mpjpe_single'), 2)}</td>"
                f"<td class='num'>{_num(paper.get('mpjpe_interacting'), 2)}</td><td></td>"
                f"<td class='num'>{_num(paper.get('mrrpe'), 2)}</td><td></td></tr>")
    checks = []
    for c in (pt.get("orderings") or {}).get(t) or []:
        gap = "–" if c.get("gap") is None else f"{c['gap']:+.1f} mm"
        spread = "" if c.get("spread") is None else f", spread {c['spread']:.1f} mm"
        checks.append(f"<li>paper: {_e(c.get('claim'))} ({_e(c.get('metric'))} of "
                      f"<b>{_e(c.get('better'))}</b> below <b>{_e(c.get('worse'))}</b>). Here: "
                      f"{gap}{spread}: <b>{_VERDICTS.get(c.get('verdict'), c.get('verdict'))}"
                      "</b>.</li>")
    return (f"<h3>{_TITLES[t]}</h3><table><tr><th>row</th><th>trained on</th>"
            "<th>training crops</th><th>steps</th><th>MPJPE single</th>"
            "<th>MPJPE interacting</th><th>MPJPE all</th><th>MRRPE</th>"
            "<th>handedness %</th></tr>" + "".join(body) + "</table>"
            + (f"<ul class='note'>{''.join(checks)}</ul>" if checks else ""))


def paper_tables_section(s: Mapping) -> str:
    """HTML for summary.json's ``paper_tables`` (bench/paper_tables.py), or a note saying
    how to make it."""
    pt = s.get("paper_tables")
    if not isinstance(pt, Mapping) or not isinstance(pt.get("rows"), Mapping):
        return ("<p class='note'>The paper's Tables 3 and 4 with several seeds per row: "
                f"<code>python bench/paper_tables.py {_e(s.get('project', 'OUT/project'))} "
                "--repeats 3</code> trains every row for the same time and writes them into "
                "this report.</p>")
    m = pt.get("machine") or {}
    machine = (f"{_e(m.get('cpu'))}, {_e(m.get('cores'))} cores"
               + (f", GPU {_e(m['gpu'])}" if m.get("gpu") else ", no GPU"))
    intro = (f"<p class='note'>From <code>{_e(pt.get('command'))}</code> ({_e(pt.get('date'))}"
             f", {machine}): every row trained for {_e(pt.get('minutes'))} minutes "
             f"(cpu-small, trunk from the machine labeller, batch 8) on held-in subjects "
             f"{_e(','.join(pt.get('held_in') or []))}, with {_e(pt.get('repeats'))} seed(s); "
             f"evaluated on {_e(pt.get('n_test'))} ground-truth crops of held-out subject(s) "
             f"{_e(','.join(pt.get('held_out') or []))} (every {_e(pt.get('every'))}th). "
             "Mean ± std over seeds; a gap counts as an ordering only where it exceeds the "
             "two rows' summed std.</p>")
    return intro + "".join(_table(t, pt) for t in pt.get("tables") or [] if t in _ROWS)
