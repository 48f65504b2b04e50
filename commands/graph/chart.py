"""A graph report as a PNG (matplotlib, Agg backend): one panel per query, one line per series.

Drawn from `data["graph"]` ({title, window, panels: [{title, unit, series: [{labels, points}]}]}), so
the terminal (`alp graph … --out FILE.png`) and Slack draw the same thing. A gap in the samples
(longer than three steps) breaks the line instead of bridging it; NaN and ±Inf are not drawn.
CPU work: call it off the event loop (`asyncio.to_thread`).
"""

from __future__ import annotations

import io
import itertools
import math
from datetime import UTC, datetime
from typing import Any

MAX_LINES = 10


def _label(labels: dict[str, str], title: str) -> str:
    """A series' legend: its labels, else its metric name, else (`1/0`, `sum(…)`) the panel's title."""
    shown = {k: v for k, v in labels.items() if k != "__name__"}
    return (", ".join(f"{k}={v}" for k, v in sorted(shown.items())) or labels.get("__name__") or title)[:60]


def _with_gaps(points: list[list[Any]]) -> tuple[list[datetime], list[float]]:
    """Times and values, a NaN inserted where samples are missing so the line breaks there."""
    pts = [(float(t), float(v)) for t, v in points if isinstance(v, int | float)]
    if len(pts) < 2:
        return [datetime.fromtimestamp(t, UTC) for t, _ in pts], [v for _, v in pts]
    steps = sorted(b[0] - a[0] for a, b in itertools.pairwise(pts))
    usual = steps[len(steps) // 2] or 1.0
    times, values = [], []
    for i, (t, v) in enumerate(pts):
        if i and t - pts[i - 1][0] > 3 * usual:
            times.append(datetime.fromtimestamp((t + pts[i - 1][0]) / 2, UTC))
            values.append(math.nan)
        times.append(datetime.fromtimestamp(t, UTC))
        values.append(v if math.isfinite(v) else math.nan)
    return times, values


def _finite(series: list[dict[str, Any]]) -> list[tuple[float, float]]:
    return [
        (float(t), float(v)) for s in series for t, v in s["points"] if isinstance(v, int | float) and math.isfinite(v)
    ]


SERIES_COLOURS = [  # matplotlib's tab10 without red: red is the threshold and the span over it
    "tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown",
    "tab:pink", "tab:gray", "tab:olive", "tab:cyan", "navy",
]  # fmt: skip
THRESHOLD_COLOUR = "tab:red"


def _tick_format(span_s: float) -> str:
    """Time labels that differ from tick to tick: seconds on windows under 10 minutes."""
    return "%H:%M:%S" if span_s < 600 else "%H:%M" if span_s < 3 * 86400 else "%d %b %H:%M"


def figure(data: dict[str, Any]) -> Any:
    """The matplotlib Figure of `data["graph"]`, or None when no panel has a series. Each panel's
    y-axis is in its unit (`unit`; "?" is read from its `expr`, commands/graph/units.py), its
    `threshold` a dashed red line named with its value, its `firing` spans (unix s) shaded red;
    the x-axis spans the window (`start`, `end`, unix s; else the samples)."""
    graph = data.get("graph") or {}
    panels = [p for p in graph.get("panels", []) if p.get("series")]
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.dates import AutoDateLocator, DateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    from commands.graph.units import axis_label, fmt_value, unit_of

    fig = Figure(figsize=(9, 2.6 * len(panels) + 0.6), dpi=100, layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)
    for ax, panel in zip((row[0] for row in axes), panels, strict=False):
        series = panel["series"]
        unit = panel.get("unit") or ""
        if unit == "?":
            unit = unit_of(str(panel.get("expr", "")))
        times_all: list[datetime] = []
        for colour, s in zip(SERIES_COLOURS, series[:MAX_LINES], strict=False):
            times, values = _with_gaps(s["points"])
            times_all += times
            ax.plot(times, values, linewidth=1.5, color=colour, label=_label(s["labels"], panel["title"]))
        title = (
            panel["title"] if len(series) <= MAX_LINES else f"{panel['title']}: the first {MAX_LINES} of {len(series)}"
        )
        ax.set_title(title if len(title) <= 90 else title[:89] + "…", fontsize="medium")
        if panel.get("threshold") is not None:
            th = float(panel["threshold"])
            label = panel.get("threshold_label") or f"threshold {fmt_value(th, unit)}"
            ax.axhline(th, color=THRESHOLD_COLOUR, linestyle="--", linewidth=1.2, label=label)
        for n, (start, end) in enumerate(panel.get("firing", [])):
            ax.axvspan(
                datetime.fromtimestamp(start, UTC),
                datetime.fromtimestamp(end, UTC),
                color=THRESHOLD_COLOUR,
                alpha=0.12,
                label="the rule's condition held" if n == 0 else None,
            )
        ax.grid(True, alpha=0.3)
        if unit in ("ratio", "/s", "s", "B") and not any(v < 0 for _, v in _finite(series)):
            ax.set_ylim(bottom=0)  # rates, ratios, durations and sizes: an axis from 0, never to -4 %
        ax.set_ylabel(axis_label(unit), fontsize="small")
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos, u=unit: fmt_value(v, u)))
        lo = graph.get("start") or (min(times_all).timestamp() if times_all else None)
        hi = graph.get("end") or (max(times_all).timestamp() if times_all else None)
        if lo is not None and hi is not None and hi > lo:
            ax.set_xlim(datetime.fromtimestamp(float(lo), UTC), datetime.fromtimestamp(float(hi), UTC))
            span = float(hi) - float(lo)
        else:
            span = 3600.0
        ax.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=8, tz=UTC))  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(DateFormatter(_tick_format(span), tz=UTC))  # type: ignore[no-untyped-call]
        if len(series) > 1 or panel.get("threshold") is not None:
            ax.legend(loc="upper left", fontsize="x-small")
    title = str(graph.get("title", ""))
    title = title if len(title) <= 80 else title[:79] + "…"  # a query cut says so; the window on a line of its own
    fig.suptitle(f"{title}\n{graph.get('window', '')}, UTC", fontsize="medium")
    return fig


def graph_png(data: dict[str, Any]) -> bytes | None:
    """PNG bytes, or None when no panel has a series."""
    fig = figure(data)
    if fig is None:
        return None
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
