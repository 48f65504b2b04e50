"""One rendering per report, made off the event loop, posted to each channel that asked.

Identical checks asked at once share one run (`commands/runner.py`) and so one `Report`
object; here they share its rendering too: masking (`Report.redacted`), the Block Kit message
(`bot/render/report_blocks.py`), the lag chart and the raw-lines file are made once, on the worker pool
(`commands.runtime.cpu.off_loop`), and every request awaits the same result. Only the suggestion
buttons differ between channels (their signed values are bound to a channel): the shared
message carries stand-in values, each as long as any channel's, replaced per channel.

Memory: the renderings of the last `KEPT` reports are kept (a report is shared only while its
run is in flight, so a handful suffice), each holding its report, message, chart and file.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.render.report_blocks import SlackMessage, render_report
from commands.report import Report
from commands.runtime.cpu import in_process, off_loop

KEPT = 16
LONGEST_CHANNEL = "C" + "Z" * 20  # Slack channel ids are shorter; a stand-in value is never shorter than a real one

# bot.remediation.buttons.SlackRemediation.request_button: (action, params, evidence, channel) -> signed value
Signer = Callable[[str, dict[str, Any], dict[str, str] | None, str | None], str | None]


@dataclass
class Rendered:
    """A report's message with stand-in button values, its chart and its raw-lines file."""

    message: SlackMessage
    chart: bytes | None  # kafka-lag's lag chart, or `graph`'s
    chart_name: str
    chart_title: str
    raw: str | None  # every line read (`alp logs`), one per line
    raw_count: int
    buttons: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=dict)  # stand-in -> button

    def for_channel(self, sign: Signer, channel: str) -> SlackMessage:
        """The message with each button signed for `channel`."""
        if not self.buttons:
            return self.message
        body = json.dumps(self.message.blocks)
        for stand_in, (action, params, evidence) in self.buttons.items():
            value = sign(action, params, evidence, channel) or ""
            body = body.replace(json.dumps(stand_in)[1:-1], json.dumps(value)[1:-1])
        return SlackMessage(self.message.text, json.loads(body), self.message.attachment)


_cache: OrderedDict[tuple[int, bool], tuple[Report, asyncio.Future[Rendered]]] = OrderedDict()


def _render(report: Report, show_all: bool, sign: Signer, on_render: Callable[[], None]) -> Rendered:
    """Runs on the worker pool."""
    on_render()
    buttons: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {}

    def stand_in(action: str, params: dict[str, Any], evidence: dict[str, str]) -> str | None:
        value = sign(action, params, evidence, LONGEST_CHANNEL)
        if value is not None:
            buttons[value] = (action, params, evidence)
        return value

    clean = report.redacted()
    message = render_report(report, stand_in, show_all)
    chart, name, title = None, f"{report.target}-chart.png", f"{report.target}: lag over the window"
    if report.data.get("chart"):  # kafka-lag: lag over the window of the groups not OK
        from commands.checks.kafka_lag.chart import lag_chart_png

        chart = in_process(lag_chart_png, {"chart": report.data["chart"]})
    elif report.data.get("graph"):  # graph: the chart of what was asked
        from commands.graph.chart import graph_png

        chart, name, title = (
            in_process(graph_png, {"graph": report.data["graph"]}),
            "graph.png",
            f"graph: {report.data.get('query', '')}"[:200],
        )
    raw_lines = clean.data.get("raw_lines") or []
    raw = "\n".join(raw_lines) + "\n" if raw_lines else None
    return Rendered(message, chart, name, title, raw, len(raw_lines), buttons)


async def rendered(
    report: Report, show_all: bool, sign: Signer, on_render: Callable[[], None] = lambda: None
) -> Rendered:
    """The report's one rendering (made now, calling `on_render`, or being made for another request)."""
    key = (id(report), show_all)
    kept = _cache.get(key)
    if kept is None or kept[0] is not report:
        future: asyncio.Future[Rendered] = asyncio.ensure_future(off_loop(_render, report, show_all, sign, on_render))
        kept = (report, future)
        _cache[key] = kept
        while len(_cache) > KEPT:
            _cache.popitem(last=False)
    return await asyncio.shield(kept[1])
