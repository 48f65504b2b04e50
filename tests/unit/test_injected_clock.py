"""The ladder's pages and the remediation requests read the clock they are given (commands/runtime/clock.py),
never the wall clock: a test's fake clock, an hour ahead, is what they count from."""

from __future__ import annotations

from datetime import timedelta

from commands.actions.registry import Preview, Risk
from commands.actions.request import preview_json
from escalation.config import EscalationSettings
from escalation.ladder.engine import Escalator
from escalation.model import Priority
from escalation.state.request_log import StateRequestLog
from escalation.state.store import Store
from tests.support.clock import FakeClock
from tests.support.notifier import Recorder

HOUR = 3600.0


async def test_a_page_says_when_the_next_one_is_due_on_the_ladders_clock(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    clock = FakeClock()
    clock.advance(HOUR)
    cfg = EscalationSettings(p1_first_page_s=600, step_wait_s=1800, leader_poll_s=60, ack_timeout_s=0, reminder_s=3600)
    rec = Recorder()
    eng = Escalator(Store(url, clock), cfg, rec, url, clock=clock)
    await eng.start()
    try:
        inc = await eng.open(Priority.P1, "progress not saving", "10% of users", [], "C1", "U1")
        await eng.escalate_now(inc.id, "U2")  # the primary now; the secondary due 30 minutes later
        [(_, _, page)] = rec.pages
        # the next rung is due 30 minutes after this page on the fake clock (an hour ahead of the wall's)
        assert "(in 30 min)" in page.fields()["Current Status"], page.status
    finally:
        await eng.stop()
        await eng.close()


async def test_a_request_is_stamped_and_expires_on_the_stores_clock(tmp_path) -> None:
    clock = FakeClock()
    clock.advance(HOUR)
    log = StateRequestLog(Store(f"sqlite:///{tmp_path}/state.db", clock))
    try:
        before = clock.now()
        preview = preview_json(Preview(["warm the cache"], None, None, [], None, "scheduler-service"))
        req = await log.create("warm-cache", {}, Risk.SAFE, "U1", "C1", 900, preview)
        assert before - timedelta(seconds=5) <= req.created_at <= clock.now()
        assert req.expires_at - req.created_at == timedelta(seconds=900)
    finally:
        await log.close()
