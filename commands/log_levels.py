"""A log line's level, in the format that states it: one rule for the checks, the runbook's logs
probe and `alp logs` (commands.checks.logscan re-exports it)."""

from __future__ import annotations

import re

# Log levels by rank (syslog / log4j / Go / Python names). A line's level is, in this order: a
# level prefix of its format (LEVEL_PREFIXES), its level field (JSON or logfmt: `"level":"error"`,
# `"severity":"ERROR"`, `level=warn`, pino/bunyan's numeric `"level":50`), nginx/Apache's bracketed
# `[error]`/`[core:crit]`, else the first level word in it; a line that names none has no level.
LEVELS = {
    "trace": 0,
    "debug": 1,
    "info": 2,
    "notice": 2,
    "warn": 3,
    "warning": 3,
    "error": 4,
    "err": 4,
    "severe": 4,
    "fatal": 5,
    "crit": 5,
    "critical": 5,
    "alert": 5,
    "panic": 5,
    "emerg": 5,
}
_LETTER = {"D": 1, "I": 2, "W": 3, "E": 4, "F": 5, "A": 5}  # klog/glog and Ruby's Logger: the level's initial
_SYSLOG_SEVERITY = (
    5,
    5,
    5,
    4,
    3,
    2,
    2,
    1,
)  # RFC 5424: PRI mod 8 (emerg, alert, crit, err, warning, notice, info, debug)
# Formats that put the level in a prefix, not a word: klog/glog ("E1207 03:01:00.000000 1 tokens.go:42] …"),
# Ruby's Logger ("E, [2026-11-28T03:00:00.1 #1] ERROR -- : …"), syslog's priority ("<3>…", as journald and
# the kernel write it).
_KLOG = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d\d")
_RUBY = re.compile(r"^([DIWEFA]), \[")
_SYSLOG = re.compile(r"^<(\d{1,3})>")
_FIELD_LEVEL = re.compile(
    r"""(?:"(?:level|severity|lvl|levelname|loglevel|log\.level|@l)"\s*:\s*"?|\b(?:level|lvl|severity)=["']?)(\w+)""",
    re.I,
)
_BRACKET_LEVEL = re.compile(r"\[(?:\w+:)?(emerg|alert|crit|error|warn|notice|info|debug)\]", re.I)
_WORD_LEVEL = re.compile(  # "alert" only where a format states it ("sending alert" is no level)
    r"(?<![\w-])(" + "|".join(sorted(set(LEVELS) - {"alert"}, key=len, reverse=True)) + r")(?![\w-])", re.I
)


# The first line of an exception nobody caught, which a runtime prints without any level: an
# error by what it is (Python's traceback, the JVM's "Exception in thread", Node's "Uncaught").
_UNCAUGHT = re.compile(
    r"^\s*(Traceback \(most recent call last\):|Exception in thread \"|Uncaught \w*(Error|Exception)\b)"
)


def _named_rank(name: str) -> int | None:
    if name.isdigit():  # pino/bunyan: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal
        return min(max(int(name) // 10 - 1, 0), 5)
    return LEVELS.get(name.lower())


def line_level(line: str) -> int | None:
    """The rank of a line's level (LEVELS), or None when it names none; an uncaught exception's
    first line, printed by the runtime without a level, ranks as ERROR."""
    if m := _KLOG.match(line) or _RUBY.match(line):
        return _LETTER[m.group(1)]
    if m := _SYSLOG.match(line):
        return _SYSLOG_SEVERITY[int(m.group(1)) % 8]
    for rx, text in ((_FIELD_LEVEL, line), (_BRACKET_LEVEL, line[:120]), (_WORD_LEVEL, line[:120])):
        if (m := rx.search(text)) and (rank := _named_rank(m.group(1))) is not None:
            return rank
    return LEVELS["error"] if _UNCAUGHT.match(line) else None
