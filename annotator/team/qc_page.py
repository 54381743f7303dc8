"""The ``qc --html`` page: the per-annotator table and three plots as inline SVG (no script,
no download: the file opens anywhere and archives as it is)."""

from __future__ import annotations

import html
import time
from pathlib import Path

from atomic_files import atomic_write_bytes

__all__ = ["render_qc_page", "write_qc_page"]

_COLUMNS = (
    ("name", "annotator", "s"), ("instants", "instants", "d"), ("joints", "joints", "d"),
    ("clicks_per_joint", "clicks / joint", ".2f"), ("active_hours", "active h", ".2f"),
    ("joints_per_hour", "joints / h", ".0f"), ("gold_median_mm", "gold median mm", ".2f"),
    ("gold_p90_mm", "gold p90 mm", ".2f"), ("repeat_median_mm", "repeat median mm", ".2f"),
    ("bone_flagged_share", "bone-flagged", ".1%"),
)
_CSS = """
body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
table{border-collapse:collapse;margin:12px 0}td,th{padding:4px 10px;text-align:right}
th{border-bottom:2px solid #444}td:first-child,th:first-child{text-align:left}
tr:nth-child(even){background:#f3f3f3}h2{margin-top:28px}.note{color:#666;font-size:12px}
svg text{font:12px system-ui,sans-serif}
"""


def _cell(v, spec: str) -> str:
    if v is None:
        return "–"
    return html.escape(str(v)) if spec == "s" else format(v, spec)


def _bars(rows: list[dict], pairs: list[tuple[str, str, str]], unit: str) -> str:
    """Horizontal grouped bars: per annotator, one bar per (key, label, colour)."""
    values = [r[k] for r in rows for k, _, _ in pairs if r[k] is not None]
    if not values:
        return '<p class="note">nothing measured yet</p>'
    top = max(values) * 1.15 or 1.0
    bar_h, gap, left, width = 14, 10, 130, 520
    height = len(rows) * (len(pairs) * bar_h + gap) + 40
    out = [f'<svg width="{left + width + 90}" height="{height}" role="img">']
    y = 10
    for r in rows:
        out.append(f'<text x="0" y="{y + bar_h * len(pairs) / 2 + 4}">'
                   f'{html.escape(r["name"])}</text>')
        for k, label, colour in pairs:
            v = r[k]
            w = 0 if v is None else width * v / top
            out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" '
                       f'fill="{colour}"><title>{label}</title></rect>')
            text = "–" if v is None else f"{v:.2f} {unit}"
            out.append(f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 4}">{label} {text}</text>')
            y += bar_h
        y += gap
    axis_y = y + 4
    out.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + width}" y2="{axis_y}" '
               'stroke="#888"/>')
    for t in range(5):
        x = left + width * t / 4
        out.append(f'<text x="{x:.0f}" y="{axis_y + 16}" text-anchor="middle">'
                   f'{top * t / 4:.1f}</text>')
    out.append("</svg>")
    return "".join(out)


def _bone_plot(bones: dict) -> str:
    """Each subject's bone lengths: median (dot) and the flagging band (bar), per bone."""
    subjects = bones.get("subjects") or []
    if not subjects:
        return '<p class="note">no labelled bones yet</p>'
    names = bones["bones"]
    row_h, left, width = 11, 150, 520
    top = max((m + (t or 0.0) for s in subjects
               for m, t in zip(s["median_mm"], s["threshold_mm"], strict=True)
               if m is not None), default=1.0)
    colours = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
    out = [f'<svg width="{left + width + 20}" height="{len(names) * row_h + 40}">']
    for b, name in enumerate(names):
        y = 10 + b * row_h
        out.append(f'<text x="0" y="{y + 8}" font-size="10">{html.escape(name)}</text>')
        for s_i, s in enumerate(subjects):
            m, t = s["median_mm"][b], s["threshold_mm"][b] or 0.0
            if m is None:
                continue
            c = colours[s_i % len(colours)]
            x0, x1 = left + width * (m - t) / top, left + width * (m + t) / top
            dy = y + 2 + 3 * (s_i % 3)
            out.append(f'<line x1="{x0:.1f}" y1="{dy}" x2="{x1:.1f}" y2="{dy}" stroke="{c}" '
                       'stroke-opacity=".5" stroke-width="3"/>')
            out.append(f'<circle cx="{left + width * m / top:.1f}" cy="{dy}" r="2" fill="{c}">'
                       f'<title>subject {s["subject"]}: {m:.1f} mm ± {t:.1f}</title></circle>')
    y = 10 + len(names) * row_h + 4
    for t in range(5):
        x = left + width * t / 4
        out.append(f'<text x="{x:.0f}" y="{y + 12}" text-anchor="middle">'
                   f'{top * t / 4:.0f} mm</text>')
    out.append("</svg>")
    legend = ", ".join(f'<span style="color:{colours[k % len(colours)]}">subject '
                       f'{s["subject"]}</span>' for k, s in enumerate(subjects))
    return "".join(out) + f'<p class="note">{legend}: median length (dot) and the band ' \
                          "beyond which a bone flags its joint</p>"


def render_qc_page(report: dict) -> str:
    """The page for a :func:`annotator.team.qc.quality_report` document."""
    rows = report["annotators"]
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label, _ in _COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(r[k], spec)}</td>" for k, _, spec in _COLUMNS) + "</tr>"
        for r in rows
    )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Labelling quality · {html.escape(report['project'])}</title><style>{_CSS}</style></head>
<body><h1>Labelling quality</h1>
<p>{html.escape(report['project'])} · {report['collected']} of {report['packages']} packages
collected · {time.strftime('%Y-%m-%d %H:%M')}</p>
<table><tr>{head}</tr>{body}</table>
<p class="note">Active time: gaps between clicks up to {report['idle_gap_s']:.0f} s.
Gold: 3D distance to the trusted joints of the gold instants. Repeat: 3D distance between two
answers of the same instant. Bone-flagged: joints the per-subject bone-length check flags.</p>
<h2>3D error on gold</h2>
{_bars(rows, [("gold_median_mm", "median", "#1f77b4"), ("gold_p90_mm", "p90", "#aec7e8")], "mm")}
<h2>Agreement on repeats</h2>
{_bars(rows, [("repeat_median_mm", "median", "#ff7f0e")], "mm")}
<h2>Bone lengths per subject</h2>
{_bone_plot(report.get("bone_check") or {})}
</body></html>
"""


def write_qc_page(report: dict, path: Path) -> None:
    """Write :func:`render_qc_page` to ``path`` atomically."""
    atomic_write_bytes(Path(path), render_qc_page(report).encode("utf-8"))
