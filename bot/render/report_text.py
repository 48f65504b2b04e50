"""Reports as terminal text: what `alp` prints and what long Slack replies attach as a file."""

from __future__ import annotations

from bot.render.escape import terminal
from commands.report import Code, Fields, Finding, Report, Severity, Table, Text, one_line

TAG = {
    Severity.OK: "[ OK ]",
    Severity.WARNING: "[WARN]",
    Severity.CRITICAL: "[CRIT]",
    Severity.UNKNOWN: "[ ?? ]",
}
NOT_JUDGED_TAG = "[ -- ]"  # a value shown as asked, no verdict (Finding.judged False)
INDENT = " " * 7


def tag(f: Finding) -> str:
    return TAG[f.severity] if f.judged else NOT_JUDGED_TAG


def lifted(table: Table) -> tuple[str, Table]:
    """A column with one value in every row (the namespace on every pod) lifted into a caption
    ("namespace: adaptive-learning-production"), so a phone's width goes to what differs; the
    caption ("" when nothing is constant) and the table without those columns."""
    keep = list(range(len(table.columns)))
    caption = []
    if len(table.rows) >= 2:
        for i in range(len(table.columns)):
            values = {row[i] if i < len(row) else "" for row in table.rows}
            if len(values) == 1 and len(keep) > 1:
                caption.append(one_line(f"{table.columns[i]}: {values.pop() or '-'}"))
                keep.remove(i)
    if not caption:
        return "", table
    cut = Table(
        columns=[table.columns[i] for i in keep],
        rows=[[row[i] if i < len(row) else "" for i in keep] for row in table.rows],
    )
    return "; ".join(caption), cut


def table_lines(table: Table, lift: bool = False) -> list[str]:
    """Columns padded to their widest cell; with `lift`, constant columns in a caption line above
    (`lifted`: messages do; files and the terminal keep every column)."""
    if lift:
        caption, cut = lifted(table)
        if caption:
            return [caption, *table_lines(cut)]
    grid = [[one_line(c) for c in table.columns], *([one_line(c) for c in row] for row in table.rows)]
    widths = [max(len(row[i]) if i < len(row) else 0 for row in grid) for i in range(len(table.columns))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip() for row in grid]


def finding_lines(f: Finding) -> list[str]:
    lines = [f"{tag(f)} {one_line(f.title)}"]  # a foreign name in a title cannot start a finding
    if f.detail:
        lines += [INDENT + line for line in f.detail.splitlines()]
    for ev in f.evidence:
        if isinstance(ev, Text | Code):
            lines += [INDENT + line for line in ev.text.splitlines()]
        elif isinstance(ev, Fields):
            lines.append(INDENT + "  ".join(one_line(f"{k}: {v}") for k, v in ev.items.items()))
        elif isinstance(ev, Table):
            lines += [INDENT + line for line in table_lines(ev)]
    for s in f.suggestions:
        lines.append(one_line(f"{INDENT}-> {s.label}" + (f"  ({s.why})" if s.why else "")))
    return lines


def ok_count_line(n: int, hint: str, probes: list[str] | None = None) -> str:
    """The one line OK findings collapse into, naming what was read: "5 checks OK: pods, health,
    oauth … (--all lists them)"."""
    read = f": {', '.join(dict.fromkeys(p for p in probes or [] if p))}" if any(probes or []) else ""
    return f"{n} check(s) OK{read} ({hint} lists them)"


def render_text(report: Report, show_all: bool = False) -> str:
    """The whole report, secrets masked: the headline first, findings worst first, OK findings
    collapsed into one count line unless `show_all`. Plain text: no Slack markup."""
    report = report.redacted()
    out = [f"{report.headline}  ({report.duration_s:.2f}s)"]
    shown, hidden = report.shown(show_all)
    for f in shown:
        out += finding_lines(f)
    if hidden:
        out.append(f"{TAG[Severity.OK]} {ok_count_line(hidden, '--all', report.folded())}")
    return terminal("\n".join(out), masked=True) + "\n"
