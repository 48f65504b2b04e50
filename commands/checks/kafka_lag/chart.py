"""Lag over the window as a PNG (matplotlib, Agg backend): one line per group that is not OK.

Drawn from a kafka-lag report's `data["chart"]` ({group: [[unix seconds, total lag], ...]}),
so the terminal (`alp check kafka-lag --chart FILE`) and the Slack report draw the same thing.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

MAX_LINES = 10  # more lines than this are unreadable; the worst come first in the data


def lag_chart_png(data: dict[str, Any]) -> bytes | None:
    """PNG bytes, or None when there is nothing to draw."""
    series = {g: pts for g, pts in (data.get("chart") or {}).items() if pts}
    if not series:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    shown = list(series.items())[:MAX_LINES]
    for group, pts in shown:
        times = [datetime.fromtimestamp(t, UTC) for t, _ in pts]
        ax.plot(times, [lag for _, lag in pts], marker="o", markersize=3, label=group)  # type: ignore[arg-type]
    title = "Consumer lag over the window (groups not OK)"
    if len(series) > len(shown):
        title += f": the {len(shown)} worst of {len(series)}"
    ax.set_title(title)
    ax.set_ylabel("lag (messages)")
    ax.set_xlabel("time (UTC)")
    ax.grid(True, alpha=0.3)
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M:%S", tz=UTC))  # type: ignore[no-untyped-call]
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
