"""Reports as Block Kit. Slack's size limits are enforced here and nowhere else.

A report that does not fit one message becomes a summary message plus the full text as a
file (`files_upload_v2`), never a silently cut message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import TableBlock

from bot.render.blocks import INVALID, Block, actions, button, context, header, section
from bot.render.escape import ZWSP, code, escape, inline
from bot.render.report_text import lifted, ok_count_line, render_text, table_lines
from commands.report import ALWAYS_SHOWN, Code, Fields, Finding, Report, Severity, Table, Text, one_line

EMOJI = {
    Severity.OK: ":white_check_mark:",
    Severity.WARNING: ":warning:",
    Severity.CRITICAL: ":red_circle:",
    Severity.UNKNOWN: ":grey_question:",
}

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_FIELDS = 10
MAX_FIELD = 2000
MAX_BUTTON_VALUE = 2000
MAX_MESSAGE_CHARS = 12_000  # keep messages readable; the rest goes to a file


@dataclass
class SlackMessage:
    """What to post: fallback text, blocks, and the full text when it did not fit."""

    text: str
    blocks: list[Block]
    attachment: str | None = None  # full report as text, to upload as a file


# (action, params, evidence {"t": check target, "at": when its report was read}) -> a signed value
ButtonSigner = Callable[[str, dict[str, Any], dict[str, str]], str | None]


NOT_JUDGED_EMOJI = ":bar_chart:"  # a value shown as asked, no verdict (Finding.judged False)


def _emoji(f: Finding) -> str:
    return EMOJI[f.severity] if f.judged else NOT_JUDGED_EMOJI


def _finding_blocks(
    f: Finding,
    buttons: ButtonSigner | None = None,
    evidence: dict[str, str] | None = None,
    tables: list[Block] | None = None,
) -> list[Block]:
    """Phone-first: the title and detail, the remedy buttons and why, then the evidence (fields,
    text, tables: `_table`). `tables` collects the message's one table block."""
    if f.probe in ALWAYS_SHOWN and f.severity is Severity.OK and not f.evidence:  # context, not a finding
        return [context(f"{EMOJI[f.severity]} {escape(f.title)}")]
    text = f"{_emoji(f)} *{escape(f.title)}*"
    if f.detail:
        text += f"\n{escape(f.detail)}"
    blocks = [section(text)]
    if f.suggestions:
        elements = []
        for i, s in enumerate(f.suggestions[:5]):
            value = buttons(s.action, dict(s.params), evidence or {}) if buttons else None
            if value:
                elements.append(button(f"▶ {s.label}", f"alp_action_request:{i}", value))
        if elements:
            blocks.append(actions(elements))
        lines = [inline(s.label) + (f": {escape(s.why)}" if s.why else "") for s in f.suggestions]
        blocks.append(context("Suggested: " + "\n".join(lines)))
    fields = [f"*{escape(k)}*\n{escape(v)}" for ev in f.evidence if isinstance(ev, Fields) for k, v in ev.items.items()]
    for i in range(0, len(fields), MAX_FIELDS):  # Slack takes 10 fields a section: more sections, none dropped
        blocks.append(section(fields=fields[i : i + MAX_FIELDS]))
    body: list[str] = []
    for ev in f.evidence:
        if isinstance(ev, Text):
            body.append(escape(ev.text))
        elif isinstance(ev, Code):
            body.append(code(ev.text, masked=True))
        elif isinstance(ev, Table):
            shown, table = _table(ev, tables if tables is not None else [table_block_used()])
            body.append(shown)
            if table is not None:
                if any(body):  # Slack refuses an empty section
                    blocks.append(section("\n".join(b for b in body if b)))
                blocks.append(table)
                body = []
    if body and any(body):
        blocks.append(section("\n".join(b for b in body if b)))
    return blocks


PHONE_CHARS = 40  # monospace characters a 390 px phone shows on one line (tests/support/phone.py)
TABLE_ROWS = 100  # Slack's table block: at most 100 rows of 20 cells, one table a message
TABLE_CELLS = 20
PHONE_ROWS = 20  # rows of a table as key-value lines in a message


def table_block_used() -> Block:
    """A marker that the message already has its table block (Slack takes one a message)."""
    return {"type": "table"}


def _table(table: Table, tables: list[Block]) -> tuple[str, Block | None]:
    """A table as a phone reads it: constant columns lifted into a caption; monospace when every
    line fits `PHONE_CHARS`; else the message's one Slack table block; else key-value lines."""
    caption, cut = lifted(table)
    head = f"_{escape(caption)}_" if caption else ""
    lines = table_lines(cut)
    if max((len(line) for line in lines), default=0) <= PHONE_CHARS:
        return "\n".join(x for x in (head, code("\n".join(lines), masked=True)) if x), None
    if not tables and len(cut.rows) < TABLE_ROWS and len(cut.columns) <= TABLE_CELLS:
        block = table_block(cut)
        tables.append(block)
        return head, block
    if len(cut.rows) > PHONE_ROWS:  # a screenful of wrapped lines at most: else summary and file
        raise INVALID(f"a table of {len(cut.rows)} rows is too long to read on a phone")
    return "\n".join(x for x in (head, *key_value_lines(cut)) if x), None


