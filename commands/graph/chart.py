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


def _label(labels: dict[str, str]) -> str:
    shown = {k: v for k, v in labels.items() if k != "__name__"}
    return ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))[:60] or labels.get("__name__", "value")


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


def graph_png(data: dict[str, Any]) -> bytes | None:
    """PNG bytes, or None when no panel has a series."""
    graph = data.get("graph") or {}
    panels = [p for p in graph.get("panels", []) if p.get("series")]
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 2.6 * len(panels) + 0.6), dpi=100, layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)
    for ax, panel in zip((row[0] for row in axes), panels, strict=False):
        series = panel["series"]
        for s in series[:MAX_LINES]:
            times, values = _with_gaps(s["points"])
            ax.plot(times, values, linewidth=1.5, label=_label(s["labels"]))
        title = (
            panel["title"] if len(series) <= MAX_LINES else f"{panel['title']}: the first {MAX_LINES} of {len(series)}"
        )
        ax.set_title(title[:90], fontsize="medium")
        if panel.get("threshold") is not None:
            ax.axhline(float(panel["threshold"]), color="tab:red", linestyle="--", linewidth=1, label="threshold")
        for start, end in panel.get("firing", []):
            ax.axvspan(
                datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC), color="tab:red", alpha=0.12
            )
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=UTC))  # type: ignore[no-untyped-call]
        if len(series) > 1 or panel.get("threshold") is not None:
            ax.legend(loc="upper left", fontsize="x-small")
    fig.suptitle(f"{graph.get('title', '')[:80]} ({graph.get('window', '')}, UTC)", fontsize="medium")
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
