"""`oncall week` as a picture (matplotlib, Agg): one lane per schedule, one bar per shift, coloured
by the person on call and labelled with who; a gap red and hatched, coverage unknown grey.

Drawn from `escalation.oncall.view.week_data`'s shape (ISO8601 UTC times), so the terminal
(`alp oncall week --png FILE`) and Slack draw the same thing. The time axis is real time, labelled
in `zone` (the asker's, else UTC): a DST switch shows as a day of 23 or 25 hours, never a hole.
CPU work: the bot calls it in a worker process (`commands.runtime.cpu.in_process` from `off_loop`).
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

PEOPLE_COLOURS = [
    "tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown",
    "tab:pink", "tab:olive", "tab:cyan", "navy", "teal",
]  # fmt: skip
GAP_COLOUR = "tab:red"
UNKNOWN_COLOUR = "lightgray"


def _who(on_call: list[str] | None) -> str:
    if on_call is None:
        return "unknown"
    return ", ".join(on_call) or "nobody"


def week_png(data: dict[str, Any], zone_name: str = "UTC") -> bytes | None:
    """PNG bytes of `week_data`'s schedules, or None when no schedule has shifts to draw."""
    fig = week_figure(data, zone_name)
    if fig is None:
        return None
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def week_figure(data: dict[str, Any], zone_name: str = "UTC") -> Any:
    """The matplotlib Figure (one bar collection per shift, lanes top to bottom in `data`'s
    order), or None when no schedule has shifts to draw."""
    lanes = [s for s in data.get("schedules", []) if s.get("shifts")]
    if not lanes:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.dates import DateFormatter, DayLocator, HourLocator, date2num
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    zone = ZoneInfo(zone_name)
    colours: dict[str, str] = {}
    fig = Figure(figsize=(10, 1.1 * len(lanes) + 1.6), dpi=100, layout="constrained")
    ax = fig.subplots()
    lo = min(datetime.fromisoformat(s["from"]) for s in lanes)
    hi = max(datetime.fromisoformat(s["to"]) for s in lanes)
    for row, s in enumerate(lanes):
        y = len(lanes) - 1 - row
        for sh in s["shifts"]:
            start, end = datetime.fromisoformat(sh["start"]), datetime.fromisoformat(sh["end"])
            who = _who(sh["on_call"])
            if sh["on_call"] is None:
                colour, hatch = UNKNOWN_COLOUR, None
            elif not sh["on_call"]:
                colour, hatch = GAP_COLOUR, "//"
            else:
                colour = colours.setdefault(who, PEOPLE_COLOURS[len(colours) % len(PEOPLE_COLOURS)])
                hatch = None
            left, width = date2num(start), date2num(end) - date2num(start)  # type: ignore[no-untyped-call]
            ax.broken_barh([(left, width)], (y - 0.35, 0.7), facecolors=colour, edgecolor="white", hatch=hatch)
            if (end - start).total_seconds() >= 5 * 3600:  # a label where it fits
                ax.text(left + width / 2, y, who[:24], ha="center", va="center", fontsize="x-small", clip_on=True)
    ax.set_yticks(range(len(lanes)), [s["name"] for s in reversed(lanes)])
    ax.set_xlim(date2num(lo), date2num(hi))  # type: ignore[no-untyped-call]
    ax.set_ylim(-0.6, len(lanes) - 0.4)
    ax.xaxis.set_major_locator(DayLocator(tz=zone))  # type: ignore[no-untyped-call]
    ax.xaxis.set_minor_locator(HourLocator(byhour=[6, 12, 18], tz=zone))  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(DateFormatter("%a %d %b", tz=zone))  # type: ignore[no-untyped-call]
    ax.grid(True, axis="x", alpha=0.3)
    legend = [Patch(facecolor=c, label=who[:30]) for who, c in colours.items()]
    legend.append(Patch(facecolor=GAP_COLOUR, hatch="//", label="nobody on call"))
    ax.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=4, fontsize="x-small")
    fig.suptitle(f"On call, the week from {lo.astimezone(zone):%a %d %b %H:%M %Z} ({zone.key})", fontsize="medium")
    return fig
