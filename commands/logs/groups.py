"""The CPU part of `alp logs`: split, mask, filter and group log lines, in slices that stop.

`digest` runs in a worker process (`commands.runtime.cpu.off_process`), never on the event loop. It takes
the raw text of each container, already bounded in lines by the reader (`--tail`, and
`logs.max_lines` in all), cuts any line over `MAX_LINE_CHARS` (saying so), and works newest
line first: `--grep` (RE2, `commands.patterns`), group with Drain
(`drain3`). Every `SLICE` lines it asks its `Cutoff`; at the check's deadline it ends there and
says how many of the lines it got through, so the newest are the ones grouped. Masking comes
first, a container at a time as one text (`commands.masking.redact.redact_lines`: a key split over
lines is masked on each), also stopping at the deadline (the rest is counted, not examined).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from commands.log_levels import line_level
from commands.masking.redact import redact_lines
from commands.patterns import compile_pattern
from commands.runtime.cpu import SLICE, Cutoff

if TYPE_CHECKING:
    from drain3 import TemplateMiner

MASKING_SHARE = 0.6  # of the time left, what masking may take before grouping starts
MAX_LINE_CHARS = 8_000  # a longer line is cut here before masking and grouping ("… [N characters cut]")
LEVELS = ("other", "info", "warning", "error", "fatal")
_LEVEL_WORDS = (
    ("fatal", re.compile(r"(?i)\b(fatal|panic|critical|crit|emerg)\b")),
    ("error", re.compile(r"(?i)\b(error|err|exception|traceback|failed|failure)\b")),
    ("warning", re.compile(r"(?i)\b(warn|warning)\b")),
    ("info", re.compile(r"(?i)\b(info|debug|trace|notice)\b")),
)
# A line's own level: a `level=`/`"level":` field, or the first word after an optional timestamp.
_LEVEL_FIELD = re.compile(r"""(?i)["']?\b(?:level|lvl|severity|loglevel)["']?\s*[=:]\s*["']?([a-z]+)""")
_LEADING_LEVEL = re.compile(
    r"(?i)^\s*(?:\S*\d\d:\d\d\S*\s+)?[\[(]?(fatal|panic|critical|crit|emerg|error|err|warn|warning|info|debug|trace|notice)\b"
)
_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d) ")
# What varies between lines of one template: masked so Drain groups them (drain3's own mechanism).
_MASKS = (
    (r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?", "TIME"),
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "UUID"),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "IP"),
    (r"\b0x[0-9a-fA-F]+\b|\b[0-9a-f]{16,}\b", "HEX"),
    (r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:ms|s|us|µs|m|h|%|[KMG]i?B?)?(?![\w.])", "NUM"),
)

Line = tuple[str, str, str]  # (pod/container, time or "", masked text)


@dataclass
class Group:
    """One template: how often, when, how bad, one example."""

    count: int = 0
    level: str = "other"
    first: str = ""
    last: str = ""
    example: str = ""
    sources: set[str] = field(default_factory=set)


@dataclass
class Digest:
    """What `digest` made of the lines: the kept lines (masked, matching `--grep`, oldest first),
    their groups (worst first, then most frequent), and how far it got."""

    lines: list[Line]
    groups: list[tuple[str, Group]]
    total: int  # lines read
    examined: int  # lines masked, filtered and grouped (the newest ones), == total unless stopped
    cut: int  # lines longer than MAX_LINE_CHARS, cut

    @property
    def stopped(self) -> bool:
        return self.examined < self.total


_BY_RANK = ("info", "info", "info", "warning", "error", "fatal")  # commands.log_levels.LEVELS ranks -> names here


def level_of(text: str) -> str:
    """The line's own level where it states one (`WARN …`, `level=info`, `"level":"error"`, klog's
    `E1207 …`, syslog's `<3>`, nginx's `[error]`: `commands.log_levels.line_level`, the checks' rule),
    else the worst level word in it (`… failed`, `panic: …`)."""
    if (rank := line_level(text)) is not None:
        return _BY_RANK[rank]
    stated = _LEVEL_FIELD.search(text) or _LEADING_LEVEL.search(text)
    if stated:
        for level, rx in _LEVEL_WORDS:
            if rx.fullmatch(stated[1]):
                return level
    for level, rx in _LEVEL_WORDS:
        if rx.search(text):
            return level
    return "other"


def split_timestamp(line: str) -> tuple[str, str]:
    """`2026-11-29T19:04:21.123456789Z msg` (kubelet `timestamps=true`) -> (`2026-11-29T19:04:21Z`, msg)."""
    m = _TIMESTAMP.match(line)
    if not m:
        return "", line
    try:
        when = datetime.fromisoformat(m[1] + m[3].replace("Z", "+00:00"))
    except ValueError:
        return "", line
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if m[3] == "Z" else when.isoformat(), line[m.end() :]


def miner() -> TemplateMiner:
    from drain3 import TemplateMiner  # imported when lines are grouped (in the worker process)
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    cfg = TemplateMinerConfig()
    cfg.masking_instructions = [MaskingInstruction(rx, name) for rx, name in _MASKS]
    cfg.parametrize_numeric_tokens = True
    return TemplateMiner(config=cfg)


class Grouper:
    """Drain templates built one line at a time."""

    def __init__(self) -> None:
        self.tm = miner()
        self.groups: dict[int, Group] = {}

    def add(self, source: str, when: str, text: str) -> None:
        cid = self.tm.add_log_message(text)["cluster_id"]
        g = self.groups.setdefault(cid, Group(example=text))
        g.count += 1
        g.sources.add(source.split("/")[0])
        level = level_of(text)
        if LEVELS.index(level) > LEVELS.index(g.level):
            g.level = level
        if when:
            if not g.first or when <= g.first:  # lines come newest first: the example is the oldest
                g.example = text
            g.first = min(g.first or when, when)
            g.last = max(g.last, when)

    def result(self) -> list[tuple[str, Group]]:
        """(template, group), worst level first, then most frequent."""
        templates = {c.cluster_id: c.get_template() for c in self.tm.drain.clusters}
        ordered = sorted(self.groups.items(), key=lambda kv: (-LEVELS.index(kv[1].level), -kv[1].count))
        return [(templates.get(cid, g.example), g) for cid, g in ordered]


def group_lines(lines: list[Line]) -> list[tuple[str, Group]]:
    """(source, time, text) lines -> (template, group), worst level first, then most frequent."""
    grouper = Grouper()
    for line in lines:
        grouper.add(*line)
    return grouper.result()


def _cut(text: str) -> tuple[str, bool]:
    if len(text) <= MAX_LINE_CHARS:
        return text, False
    return f"{text[:MAX_LINE_CHARS]}… [{len(text) - MAX_LINE_CHARS} characters cut]", True


def digest(texts: list[tuple[str, str]], pattern: str | None, stop: Cutoff) -> Digest:
    """(pod/container, raw log text) -> Digest; `pattern`: `--grep` (RE2, case-insensitive). Runs in
    a worker process (`commands.runtime.cpu.off_process`); see the module docstring."""
    grep = compile_pattern(pattern, ignore_case=True) if pattern else None
    raw: list[Line] = []
    cut = total = 0
    t0 = time.monotonic()
    masking = Cutoff(None if stop.deadline is None else t0 + (stop.deadline - t0) * MASKING_SHARE)
    for source, text in texts:  # masked a container at a time, as one text (a PEM key over lines)
        lines = text.splitlines()
        total += len(lines)
        if stop.cancelled or masking.reached():
            continue  # counted, not examined: the rest of the time is for grouping what was masked
        stamped = []
        for line in lines:
            line, was_cut = _cut(line)
            cut += was_cut
            stamped.append(split_timestamp(line))
        masked = redact_lines([msg for _, msg in stamped])
        raw.extend((source, when, msg) for (when, _), msg in zip(stamped, masked, strict=True))
    order = sorted(range(len(raw)), key=lambda i: raw[i][1], reverse=True)  # newest first; stable
    grouper = Grouper()
    kept: list[tuple[int, Line]] = []
    examined = 0
    for examined, i in enumerate(order):
        if examined % SLICE == 0 and stop.reached():
            break
        source, when, msg = raw[i]
        if grep is None or grep.search(msg):
            kept.append((i, (source, when, msg)))
            grouper.add(source, when, msg)
    else:
        examined = len(order)
    kept.sort(key=lambda x: (x[1][1], x[0]))  # by time where the kubelet gave it; read order otherwise
    return Digest([line for _, line in kept], grouper.result(), total, examined, cut)
