"""The escalation engine in process, with short timings and a recording notifier."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web

from escalation.config import EscalationSettings
from escalation.ladder.engine import Escalator
from escalation.ladder.leader import Lease
from escalation.model import IncidentStatus, Priority, build_ladder
from escalation.postmortem import postmortem_markdown
from escalation.state.store import Store
from tests.support.clock import FakeClock
from tests.support.notifier import Recorder

SIX = ["Incident Summary", "Impact Assessment", "Timeline", "Steps Taken", "Current Status", "Logs and Evidence"]


class PagerSink:
    """A local PagerDuty-compatible endpoint that records events."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.status = 202

    async def handler(self, request: web.Request) -> web.Response:
        self.events.append(await request.json())
        return web.json_response({"status": "success"}, status=self.status)


def settings(pager_url: str | None = None, **over: Any) -> EscalationSettings:
    base = dict(
        p0_first_page_s=0,
        p1_first_page_s=1,
        p2_first_page_s=7200,
        step_wait_s=1,
        ack_timeout_s=0,
        reminder_s=3600,
        page_retries=2,
        page_backoff_s=0.05,
        leader_poll_s=0.2,
        pager_webhook_url=pager_url,
    )
    base.update(over)
    return EscalationSettings(**base)


@pytest.fixture
async def pager():
    sink = PagerSink()
    app = web.Application()
    app.router.add_post("/v2/enqueue", sink.handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sink.url = f"http://127.0.0.1:{runner.addresses[0][1]}/v2/enqueue"  # type: ignore[attr-defined]
    yield sink
    await runner.cleanup()


@pytest.fixture
def state_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/state.db"


@pytest.fixture
def clock() -> FakeClock:
    """The engines' clock: the wall clock until a test advances it to make a step fall due."""
    return FakeClock()


@pytest.fixture
async def make_engine(state_url, clock):
    engines: list[Escalator] = []

    async def make(cfg: EscalationSettings, notifier: Recorder | None = None) -> tuple[Escalator, Recorder]:
        rec = notifier or Recorder()
        eng = Escalator(Store(state_url, clock), cfg, rec, state_url, clock=clock)
        await eng.start()
        engines.append(eng)
        return eng, rec

    yield make
    for e in engines:
        await e.stop()
        await e.close()


async def wait_for(pred, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    """Until `pred()` (or what it returns, awaited) is true."""
    end = time.monotonic() + timeout
    while True:
        value = pred()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.05)


async def settled(eng: Escalator) -> None:
    """One reconciler pass at the clock's time now, and every page it started delivered."""
    await eng.reconcile()
    await eng.delivery.drain(timeout_s=5)


async def kinds(eng: Escalator, incident_id: int) -> list[str]:
    return [e.kind for e in await eng.store.timeline(incident_id)]


async def _count(values: Any, item: str, n: int) -> bool:
    return bool((await values).count(item) == n)


async def _statuses_of_step(eng: Escalator, incident_id: int, step: int, want: list[str]) -> bool:
    return [p["status"] for p in await eng.pages_of(incident_id) if p["step"] == step] == want


async def _any_entry(eng: Escalator, incident_id: int, pred: Any) -> bool:
    return any(pred(e) for e in await eng.timeline(incident_id))


async def test_full_ladder_in_order_with_the_manager_paged_by_webhook(make_engine, pager, clock):
    eng, rec = await make_engine(settings(pager.url))
    inc = await eng.open(Priority.P0, "auth down for everyone", "all logins fail", ["auth-service"], "C1", "U1")
    await wait_for(lambda: rec.steps(inc.ref) == ["primary"])
    clock.advance(1)  # the secondary falls due
    await wait_for(lambda: rec.steps(inc.ref) == ["primary", "secondary"])
    clock.advance(1)  # then the manager

    await wait_for(lambda: len(pager.events) == 1, 8)
    # the sink has the event before the engine records the page: wait for the record too
    await wait_for(lambda: _count(kinds(eng, inc.id), "page", 3), 5)

    assert rec.steps(inc.ref) == ["primary", "secondary"]
    event = pager.events[0]
    assert event["event_action"] == "trigger" and event["dedup_key"].startswith(f"alp-{inc.ref}-")
    assert list(event["payload"]["custom_details"]) == SIX
    kinds_ = await kinds(eng, inc.id)
    assert kinds_.count("page") == 3
    clock.advance(1.5)
    await settled(eng)
    assert len(pager.events) == 1 and rec.steps(inc.ref) == ["primary", "secondary"]  # each once


async def test_pages_carry_the_six_fields_filled_in(make_engine):
    eng, rec = await make_engine(settings(step_wait_s=60))
    inc = await eng.open(Priority.P1, "progress not saving", "10% of users", ["user-service"], "C1", "U1")
    await eng.record(
        inc.id,
        "U2",
        "check",
        "check kafka-lag: CRITICAL",
        {"target": "kafka-lag", "findings": ["Consumer group user-service: STOP, lag 4,200"]},
    )
    await eng.record(inc.id, "U2", "action", "restart deployment=user-service: done", {})
    await eng.escalate_now(inc.id, "U2")
    [(_, _, page)] = rec.pages
    fields = page.fields()
    assert list(fields) == SIX
    assert fields["Incident Summary"] == "progress not saving"
    assert "10% of users" in fields["Impact Assessment"] and "user-service" in fields["Impact Assessment"]
    assert "opened by <@U1>" in fields["Timeline"]
    assert "check kafka-lag: CRITICAL" in fields["Steps Taken"] and "restart" in fields["Steps Taken"]
    assert "triggered" in fields["Current Status"]
    assert "STOP, lag 4,200" in fields["Logs and Evidence"]


async def test_acknowledge_mid_ladder_stops_it(make_engine, clock):
    eng, rec = await make_engine(settings())
    inc = await eng.open(Priority.P0, "db down", "", [], "C1", "U1")
    await wait_for(lambda: rec.steps(inc.ref) == ["primary"])
    assert await eng.acknowledge(inc.id, "U7")
    assert not await eng.acknowledge(inc.id, "U8")  # once
    clock.advance(2.0)
    await settled(eng)
    assert rec.steps(inc.ref) == ["primary"]
    stored = await eng.store.get(inc.id)
    assert stored.status is IncidentStatus.ACKNOWLEDGED and stored.acked_by == "U7"
    assert stored.next_due_at is None and stored.escalation_id is None


async def test_ack_timeout_retriggers_and_the_ladder_resumes(make_engine):
    eng, rec = await make_engine(settings(ack_timeout_s=1, step_wait_s=30))
    inc = await eng.open(Priority.P0, "latency", "", [], "C1", "U1")
    await wait_for(lambda: rec.steps(inc.ref) == ["primary"])
    await eng.acknowledge(inc.id, "U7")
    await wait_for(lambda: rec.steps(inc.ref) == ["primary", "secondary"], 6)
    assert (await eng.store.get(inc.id)).status is IncidentStatus.TRIGGERED
    assert "retrigger" in await kinds(eng, inc.id)


async def test_long_acknowledged_incident_gets_reminders(make_engine):
    eng, rec = await make_engine(settings(reminder_s=0.5))
    inc = await eng.open(Priority.P2, "slow", "", [], "C1", "U1")
    await eng.acknowledge(inc.id, "U7")
    await wait_for(lambda: sum("still not resolved" in s for s in rec.said) >= 2, 5)
    await eng.resolve(inc.id, "U7")
    await asyncio.sleep(0.2)  # a reminder already past its status check may still finish
    count = sum("still not resolved" in s for s in rec.said)
    await asyncio.sleep(1.2)
    assert sum("still not resolved" in s for s in rec.said) == count


async def test_escalate_now_jumps_to_the_next_step(make_engine):
    eng, rec = await make_engine(settings())
    inc = await eng.open(Priority.P2, "minor", "", [], "C1", "U1")  # first page in 2 hours
    assert rec.pages == []
    assert "primary" in await eng.escalate_now(inc.id, "U1")
    assert rec.steps(inc.ref) == ["primary"]
    assert "secondary" in await eng.escalate_now(inc.id, "U1")
    assert rec.steps(inc.ref) == ["primary", "secondary"]


async def test_stale_job_after_resolve_does_nothing(make_engine, clock):
    eng, rec = await make_engine(settings(p0_first_page_s=1))
    inc = await eng.open(Priority.P0, "x", "", [], "C1", "U1")
    token = inc.escalation_id
    assert await eng.resolve(inc.id, "U1")
    resolved = await eng.get(inc.id)
    assert resolved.next_due_at is None and resolved.ack_due_at is None and resolved.remind_at is None
    assert await eng.store.advance(inc.id, token, 0, None, None) is None  # a reconciler that read it before the resolve
    clock.advance(1.3)
    await settled(eng)
    assert rec.pages == []
    assert rec.checklists == [inc.ref]


async def test_concurrent_ack_and_resolve_end_consistent(state_url):
    store = Store(state_url)
    cfg = settings()
    for i in range(20):
        inc = await store.create(Priority.P1, f"race {i}", "", [], "C1", "U1", build_ladder(Priority.P1, cfg), "e", [])
        results: dict[str, object] = {}
        # at once, each on its own connection
        results["ack"], results["resolve"] = await asyncio.gather(
            store.acknowledge(inc.id, "UA", 0, 3600), store.resolve(inc.id, "UR")
        )
        final = await store.get(inc.id)
        assert (
            final.status is IncidentStatus.RESOLVED and results["resolve"] is not None
        )  # resolve always wins or follows
        kinds = [e.kind for e in await store.timeline(inc.id)]
        assert kinds[-1] == "resolve" and ("ack" in kinds) == (results["ack"] is not None)
    await store.close()


async def test_page_failures_are_retried_recorded_and_never_stop_the_ladder(make_engine):
    rec = Recorder()
    rec.fail_pages = 2  # Slack fails twice, then works
    eng, _ = await make_engine(settings(page_retries=2, page_backoff_max_s=0.4), rec)
    inc = await eng.open(Priority.P0, "x", "", [], "C1", "U1")
    await wait_for(lambda: rec.steps(inc.ref) == ["primary"])
    await wait_for(lambda: _statuses_of_step(eng, inc.id, 0, ["sent"]), 5)
    [page] = [p for p in await eng.pages_of(inc.id) if p["step"] == 0]
    assert page["attempts"] == 3

    rec.fail_pages = 10_000  # Slack stays down: the secondary's page keeps failing, the manager step still runs
    await wait_for(lambda: _any_entry(eng, inc.id, lambda e: e.kind == "page_failed"), 6)
    await wait_for(lambda: _any_entry(eng, inc.id, lambda e: "no pager webhook" in e.text), 6)
    assert any("page to secondary failing since" in s for s in rec.said)
    failing = [p for p in await eng.pages_of(inc.id) if p["status"] == "pending" and p["failing_since"]]
    assert {p["step"] for p in failing} == {1, 2}
    rec.fail_pages = 0  # Slack is back: the secondary is paged after all, once
    await wait_for(lambda: rec.steps(inc.ref) == ["primary", "secondary"], 5)
    await asyncio.sleep(0.6)
    assert rec.steps(inc.ref) == ["primary", "secondary"]


async def test_ladder_is_frozen_when_the_incident_opens(make_engine):
    cfg = settings(p2_first_page_s=7200, step_wait_s=1)
    eng, _ = await make_engine(cfg)
    inc = await eng.open(Priority.P2, "x", "", [], "C1", "U1")
    cfg.oncall.primary = "@someone-else"
    cfg.step_wait_s = 999
    stored = await eng.store.get(inc.id)
    assert stored.ladder[1].delay_s == 1  # the settings' step_wait_s when it opened
    assert [s.mention for s in stored.ladder][:2] == ["@devops-oncall", "@platform-oncall"]


async def test_restart_fires_overdue_step_exactly_once(make_engine, state_url, clock):
    cfg = settings(step_wait_s=1)
    eng, rec = await make_engine(cfg)
    inc = await eng.open(Priority.P0, "x", "", [], "C1", "U1")
    await wait_for(lambda: rec.steps(inc.ref) == ["primary"])
    await eng.stop()  # the bot goes away between steps
    clock.advance(1.5)  # the secondary step falls due while nobody runs
    eng2, rec2 = await make_engine(cfg)
    await wait_for(lambda: rec2.steps(inc.ref) == ["secondary"], 3)
    await settled(eng2)
    assert rec2.steps(inc.ref) == ["secondary"]
    assert rec.steps(inc.ref) == ["primary"]


async def test_specialists_are_added_by_area(make_engine):
    eng, rec = await make_engine(settings())
    await eng.open(Priority.P1, "postgres deadlocks and suspicious logins", "", ["ml-service"], "C1", "U1")
    assert set(rec.specialist_channels) == {"#database-support", "#security-incidents", "#ml-support"}


async def test_checklist_ticks_and_postmortem(make_engine):
    eng, _ = await make_engine(settings())
    inc = await eng.open(Priority.P1, "progress not saving", "users", ["user-service"], "C1", "U1")
    await eng.record(
        inc.id,
        "U2",
        "check",
        "check progress: CRITICAL",
        {"target": "progress", "findings": ["1 failing progress update(s)"]},
    )
    await eng.acknowledge(inc.id, "U2")
    await eng.resolve(inc.id, "U2")
    assert await eng.store.tick(inc.id, "Run smoke tests", True, "U3")
    assert not await eng.store.tick(inc.id, "Not an item", True, "U3")
    stored = await eng.store.get(inc.id)
    assert stored.checklist["Run smoke tests"] is True
    md = postmortem_markdown(stored, await eng.store.timeline(inc.id))
    assert md.startswith(f"# Postmortem draft: {inc.ref}")
    for text in (
        "opened P1: progress not saving",
        "acknowledged",
        "resolved",
        "ticked: Run smoke tests",
        "1 failing progress update(s)",
        "- [x] Run smoke tests",
        "- [ ] Clear any alerts",
    ):
        assert text in md


async def test_open_for_key_is_idempotent_until_the_incident_is_resolved(make_engine):
    """Alert intake opens one incident per external group key, however often the alert repeats."""
    eng, rec = await make_engine(settings())
    first, opened = await eng.open_for_key("group-a", Priority.P2, "disk full", "", [], "C1", "alertmanager")
    again, opened_again = await eng.open_for_key("group-a", Priority.P2, "disk full", "", [], "C1", "alertmanager")
    other, _ = await eng.open_for_key("group-b", Priority.P2, "cpu", "", [], "C1", "alertmanager")
    assert opened and not opened_again and again.id == first.id and other.id != first.id
    assert rec.announced == [first.ref, other.ref]
    with pytest.raises(sa.exc.IntegrityError):  # the database itself keeps one open incident per key
        await eng.store.create(Priority.P2, "dup", "", [], "C1", "U1", first.ladder, "e", [], external_key="group-a")
    assert await eng.resolve(first.id, "U1")
    reopened, opened_new = await eng.open_for_key("group-a", Priority.P2, "disk full", "", [], "C1", "alertmanager")
    assert opened_new and reopened.id not in (first.id, other.id)


OPENER: contextvars.ContextVar[bool] = contextvars.ContextVar("opener", default=False)


async def test_a_new_incident_is_announced_by_its_opener_even_when_the_reconciler_runs_meanwhile(state_url):
    """The store is async: the leader's reconciler can run between the INSERT of a new incident and
    its opener's announcement. It must not announce the incident itself: the opener's announcement
    may be special (an alert group's message is the announcement), and a second one would be a
    second top-level message (the alert storm showed an incident announced on its own)."""
    said: list[tuple[str, bool]] = []

    class Opener(Recorder):
        async def announce(self, inc):  # type: ignore[no-untyped-def]
            said.append((inc.ref, OPENER.get()))
            return await super().announce(inc)

    class RacedStore(Store):
        async def create(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            inc = await super().create(*args, **kwargs)
            # a pass of the leader, in its own task, right after the INSERT committed
            await asyncio.create_task(eng.reconcile(), context=contextvars.Context())
            return inc

    eng = Escalator(RacedStore(state_url), settings(leader_poll_s=60), Opener(), state_url)
    await eng.start()
    try:
        token = OPENER.set(True)
        try:
            inc = await eng.open(Priority.P2, "slow cache", "", [], "C1", "U1")
        finally:
            OPENER.reset(token)
        assert said == [(inc.ref, True)]
        # an incident its opener could not announce (the terminal's) is the reconciler's to announce
        eng.notifier.announce = _cannot  # type: ignore[method-assign]
        later = await eng.open(Priority.P2, "from the terminal", "", [], "C1", "U1")
        del eng.notifier.announce
        await eng.reconcile()
        assert said[1:] == [(later.ref, False)]
    finally:
        await eng.stop()
        await eng.close()


async def _cannot(inc: object) -> None:
    return None


async def test_only_the_leaders_scheduler_holds_the_ladders_next_due_time(state_url):
    """escalation.ladder.timers: the job is planned from the records on the lease holder only, moves
    with the ladder, and the lease-gain hooks (the handoffs' catch-up) run once when the lead is taken."""
    cfg = settings(step_wait_s=30)
    gained: list[str] = []

    async def on_gain(name: str) -> None:
        gained.append(name)

    a = Escalator(Store(state_url), cfg, Recorder(), state_url, on_lead_gained=[lambda: on_gain("a")])
    b_store = Store(state_url)
    b_lease = Lease(b_store.db, cfg.leader_lease_s, "another-replica-1")  # two replicas in one test process
    b = Escalator(b_store, cfg, Recorder(), state_url, lease=b_lease, on_lead_gained=[lambda: on_gain("b")])
    try:
        await a.start()
        await b.start()
        assert a.leading and not b.leading and gained == ["a"]
        inc = await a.open(Priority.P0, "x", "", [], "C1", "U1")
        # the secondary's due time (30 s on), not the primary's page planned a moment earlier
        await wait_for(
            lambda: a.timers.planned is not None and a.timers.planned > inc.opened_at + timedelta(seconds=20)
        )
        stored = await a.get(inc.id)
        assert stored is not None and a.timers.planned == stored.next_due_at  # the secondary, from the record
        assert a.timers.scheduler.get_job("ladder:next") is not None
        assert b.timers.planned is None and b.timers.scheduler.get_job("ladder:next") is None
        await a.acknowledge(inc.id, "U1")
        await wait_for(lambda: a.timers.planned != stored.next_due_at)  # the ladder stopped: the job moved
    finally:
        for e in (a, b):
            await e.stop()
            await e.close()