def table_block(table: Table) -> Block:
    """Slack's table block (a header row, then the rows), cells as raw text (masked already; Slack
    does not parse raw text; a line break shown as `\\n`, one cell one line; a `<` is followed by a zero-width space all the same, so no
    `<!channel>` from a foreign name is ever in a message as it would be written to mention)."""
    rows = [table.columns, *table.rows]
    cells = [
        [
            {"type": "raw_text", "text": one_line((row[i] if i < len(row) else "") or "-").replace("<", "<" + ZWSP)}
            for i in range(len(table.columns))
        ]
        for row in rows
    ]
    return TableBlock(rows=cells).to_dict()


def key_value_lines(table: Table) -> list[str]:
    """A table as wrapping text, one row a line: "• *first cell* · column value · …"."""
    return [
        f"• *{escape(row[0] if row else '-')}* · "
        + " · ".join(f"{escape(c)} {escape(v or '-')}" for c, v in zip(table.columns[1:], row[1:], strict=False))
        for row in table.rows
    ]


def tables_as_text(blocks: list[Block]) -> list[Block]:
    """The blocks with every table block as key-value lines: where Slack refuses a table block."""
    out: list[Block] = []
    for b in blocks:
        if b.get("type") != "table":
            out.append(b)
            continue
        texts = [[str(c.get("text", "")).replace("<" + ZWSP, "<") for c in row] for row in b.get("rows") or []]
        if texts:
            out += split_sections("\n".join(key_value_lines(Table(columns=texts[0], rows=texts[1:]))))
    return out


def _fits(blocks: list[Block]) -> bool:
    if len(blocks) > MAX_BLOCKS:
        return False
    total = 0
    for b in blocks:
        t = b.get("text", {}).get("text", "")
        if len(t) > (MAX_HEADER if b["type"] == "header" else MAX_SECTION):
            return False
        for fld in b.get("fields", []):
            if len(fld["text"]) > MAX_FIELD:
                return False
        total += len(t) + sum(len(fld["text"]) for fld in b.get("fields", []))
    return total <= MAX_MESSAGE_CHARS


def _header(report: Report) -> Block:
    """The headline when it fits a header; else target and severity (the headline is the fallback text
    and the first finding follows at once)."""
    title = escape(report.headline)  # foreign names (a group, a pod) may be in it
    if len(title) > MAX_HEADER:
        title = f"{report.target}: {report.severity.value.upper()}"
    return header(title)


def _context(report: Report, extra: str = "") -> Block:
    counts: dict[Severity, int] = {}
    for f in report.findings:
        if f.judged:
            counts[f.severity] = counts.get(f.severity, 0) + 1
    shown = sum(1 for f in report.findings if not f.judged)
    tally = " · ".join(
        [f"{EMOJI[s]} {n}" for s, n in sorted(counts.items(), key=lambda x: -x[0].rank)]
        + ([f"{NOT_JUDGED_EMOJI} {shown} shown, not judged"] if shown else [])
    )
    text = f"`{report.target}` · read {report.started_at:%H:%M:%SZ} in {report.duration_s:.1f}s · {tally}{extra}"
    return context(text)


def render_report(report: Report, buttons: ButtonSigner | None = None, show_all: bool = False) -> SlackMessage:
    """Block Kit for a report: the headline first (also the notification text), findings worst
    first, OK findings collapsed into one count line unless `show_all`; too big for one message
    -> summary plus file."""
    report = report.redacted()
    fallback = escape(report.headline)  # the notification text: Slack parses it, and titles are foreign
    worst_first, hidden = report.shown(show_all)
    blocks = _whole(report, worst_first, hidden, buttons)
    if blocks is not None:
        return SlackMessage(fallback, blocks)
    summary = [_header(report)]
    lines = [f"{_emoji(f)} {escape(f.title)}" for f in worst_first]
    if hidden:
        lines.append(f"{EMOJI[Severity.OK]} {ok_count_line(hidden, 'the attached file', report.folded())}")
    chunk: list[str] = []
    for line in lines:
        if len(summary) >= MAX_BLOCKS - 3:
            chunk.append(f"… and {len(lines) - lines.index(line)} more in the file")
            break
        if chunk and sum(len(x) + 1 for x in chunk) + len(line) > MAX_SECTION - 100:
            summary.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line[: MAX_SECTION - 100])
    if chunk:
        summary.append(section("\n".join(chunk)))
    summary.append(_context(report, " · full report attached as a file"))
    incident = _open_incident_button(report)
    if incident:
        summary.append(incident)
    return SlackMessage(fallback, summary, attachment=render_text(report, show_all=True))


