"""A quality report as Markdown (tables, SVG plots beside it) and as one self-contained HTML page.

Plots are small hand-written SVGs (PSI per feature with the threshold, reference-vs-current histograms),
so rendering needs no plotting library in any image.
"""

import html
from collections.abc import Sequence

from mlops_core.drift import FeatureDrift
from mlops_core.quality import DriftComparison, PerformanceComparison, QualityReport

PLOT_DIR = "plots"
MAX_HISTOGRAMS = 12
_REFERENCE_COLOUR = "#8c8c8c"
_CURRENT_COLOUR = "#e6862e"
_OVER_COLOUR = "#c0392b"
_UNDER_COLOUR = "#2e86c1"


def _fmt(value: float | None, spec: str = ".4g") -> str:
    return "–" if value is None else format(value, spec)


def psi_chart(comparison: DriftComparison, limit: float | None) -> str:
    """Horizontal bars of PSI per feature, largest first, with the retrain threshold as a dashed line."""
    rows = sorted((f for f in comparison.features if f.psi is not None), key=lambda f: -(f.psi or 0.0))
    label_w, bar_w, row_h = 170, 320, 18
    height = 30 + row_h * max(1, len(rows))
    top = max([f.psi or 0.0 for f in rows] + [limit or 0.0, 1e-9]) * 1.1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 60}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="4" y="14" font-weight="bold">PSI per feature: {html.escape(comparison.name)}</text>',
    ]
    for i, feature in enumerate(rows):
        y = 22 + i * row_h
        width = bar_w * (feature.psi or 0.0) / top
        colour = _OVER_COLOUR if limit is not None and (feature.psi or 0.0) > limit else _UNDER_COLOUR
        parts += [
            f'<text x="{label_w - 4}" y="{y + 12}" text-anchor="end">{html.escape(feature.feature)}</text>',
            f'<rect x="{label_w}" y="{y + 2}" width="{width:.1f}" height="{row_h - 5}" fill="{colour}"/>',
            f'<text x="{label_w + width + 4:.1f}" y="{y + 12}">{_fmt(feature.psi, ".3f")}</text>',
        ]
    if limit is not None:
        x = label_w + bar_w * limit / top
        parts.append(
            f'<line x1="{x:.1f}" y1="20" x2="{x:.1f}" y2="{height}" stroke="black" stroke-dasharray="4,3"/>'
        )
        parts.append(f'<text x="{x + 3:.1f}" y="{height - 2}" font-size="9">limit {limit:g}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def histogram_chart(feature: FeatureDrift) -> str:
    """Reference (grey) and current (orange) shares per reference-quantile bin."""
    assert feature.histogram is not None
    reference, current = feature.histogram.shares()
    width, height, pad = 260, 110, 18
    slot = (width - 2 * pad) / len(reference)
    top = max(float(reference.max()), float(current.max()), 1e-9)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="10">',
        f'<text x="4" y="12">{html.escape(feature.feature)} (PSI {_fmt(feature.psi, ".3f")})</text>',
    ]
    for i, (ref, cur) in enumerate(zip(reference, current, strict=True)):
        x = pad + i * slot
        for offset, share, colour in ((0.1, ref, _REFERENCE_COLOUR), (0.5, cur, _CURRENT_COLOUR)):
            bar = (height - 36) * float(share) / top
            parts.append(
                f'<rect x="{x + offset * slot:.1f}" y="{height - 18 - bar:.1f}" width="{slot * 0.4:.1f}" '
                f'height="{bar:.1f}" fill="{colour}"/>'
            )
    parts.append(
        f'<text x="{pad}" y="{height - 4}" fill="{_REFERENCE_COLOUR}">training</text>'
        f'<text x="{pad + 60}" y="{height - 4}" fill="{_CURRENT_COLOUR}">current</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def performance_chart(perf: PerformanceComparison) -> str:
    values = [("at training", perf.at_training), ("now", perf.current)]
    top = max(abs(v) for _, v in values if v is not None) * 1.15 or 1.0
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="360" height="80" font-family="sans-serif" font-size="11">',
        f'<text x="4" y="14" font-weight="bold">{html.escape(perf.metric)}</text>',
    ]
    for i, (label, value) in enumerate(values):
        y = 22 + i * 26
        width = 0.0 if value is None else 240 * abs(value) / top
        colour = _REFERENCE_COLOUR if i == 0 else _CURRENT_COLOUR
        parts += [
            f'<text x="76" y="{y + 14}" text-anchor="end">{label}</text>',
            f'<rect x="80" y="{y}" width="{width:.1f}" height="18" fill="{colour}"/>',
            f'<text x="{84 + width:.1f}" y="{y + 14}">{_fmt(value)}</text>',
        ]
    parts.append("</svg>")
    return "\n".join(parts)


