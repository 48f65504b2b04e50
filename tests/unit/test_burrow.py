"""The lag rules on hand-made windows (first match wins; see commands.checks.kafka_lag.burrow)."""

from __future__ import annotations

import pytest

from commands.checks.kafka_lag.burrow import LagStatus, PartitionWindow, Sample, evaluate, lag_seconds


def window(*rows: tuple[int | None, float, int], live: bool = True) -> list[Sample]:
    return [Sample(offset, ts, lag, (offset or 0) + lag, live) for offset, ts, lag in rows]


@pytest.mark.parametrize(
    ("rows", "live", "expected"),
    [
        # caught up now -> OK
        (((10, 0, 9), (19, 10, 0)), True, LagStatus.OK),
        # offset went down -> REWIND
        (((50, 0, 5), (20, 10, 40)), True, LagStatus.REWIND),
        # no live members and lag -> STOP, however recently it was caught up (Burrow: OK)
        (((10, 0, 0), (10, 10, 0), (10, 20, 40)), False, LagStatus.STOP),
        (((10, 0, 0), (10, 600, 3)), False, LagStatus.STOP),
        # live, offset still for longer than the stall window, lag -> STALL
        (((10, 0, 5), (10, 30, 7), (10, 61, 9)), True, LagStatus.STALL),
        # live, moved earlier, then still for the stall window -> STALL (Burrow: needs the whole window still)
        (((5, 0, 5), (10, 10, 7), (10, 80, 9)), True, LagStatus.STALL),
        # live, still, but only 4 s watched -> cannot tell (Burrow: STALL)
        (((10, 0, 5), (10, 2, 7), (10, 4, 9)), True, LagStatus.UNKNOWN),
        # offsets moving, lag never decreases -> WARN
        (((10, 0, 5), (20, 10, 5), (30, 20, 9)), True, LagStatus.WARN),
        # offsets moving, lag went down at some point -> OK (catching up)
        (((10, 0, 9), (20, 10, 4), (30, 20, 6)), True, LagStatus.OK),
        # live, caught up earlier in the window and moving since -> OK (a burst)
        (((10, 0, 0), (20, 10, 5), (30, 20, 50)), True, LagStatus.OK),
        # assigned, never committed, messages waiting -> WARN; an empty log -> OK
        (((None, 0, 30), (None, 2, 30)), True, LagStatus.WARN),
        (((None, 0, 0),), True, LagStatus.OK),
    ],
)
def test_rules(rows, live, expected):
    assert evaluate(window(*rows, live=live)) is expected


def test_allowed_lag_counts_as_caught_up():
    w = window((10, 0, 1), (11, 10, 1), (12, 20, 1))
    assert evaluate(w, allowed_lag=0) is LagStatus.WARN
    assert evaluate(w, allowed_lag=1) is LagStatus.OK


def test_stall_window_is_configurable():
    w = window((10, 0, 5), (10, 3, 5))
    assert evaluate(w, stall_window_s=60) is LagStatus.UNKNOWN
    assert evaluate(w, stall_window_s=2) is LagStatus.STALL


def test_window_keeps_the_last_samples():
    w = PartitionWindow(size=3)
    for i in range(5):
        w.observe(Sample(10 + i, float(i), 5, 15 + i))
    assert [s.offset for s in w.samples] == [12, 13, 14]
    assert w.fill == "3/3" and w.span_s == 2.0


def test_lag_seconds_from_produce_rate():
    w = [Sample(0, 0.0, 10, 10), Sample(5, 10.0, 40, 45)]  # 35 messages produced in 10 s
    assert lag_seconds(w) == pytest.approx(40 / 3.5)
    assert lag_seconds(w[:1]) is None
    assert lag_seconds([Sample(5, 0.0, 0, 5)]) == 0.0
