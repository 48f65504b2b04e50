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