def _whole(report: Report, worst_first: list[Finding], hidden: int, buttons: ButtonSigner | None) -> list[Block] | None:
    """The whole report as one message's blocks; None as soon as it cannot fit one (too many
    blocks or characters, or a section or field over Slack's limits)."""
    try:
        blocks = [_header(report)]
        tables: list[Block] = []  # Slack takes one table block a message
        for f in worst_first:
            blocks += _finding_blocks(f, buttons, {"t": report.target, "at": report.started_at.isoformat()}, tables)
            if not _fits(blocks):  # stop building what will not be sent
                return None
        if hidden:
            line = ok_count_line(hidden, _all_hint(report.target), report.folded())
            blocks.append(context(f"{EMOJI[Severity.OK]} {line}"))
        blocks.append(_context(report))
        incident = _open_incident_button(report)
        if incident:
            blocks.append(incident)
    except INVALID:
        return None
    return blocks if _fits(blocks) else None


def _all_hint(target: str) -> str:
    """What lists the folded findings: `/alp check X --all` for a check; the first steps (`graph`,
    `logs`, `changes`) list every finding when typed: `alp X …` in a terminal."""
    import commands.checks  # noqa: F401  (registers the checks)
    from commands.catalogue import current

    return f"`/alp check {target} --all`" if current().checks.get(target) else f"`alp {target} …` in a terminal"


def _open_incident_button(report: Report) -> Block | None:
    """Under a critical report: open an incident pre-filled from its worst finding."""
    critical = [f for f in report.findings if f.severity is Severity.CRITICAL]
    if not critical:
        return None
    seed = incident_seed(f"{report.target}: {critical[0].title}", "\n".join(f.title for f in critical[:5]))
    return actions([button("Open incident", "incident_open_from_finding", seed, "danger")], "incident_from_report")


def render_progress(target: str, probes: dict[str, str]) -> SlackMessage:
    """The first reply: what is running, then updated as probes finish."""
    marks = {"running": ":hourglass_flowing_sand:", "done": ":white_check_mark:"}
    lines = [f"{marks.get(state, ':hourglass_flowing_sand:')} {probe}" for probe, state in probes.items()]
    text = f":mag: Running `{target}`…"
    blocks = [section(text + ("\n" + "\n".join(lines) if lines else ""))]
    return SlackMessage(text, blocks)


def incident_seed(summary: str, impact: str, limit: int = MAX_BUTTON_VALUE) -> str:
    """The Open incident button's value: JSON of the fields, each cut (on characters, never
    inside the JSON) until the whole fits Slack's 2000-character button value."""
    summary, impact = summary[:200], impact[:1500]
    while len(value := json.dumps({"summary": summary, "impact": impact}, ensure_ascii=False)) > limit:
        if impact:
            impact = impact[: len(impact) * 3 // 4]
        else:
            summary = summary[: len(summary) * 3 // 4]
    return value


def fit(text: str, limit: int, where: str) -> str:
    """`text` (mrkdwn, escaped) within `limit` characters: whole if it fits, else cut between
    lines where one ends near the limit (never inside an `&amp;` entity), saying how many
    characters are left out and `where` to read them all."""
    if len(text) <= limit:
        return text
    room = limit - len(where) - 40
    cut = text[:room]
    if "\n" in cut[room // 2 :]:
        cut = cut.rsplit("\n", 1)[0]
    elif "&" in cut[-5:]:
        cut = cut[: cut.rfind("&")]
    return f"{cut}\n… {len(text) - len(cut)} more characters: {where}"


def split_sections(text: str, limit: int = MAX_SECTION) -> list[Block]:
    """`text` (already mrkdwn) as as many sections as it needs, split between lines: never cut.
    A single line longer than a section is split inside it."""
    chunks: list[str] = []
    chunk = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if chunk:
                chunks.append(chunk)
                chunk = ""
            chunks.append(line[:limit])
            line = line[limit:]
        if chunk and len(chunk) + 1 + len(line) > limit:
            chunks.append(chunk)
            chunk = line
        else:
            chunk = f"{chunk}\n{line}" if chunk else line
    if chunk or not chunks:
        chunks.append(chunk or " ")
    return [section(c) for c in chunks]


def render_usage(message: str) -> SlackMessage:
    """Help and usage replies (their words may be the user's: escaped), split, never cut."""
    text = escape(message)
    return SlackMessage(text, split_sections(text)[:MAX_BLOCKS])