def plot_files(report: QualityReport, psi_limit: float | None) -> dict[str, str]:
    """SVG documents by relative path (`plots/...`), as the Markdown report links them."""
    files = {}
    if report.performance is not None:
        files[f"{PLOT_DIR}/performance.svg"] = performance_chart(report.performance)
    for comparison in report.drift:
        files[f"{PLOT_DIR}/psi_{comparison.key}.svg"] = psi_chart(comparison, psi_limit)
    return files


def _performance_rows(perf: PerformanceComparison) -> list[str]:
    direction = "higher is better" if perf.greater_is_better else "lower is better"
    degradation = "–" if perf.degradation is None else f"{perf.degradation:+.1%}"
    return [
        "| metric | at training (test set) | now | degradation | rows | data |",
        "|---|---|---|---|---|---|",
        f"| {perf.metric} ({direction}) | {perf.at_training:.4g} | {_fmt(perf.current)} | {degradation} "
        f"| {perf.rows} | {perf.data} |",
    ]


def _drift_rows(features: Sequence[FeatureDrift]) -> list[str]:
    rows = [
        "| feature | PSI | KS | KS p-value | training mean | current mean | training n | current n | missing (current) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in sorted(features, key=lambda f: -(f.psi if f.psi is not None else -1.0)):
        rows.append(
            f"| {f.feature} | {_fmt(f.psi, '.3f')} | {_fmt(f.ks, '.3f')} | {_fmt(f.ks_pvalue, '.3g')} "
            f"| {_fmt(f.reference_mean)} | {_fmt(f.current_mean)} | {f.reference_n} | {f.current_n} "
            f"| {f.current_missing} |"
        )
    return rows


def _header(report: QualityReport) -> list[str]:
    return [
        f"# Quality report: {report.model} v{report.version} ({report.workload})",
        "",
        f"Generated {report.generated_at.isoformat(timespec='seconds')} · champion training run "
        f"`{report.model_run_id}` · data version `{report.data_version}`",
        "",
    ]


def to_markdown(report: QualityReport) -> str:
    lines = _header(report)
    lines += ["## Performance on the newest labelled data", ""]
    if report.performance is None:
        lines += ["No labelled data newer than the champion's training data.", ""]
    else:
        lines += [
            *_performance_rows(report.performance),
            "",
            f"![performance]({PLOT_DIR}/performance.svg)",
            "",
        ]
    for comparison in report.drift:
        lines += [
            f"## Drift: {comparison.name}",
            "",
            f"Training reference: {comparison.reference}. Current: {comparison.current}.",
            "",
            f"![PSI per feature]({PLOT_DIR}/psi_{comparison.key}.svg)",
            "",
            *_drift_rows(comparison.features),
            "",
        ]
    if report.notes:
        lines += ["## Notes", "", *(f"- {note}" for note in report.notes), ""]
    return "\n".join(lines)


def _markdown_table_to_html(rows: list[str]) -> str:
    cells = [
        [html.escape(c.strip()) for c in row.strip("|").split("|")] for row in rows if set(row) - set("|-")
    ]
    head, body = cells[0], cells[1:]
    out = ["<table>", "<tr>" + "".join(f"<th>{c}</th>" for c in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in body]
    return "\n".join([*out, "</table>"])


def to_html(report: QualityReport, psi_limit: float | None) -> str:
    title = html.escape(f"Quality report: {report.model} v{report.version} ({report.workload})")
    body = [
        f"<h1>{title}</h1>",
        f"<p>Generated {report.generated_at.isoformat(timespec='seconds')} · champion training run "
        f"<code>{html.escape(report.model_run_id)}</code> · data version "
        f"<code>{html.escape(report.data_version)}</code></p>",
        "<h2>Performance on the newest labelled data</h2>",
    ]
    if report.performance is None:
        body.append("<p>No labelled data newer than the champion's training data.</p>")
    else:
        body += [
            _markdown_table_to_html(_performance_rows(report.performance)),
            performance_chart(report.performance),
        ]
    for comparison in report.drift:
        drifted = sorted(
            (f for f in comparison.features if f.histogram is not None), key=lambda f: -(f.psi or 0.0)
        )[:MAX_HISTOGRAMS]
        body += [
            f"<h2>Drift: {html.escape(comparison.name)}</h2>",
            f"<p>Training reference: {html.escape(comparison.reference)}. "
            f"Current: {html.escape(comparison.current)}.</p>",
            psi_chart(comparison, psi_limit),
            _markdown_table_to_html(_drift_rows(comparison.features)),
            '<div class="grid">' + "".join(histogram_chart(f) for f in drifted) + "</div>",
        ]
    if report.notes:
        body += ["<h2>Notes</h2>", "<ul>", *(f"<li>{html.escape(n)}</li>" for n in report.notes), "</ul>"]
    style = (
        "body{font-family:sans-serif;margin:24px;max-width:1100px}table{border-collapse:collapse;margin:8px 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:12px;text-align:right}"
        "th{background:#f4f4f4}.grid{display:flex;flex-wrap:wrap;gap:6px}"
    )
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title><style>{style}</style>'
        f"</head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
