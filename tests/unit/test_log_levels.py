"""A log line's level decides what it is, never one word in it (issue #25, round 3)."""

from __future__ import annotations

import pytest

from commands.checks.log_errors import error_lines, error_severity
from commands.config import Thresholds
from commands.report import Severity
from commands.runbook import model as m
from commands.runbook.probes.kube import _match

LINES = [
    "2026-11-28T03:00:00Z INFO login ok, no error",
    "2026-11-28T03:00:01Z FATAL cannot bind :3001",
    "panic: runtime: nil pointer dereference",
    '{"level":"critical","msg":"token signer unavailable"}',
    "2026-11-28T03:00:02Z ERR upstream reset",
    "2026-11-28T03:00:03Z WARN retrying the error path",
]


def test_errors_by_level_not_by_word():
    assert [line for _, line, _ in error_lines([("p/app", x) for x in LINES])] == LINES[1:5]


@pytest.mark.parametrize(
    ("errors", "fatal", "lines", "expected"),
    [
        (1, 0, 10_000, Severity.OK),  # one ERROR among 10,000 healthy lines
        (1, 0, 50, Severity.WARNING),  # one in a quiet window is a share of it
        (12, 0, 1_000, Severity.WARNING),  # 1.2 %
        (40, 0, 400, Severity.CRITICAL),  # 10 %
        (1, 1, 10_000, Severity.WARNING),  # a process said it cannot go on
    ],
)
def test_errors_judged_as_a_share_of_the_window(errors, fatal, lines, expected):
    assert error_severity(errors, fatal, lines, Thresholds()) is expected


def test_a_minimum_count_before_a_share_is_judged():
    assert error_severity(1, 0, 2, Thresholds()) is Severity.WARNING  # half of two lines: little to go on
    assert error_severity(3, 0, 6, Thresholds()) is Severity.CRITICAL


def test_runbook_levels_read_the_line_level():
    assert _match(LINES, ".", ["ERROR"]) == [LINES[4]]  # ERR is ERROR; "no error" at INFO is not
    assert _match(LINES, ".", ["FATAL"]) == LINES[1:4]  # panic and critical rank as FATAL
    with pytest.raises(ValueError, match="unknown level"):
        m.LogsProbe(kind="logs", id="x", selector="app=a", pattern=".", levels=["ERRORS"])


def test_an_uncaught_exception_is_an_error_without_a_level():
    traceback = ["Traceback (most recent call last):", '  File "a.py", line 1, in f', "KeyError: 'kid'"]
    java = ['Exception in thread "main" java.lang.IllegalStateException: no key']
    got = [line for _, line, _ in error_lines([("p/app", x) for x in traceback + java])]
    assert got == [traceback[0], java[0]]  # one per exception, not one per frame


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("E1207 03:01:00.000000       1 tokens.go:42] token verify failed", "error"),  # klog/glog
        ("F1207 03:01:00.000000       1 main.go:31] cannot load signing key", "fatal"),
        ("W1207 03:01:00.000000       1 mem.go:9] memory usage 92% of limit", "warning"),
        ("I1207 03:01:00.000000       1 handler.go:88] retried after error", "info"),
        ('{"level":"error","ts":1733540460.1,"caller":"auth/jwt.go:42","msg":"verify"}', "error"),  # zap
        ('{"level":50,"time":1733540460100,"msg":"token verify"}', "error"),  # pino/bunyan
        ('{"level":30,"time":1733540460100,"msg":"fatal words, info level"}', "info"),
        ('{"log.level":"warn","message":"slow"}', "warning"),  # ECS
        ('time="2026-12-07T03:00:00Z" level=error msg="db timeout"', "error"),  # logrus/logfmt
        ('time="2026-12-07T03:00:00Z" level=info msg="error budget fine"', "info"),
        ("<3>auth[1]: token verify failed", "error"),  # syslog priority (journald, the kernel)
        ("<11>auth[1]: token verify failed", "error"),  # facility user (1*8+3)
        ("<6>auth[1]: an error page was served", "info"),
        ("<2>kernel: out of memory", "fatal"),
        ("2026/12/07 03:00:00 [error] 31#31: *1 connect() failed (111: Connection refused)", "error"),  # nginx
        ("2026/12/07 03:00:00 [alert] 31#31: worker process exited on signal 9", "fatal"),
        ("[Mon Dec 07 03:00:00.1 2026] [proxy:crit] [pid 9] AH00898: error reading", "fatal"),  # Apache 2.4
        ("E, [2026-12-07T03:00:00.1 #1] ERROR -- : PG::ConnectionBad", "error"),  # Ruby's Logger (Rails)
        ("I, [2026-12-07T03:00:00.1 #1]  INFO -- : Completed 500 in 3ms (error)", "info"),
        ("2026-12-07 03:00:00,123 - auth.views - ERROR - db timeout", "error"),  # Python logging
        ("2026-12-07T03:00:00Z sending alert to the on-call", None),  # "alert" as a word is no level
    ],
)
def test_the_common_formats_state_their_level(line, level):
    from commands.log_levels import LEVELS, line_level

    assert line_level(line) == (LEVELS[level] if level else None)
