"""The manager's pager alert follows PagerDuty's Events v2 lifecycle (issue #24, observation 1; #22 item 5):
acknowledged or resolved in alp, the alert is acknowledged or resolved with its dedup key, once, through the
outbox (surviving a restart), never overtaking its trigger; a 429's Retry-After is waited out.

The engine runs in process on the test bed's PostgreSQL (and SQLite, the single-replica default) against a
local receiver that checks every event as PagerDuty documents it (tests/support/pagerduty.py)."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest

from escalation.config import EscalationSettings
from escalation.ladder.engine import Escalator
from escalation.model import Priority
from escalation.state.store import Store
from tests.support.notifier import Recorder
from tests.support.pagerduty import PagerDutyFake


@pytest.fixture(params=["sqlite", "postgres"])
def state_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/state.db"
        return
    admin = request.getfixturevalue("testbed")["ALP_POSTGRES_DSN"].rsplit("/", 1)[0]
    name = f"alp_state_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"{admin}/{name}"
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
async def pd() -> AsyncIterator[PagerDutyFake]:
    fake = await PagerDutyFake().start()
    yield fake
    await fake.stop()


async def wait_for(pred: Any, timeout: float = 10) -> None:
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


def cfg(pd: PagerDutyFake, **over: Any) -> EscalationSettings:
    base: dict[str, Any] = dict(
        p0_first_page_s=0,
        step_wait_s=0.2,
        ack_timeout_s=0,
        page_retries=2,
        page_backoff_s=0.05,
        page_backoff_max_s=0.2,
        leader_poll_s=0.2,
        pager_webhook_url=pd.url,
        pager_routing_key="R0UT1NGKEY0000000000000000000001",
    )
    base.update(over)
    return EscalationSettings(**base)


@pytest.fixture
async def engines(state_url: str) -> AsyncIterator[Any]:
    started: list[Escalator] = []

    async def start(settings: EscalationSettings) -> Escalator:
        eng = Escalator(Store(state_url), settings, Recorder(), state_url)
        await eng.start()
        started.append(eng)
        return eng

    yield start
    for eng in started:
        await eng.stop()
        await eng.close()


async def manager_paged(eng: Escalator, pd: PagerDutyFake) -> tuple[int, str]:
    """Open a P0 and wait until the manager's trigger was accepted: (incident id, dedup key)."""
    inc = await eng.open(Priority.P0, "checkout down", "all users", ["auth-service"], "#inc", "U1")
    await wait_for(lambda: any(e["event_action"] == "trigger" for e in pd.events), 10)
    [trigger] = [e for e in pd.events if e["event_action"] == "trigger"]
    assert trigger["dedup_key"].startswith(f"alp-{inc.ref}-")
    return inc.id, trigger["dedup_key"]


def invalid(pd: PagerDutyFake) -> list[Any]:
    return [r.event for r in pd.received if r.status == 400]


async def test_resolving_the_incident_resolves_the_managers_pager_alert_once(engines, pd) -> None:  # type: ignore[no-untyped-def]
    eng = await engines(cfg(pd))
    incident_id, dedup = await manager_paged(eng, pd)
    assert pd.alerts[dedup] == "triggered"
    assert await eng.resolve(incident_id, "U2")
    await wait_for(lambda: pd.alerts[dedup] == "resolved", 10)
    await asyncio.sleep(1)  # nothing more comes
    assert pd.actions(dedup) == ["trigger", "resolve"] and invalid(pd) == []
    resolve = pd.events[-1]
    assert resolve["routing_key"] == "R0UT1NGKEY0000000000000000000001"
    assert await wait_for_timeline(eng, incident_id, "pager alert resolved")


async def wait_for_timeline(eng: Escalator, incident_id: int, text: str) -> bool:
    async def seen() -> bool:
        return any(text in e.text for e in await eng.timeline(incident_id))

    await wait_for(seen, 5)
    return True


async def test_acknowledge_then_resolve_follow_in_order(engines, pd) -> None:  # type: ignore[no-untyped-def]
    eng = await engines(cfg(pd))
    incident_id, dedup = await manager_paged(eng, pd)
    assert await eng.acknowledge(incident_id, "U2")
    await wait_for(lambda: pd.alerts[dedup] == "acknowledged", 10)
    assert await eng.resolve(incident_id, "U2")
    await wait_for(lambda: pd.alerts[dedup] == "resolved", 10)
    await asyncio.sleep(0.6)
    assert pd.actions(dedup) == ["trigger", "acknowledge", "resolve"] and invalid(pd) == []


async def test_a_resolve_owed_survives_a_restart_and_is_sent_once(engines, pd) -> None:  # type: ignore[no-untyped-def]
    first = await engines(cfg(pd))
    incident_id, dedup = await manager_paged(first, pd)
    pd.answer_next(500, times=3)  # the resolve fails while the first process runs
    assert await first.resolve(incident_id, "U2")
    await wait_for(lambda: len(pd.received) >= 3, 10)
    await first.stop()
    assert pd.alerts[dedup] == "triggered"
    second = await engines(cfg(pd))  # a new process on the same state store
    await wait_for(lambda: pd.alerts.get(dedup) == "resolved", 15)
    await asyncio.sleep(1)
    assert pd.actions(dedup) == ["trigger", "resolve"]
    assert [p["status"] for p in await second.pages_of(incident_id) if p["event_action"] == "resolve"] == ["sent"]


async def test_a_resolve_never_overtakes_its_trigger_on_the_wire(engines, pd) -> None:  # type: ignore[no-untyped-def]
    pd.delay_s = 1.5  # PagerDuty is slow to answer the trigger
    eng = await engines(cfg(pd, p0_first_page_s=0, step_wait_s=0.1))
    inc = await eng.open(Priority.P0, "checkout down", "all users", [], "#inc", "U1")
    await wait_for(lambda: any(r.event["event_action"] == "trigger" for r in pd.arrived), 10)
    assert await eng.resolve(inc.id, "U2")  # while the trigger is on the wire
    pd.delay_s = 0
    await wait_for(lambda: any(e["event_action"] == "resolve" for e in pd.events), 10)
    dedup = pd.events[0]["dedup_key"]
    assert pd.actions(dedup) == ["trigger", "resolve"] and pd.alerts[dedup] == "resolved"


async def test_nothing_is_sent_for_a_manager_never_paged(engines, pd) -> None:  # type: ignore[no-untyped-def]
    eng = await engines(cfg(pd, p0_first_page_s=3600))
    inc = await eng.open(Priority.P0, "checkout down", "all users", [], "#inc", "U1")
    assert await eng.resolve(inc.id, "U2")
    await asyncio.sleep(1)
    assert pd.received == []


async def test_retry_after_on_429_is_waited_out(engines, pd) -> None:  # type: ignore[no-untyped-def]
    """#22 item 5 / #24 observation 1: 'Retry-After: 20' was retried four times within 20 s (here 2 s:
    the backoff ladder alone would have retried at 0.05, 0.1, 0.2 s)."""
    pd.answer_next(429, {"Retry-After": "2"})
    eng = await engines(cfg(pd))
    await eng.open(Priority.P0, "checkout down", "all users", [], "#inc", "U1")
    await wait_for(lambda: len(pd.events) == 1, 10)
    first, second = pd.received[0], pd.received[1]
    assert first.status == 429 and second.status == 202
    assert second.at - first.at >= 1.9, f"retried after {second.at - first.at:.2f}s"
    assert len(pd.received) == 2
