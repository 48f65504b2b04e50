"""Burrow's evaluation rules on hand-made windows (first match wins)."""

from __future__ import annotations

import pytest

from commands.burrow import Commit, LagStatus, PartitionWindow, evaluate, lag_seconds


def window(*rows: tuple[int, float, int]) -> list[Commit]:
    return [Commit(offset, ts, lag, offset + lag) for offset, ts, lag in rows]


@pytest.mark.parametrize(
    ("rows", "lag_now", "now", "expected"),
    [
        # lag was zero somewhere in the window -> OK even if it is high now
        (((10, 0, 0), (20, 10, 5), (30, 20, 50)), 60, 21, LagStatus.OK),
        # offset went down -> REWIND, even though the time rule would also fire
        (((50, 0, 5), (20, 10, 40)), 40, 100, LagStatus.REWIND),
        # last commit older than the window's span -> STOP
        (((10, 0, 5), (20, 10, 6)), 8, 25, LagStatus.STOP),
        # committing, offset unchanged, lag > 0 -> STALL
        (((10, 0, 5), (10, 10, 7), (10, 20, 9)), 9, 21, LagStatus.STALL),
        # offsets moving, lag never decreases -> WARN
        (((10, 0, 5), (20, 10, 5), (30, 20, 9)), 9, 21, LagStatus.WARN),
        # offsets moving, lag went down at some point -> OK (catching up)
        (((10, 0, 9), (20, 10, 4), (30, 20, 6)), 6, 21, LagStatus.OK),
        # lag now zero -> OK
        (((10, 0, 9),), 0, 50, LagStatus.OK),
    ],
)
def test_rules(rows, lag_now, now, expected):
    assert evaluate(window(*rows), lag_now, now) is expected


def test_allowed_lag_counts_as_caught_up():
    w = window((10, 0, 1), (11, 10, 1), (12, 20, 1))
    assert evaluate(w, 1, 21, allowed_lag=0) is LagStatus.WARN
    assert evaluate(w, 1, 21, allowed_lag=1) is LagStatus.OK


def test_window_records_unchanged_offset_only_while_group_is_active():
    w = PartitionWindow(size=3)
    w.observe(10, 20, 0.0, group_active=False)
    w.observe(10, 25, 1.0, group_active=False)  # nobody committed: no new entry
    assert len(w.commits) == 1
    w.observe(10, 30, 2.0, group_active=True)  # a live member re-commits
    w.observe(12, 30, 3.0, group_active=True)
    w.observe(14, 30, 4.0, group_active=True)
    assert [c.offset for c in w.commits] == [10, 12, 14]  # bounded to the window size
    assert w.fill == "3/3"


def test_lag_seconds_from_produce_rate():
    w = [Commit(0, 0.0, 10, 10), Commit(5, 10.0, 25, 30)]  # 20 messages produced in 10 s
    assert lag_seconds(w, 40) == pytest.approx(20.0)
    assert lag_seconds(w[:1], 40) is None
    assert lag_seconds(w, 0) == 0.0
