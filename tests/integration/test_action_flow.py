"""The remediation flow's rules, tested once where they live (commands/actions/flow.py): no
Slack, the test bed's real Redis for the per-target lock and a real state store (SQLite, and
PostgreSQL where concurrency matters). The terminal's `alp do` goes through the same flow."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shlex
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from kubernetes import client

from commands.actions.flow import RemediationFlow
from commands.actions.locks import TargetLock
from commands.actions.refusal import Click, Closed, NotDelivered, Reason, Refusal
from commands.actions.registry import ActionSpec, Outcome, Preview, Risk
from commands.actions.request import ActionRequest, RequestStatus
from commands.actions.run_trail import runner_id
from commands.config import ChecksConfig
from commands.report import Report
from escalation.config import EscalationSettings
from escalation.model import Priority, TimelineKind, build_ladder
from escalation.state.audit import AuditLog
from escalation.state.request_log import StateRequestLog
from escalation.state.store import Store
from tests.support.checks_env import config_for
from tests.support.clock import FakeClock
from tests.support.k8s_world import PLATFORM
from tests.support.processes import ROOT, free_port

WARM = "scheduler-service/cache/warm"  # what warm-cache posts to the platform: one post per run


class People:
    """The test's authorizer: each user's highest risk (None: nothing). Changes take effect at once."""

    two_person = True

    def __init__(self, **ranks: Risk) -> None:
        self.ranks = dict(ranks)

    async def allowed(self, user: str, risk: Risk) -> bool:
        mine = self.ranks.get(user)
        return mine is not None and mine.rank >= risk.rank


@dataclass
class Seen:
    """What people were shown, in order: (event, request id, status or detail)."""

    deliver: bool = True
    events: list[tuple[str, int, str]] = field(default_factory=list)

    async def previewed(self, spec: ActionSpec, params: dict[str, Any], pre: Preview) -> None:
        self.events.append(("previewed", 0, pre.refusal or ""))

    async def requested(self, spec: ActionSpec, req: ActionRequest) -> str | None:
        if not self.deliver:
            raise NotDelivered("not_in_channel")
        self.events.append(("requested", req.id, req.status))
        return f"1700000000.{req.id:06d}"

    async def posted(self, spec: ActionSpec, req: ActionRequest) -> None:
        self.events.append(("posted", req.id, req.message_ts or ""))

    async def awaiting_approval(self, spec: ActionSpec, req: ActionRequest) -> None:
        self.events.append(("awaiting_approval", req.id, req.confirmed_by or ""))

    async def closed(self, spec: ActionSpec, req: ActionRequest, how: Closed, by: str) -> None:
        self.events.append(("closed", req.id, how))

    async def finished(self, spec: ActionSpec, req: ActionRequest, outcome: Outcome) -> None:
        self.events.append(("finished", req.id, req.status))

    async def verified(self, spec: ActionSpec, req: ActionRequest, report: Report) -> None:
        self.events.append(("verified", req.id, report.target))

    async def interrupted(self, spec: ActionSpec, req: ActionRequest) -> None:
        self.events.append(("interrupted", req.id, req.status))

    def of(self, event: str) -> list[tuple[str, int, str]]:
        return [e for e in self.events if e[0] == event]


@pytest.fixture
def cfg(testbed, platform) -> ChecksConfig:  # type: ignore[no-untyped-def]
    return config_for(testbed, platform, PLATFORM)


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path}/state.db"


@pytest.fixture
async def logs():  # type: ignore[no-untyped-def]
    """StateRequestLog.connect, closed at the end of the test."""
    opened: list[StateRequestLog] = []

    def connect(url: str) -> StateRequestLog:
        opened.append(StateRequestLog.connect(url))
        return opened[-1]

    yield connect
    for log in opened:
        await log.close()


async def audit_rows(url: str) -> list[tuple[str, str, str, str]]:
    """(actor, event, action, result), oldest first."""
    rows = await AuditLog.latest_of(url, 200)
    return [(r["actor"], r["event"], r["action"], r["result"]) for r in reversed(rows)]


async def requested(flow: RemediationFlow, user: str, action: str = "warm-cache", **raw: Any) -> ActionRequest:
    req = await flow.request(action, raw, user, "C0OPS")
    assert isinstance(req, ActionRequest), req
    return req


async def test_authorization_is_asked_at_confirm_time_and_every_step_is_audited(cfg, sqlite_url, logs, platform):
    people, seen = People(U0ALICE=Risk.SAFE), Seen()
    flow = RemediationFlow(cfg, logs(sqlite_url), people, seen)
    req = await requested(flow, "U0ALICE")
    assert req.status is RequestStatus.PENDING and req.message_ts == f"1700000000.{req.id:06d}"
    del people.ranks["U0ALICE"]  # permission withdrawn after the request was posted
    refused = await flow.confirm(req.id, "U0ALICE")
    assert isinstance(refused, Refusal) and refused.reason is Reason.UNAUTHORIZED and refused.click is Click.CONFIRM
    posts = len([p for p in platform.admin_posts if p[0] == WARM])
    people.ranks["U0ALICE"] = Risk.DISRUPTIVE  # a higher risk allows the lower ones
    done = await flow.confirm(req.id, "U0ALICE")
    assert isinstance(done, ActionRequest) and done.status is RequestStatus.DONE and done.confirmed_by == "U0ALICE"
    assert len([p for p in platform.admin_posts if p[0] == WARM]) == posts + 1
    assert [e[0] for e in seen.events] == ["previewed", "requested", "posted", "finished", "verified"]
    assert seen.of("verified") == [("verified", req.id, "redis")]  # the related check re-ran
    events = [(a, e, r.split(":")[0]) for a, e, act, r in await audit_rows(sqlite_url) if act == "warm-cache"]
    assert events == [
        ("U0ALICE", "dry-run", "POST http"),
        ("U0ALICE", "requested", f"request #{req.id}"),
        ("U0ALICE", "refused", "not authorized for safe"),
        ("U0ALICE", "confirmed", ""),
        ("U0ALICE", "started", f"request #{req.id} on {runner_id()}"),
        ("U0ALICE", "outcome", "done"),
    ]


async def test_two_person_rule_requester_and_confirmer_cannot_approve(cfg, testbed, sqlite_url, logs):
    r = redis.Redis.from_url(testbed["ALP_REDIS_URL"])
    r.set("user:two-person-flow", "1")
    people = People(U0ALICE=Risk.DESTRUCTIVE, U0BOB=Risk.DESTRUCTIVE, U0CAROL=Risk.DISRUPTIVE, U0DAN=Risk.SAFE)
    seen = Seen()
    flow = RemediationFlow(cfg, logs(sqlite_url), people, seen)
    req = await requested(flow, "U0DAN", "flush-cache")
    waiting = await flow.confirm(req.id, "U0ALICE")
    assert isinstance(waiting, ActionRequest) and waiting.status is RequestStatus.AWAITING_APPROVAL
    assert waiting.approval_deadline is not None and r.get("user:two-person-flow") == b"1"  # nothing ran yet
    for user, reason in (("U0ALICE", Reason.SELF_APPROVAL), ("U0DAN", Reason.SELF_APPROVAL)):
        out = await flow.approve(req.id, user)  # the confirmer, then the requester
        assert isinstance(out, Refusal) and out.reason is reason, (user, out)
    out = await flow.approve(req.id, "U0CAROL")  # allowed disruptive only
    assert isinstance(out, Refusal) and out.reason is Reason.UNAUTHORIZED and out.click is Click.APPROVE
    assert r.get("user:two-person-flow") == b"1"
    done = await flow.approve(req.id, "U0BOB")
    assert isinstance(done, ActionRequest) and done.status is RequestStatus.DONE and done.approver == "U0BOB"
    assert r.get("user:two-person-flow") is None
    again = await flow.approve(req.id, "U0BOB")
    assert isinstance(again, Refusal) and again.reason is Reason.ALREADY and again.request.status is RequestStatus.DONE  # type: ignore[union-attr]
    events = [(a, e, res) for a, e, act, res in await audit_rows(sqlite_url) if act == "flush-cache"]
    assert [e[:2] for e in events] == [
        ("U0DAN", "dry-run"),
        ("U0DAN", "requested"),
        ("U0ALICE", "confirmed"),
        ("U0ALICE", "refused"),
        ("U0DAN", "refused"),
        ("U0CAROL", "refused"),
        ("U0BOB", "approved"),
        ("U0BOB", "started"),
        ("U0BOB", "outcome"),
    ]
    assert [e[2] for e in events[3:6]] == ["self-approval", "self-approval", "not authorized for destructive"]


def _confirm_in_own_replica(cfg: ChecksConfig, url: str, request_id: int) -> ActionRequest | Refusal:
    """One replica: its own event loop, its own connection pool, the same state store and Redis."""

    async def go() -> ActionRequest | Refusal:
        log = StateRequestLog.connect(url)
        try:
            return await RemediationFlow(cfg, log, People(U0ALICE=Risk.SAFE), Seen()).confirm(request_id, "U0ALICE")
        finally:
            await log.close()

    return asyncio.run(go())


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
async def test_concurrent_confirms_run_it_exactly_once(cfg, store, request, logs, platform):
    url = request.getfixturevalue("sqlite_url" if store == "sqlite" else "pg_state")
    flow = RemediationFlow(cfg, logs(url), People(U0ALICE=Risk.SAFE), Seen())
    req = await requested(flow, "U0ALICE")
    posts = len([p for p in platform.admin_posts if p[0] == WARM])
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        outs = list(pool.map(lambda _: _confirm_in_own_replica(cfg, url, req.id), range(6)))
        outs.append(pool.submit(_confirm_in_own_replica, cfg, url, req.id).result())  # a retry after it ended
    assert isinstance(outs[-1], Refusal) and outs[-1].reason is Reason.ALREADY
    ran = [o for o in outs if isinstance(o, ActionRequest)]
    assert len(ran) == 1 and ran[0].status is RequestStatus.DONE
    # a click that finds its own request holding the target's lock is a double click, not "another action"
    assert all(o.reason is Reason.ALREADY for o in outs if isinstance(o, Refusal)), outs
    assert len([p for p in platform.admin_posts if p[0] == WARM]) == posts + 1  # the service saw one warm-up
    events = [e for _, e, act, _ in await audit_rows(url) if act == "warm-cache"]
    assert events.count("outcome") == 1 and "refused" not in events


async def test_a_held_target_lock_refuses_with_who_holds_it(cfg, sqlite_url, logs):
    flow = RemediationFlow(cfg, logs(sqlite_url), People(U0ALICE=Risk.SAFE), Seen())
    req = await requested(flow, "U0ALICE")
    other = TargetLock(cfg, req.target, "U0BOB#99")
    assert await other.acquire() is None
    try:
        busy = await flow.confirm(req.id, "U0ALICE")
        assert isinstance(busy, Refusal) and busy.reason is Reason.LOCKED and busy.detail == "U0BOB"
        assert busy.request is not None and busy.request.target == "http/scheduler-service"
        still = await flow.log.get(req.id)
        assert still is not None and still.status is RequestStatus.PENDING  # nothing ran; it can be confirmed later
    finally:
        await other.release()
    done = await flow.confirm(req.id, "U0ALICE")
    assert isinstance(done, ActionRequest) and done.status is RequestStatus.DONE


async def test_redis_down_when_the_lock_is_taken_refuses_naming_it_and_runs_nothing(cfg, sqlite_url, logs):
    flow = RemediationFlow(cfg, logs(sqlite_url), People(U0ALICE=Risk.SAFE), Seen())
    req = await requested(flow, "U0ALICE")
    down = cfg.model_copy(deep=True)
    down.redis_url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens: the lock cannot be taken
    flow.cfg = down
    refused = await flow.confirm(req.id, "U0ALICE")
    assert isinstance(refused, Refusal) and refused.reason is Reason.UNAVAILABLE, refused
    assert "Redis" in refused.detail and refused.request is not None
    still = await flow.log.get(req.id)
    assert still is not None and still.status is RequestStatus.PENDING  # nothing ran; it can be confirmed later
    assert ("U0ALICE", "refused", "warm-cache") in [(a, e, act) for a, e, act, _ in await audit_rows(sqlite_url)]
    flow.cfg = cfg
    done = await flow.confirm(req.id, "U0ALICE")
    assert isinstance(done, ActionRequest) and done.status is RequestStatus.DONE


async def test_expired_requests_and_approvals_run_nothing(cfg, testbed, sqlite_url, logs):
    cfg.actions.request_ttl_s = 0.001
    seen = Seen()
    flow = RemediationFlow(cfg, logs(sqlite_url), People(U0ALICE=Risk.DESTRUCTIVE, U0BOB=Risk.DESTRUCTIVE), seen)
    req = await requested(flow, "U0ALICE")
    await asyncio.sleep(0.01)
    for _ in range(2):  # the second click finds it expired too, and is not audited twice
        out = await flow.confirm(req.id, "U0ALICE")
        assert isinstance(out, Refusal) and out.reason is Reason.EXPIRED
    assert (await flow.log.get(req.id)).status is RequestStatus.EXPIRED  # type: ignore[union-attr]
    assert seen.of("closed") == [("closed", req.id, Closed.EXPIRED)] and not seen.of("finished")

    cfg.actions.request_ttl_s, cfg.actions.approval_timeout_s = 900, 0.001
    r = redis.Redis.from_url(testbed["ALP_REDIS_URL"])
    r.set("user:late-approval", "1")
    req = await requested(flow, "U0ALICE", "flush-cache")
    assert isinstance(await flow.confirm(req.id, "U0ALICE"), ActionRequest)
    await asyncio.sleep(0.01)
    late = await flow.approve(req.id, "U0BOB")
    assert isinstance(late, Refusal) and late.reason is Reason.APPROVAL_EXPIRED
    assert r.get("user:late-approval") == b"1"
    results = [res for _, e, _, res in await audit_rows(sqlite_url) if e == "refused"]
    assert results == ["expired", "approval window expired"]


async def test_a_late_click_on_a_request_that_moved_on_says_where_it_is_not_expired(cfg, testbed, sqlite_url, logs):
    """A double click (or a Slack retry) that arrives after the request's time to live used to be
    answered "expired; nothing was changed" although the action had run (or awaits approval)."""
    r = redis.Redis.from_url(testbed["ALP_REDIS_URL"])
    r.set("user:late-click", "1")
    cfg.actions.request_ttl_s, cfg.actions.approval_timeout_s = 1.0, 900
    people = People(U0ALICE=Risk.DESTRUCTIVE, U0BOB=Risk.DESTRUCTIVE)
    clock = FakeClock()
    flow = RemediationFlow(cfg, logs(sqlite_url), people, Seen(), clock=clock)
    ran = await requested(flow, "U0ALICE")
    assert isinstance(await flow.confirm(ran.id, "U0ALICE"), ActionRequest)
    waiting = await requested(flow, "U0ALICE", "flush-cache")
    assert isinstance(await flow.confirm(waiting.id, "U0ALICE"), ActionRequest)
    clock.advance(1.2)  # both are past their time to live now
    late = await flow.confirm(ran.id, "U0ALICE")
    assert isinstance(late, Refusal) and late.reason is Reason.ALREADY, late
    assert late.request is not None and late.request.status is RequestStatus.DONE
    again = await flow.confirm(waiting.id, "U0ALICE")
    assert isinstance(again, Refusal) and again.reason is Reason.ALREADY, again
    assert again.request is not None and again.request.status is RequestStatus.AWAITING_APPROVAL
    assert r.get("user:late-click") == b"1"  # the second click neither ran nor closed it
    done = await flow.approve(waiting.id, "U0BOB")  # the approval window is still open
    assert isinstance(done, ActionRequest) and done.status is RequestStatus.DONE
    assert "expired" not in [res for _, e, _, res in await audit_rows(sqlite_url) if e == "refused"]


async def test_an_approval_held_off_by_the_lock_is_audited_as_refused_not_approved(cfg, testbed, sqlite_url, logs):
    """Every refusal is audited (the flow's rules), and "approved" means it ran: a second person
    whose approval met a held target lock used to be audited as having approved, with no refusal."""
    redis.Redis.from_url(testbed["ALP_REDIS_URL"]).set("user:locked-approval", "1")
    people = People(U0ALICE=Risk.DESTRUCTIVE, U0BOB=Risk.DESTRUCTIVE, U0DAN=Risk.SAFE)
    flow = RemediationFlow(cfg, logs(sqlite_url), people, Seen())
    req = await requested(flow, "U0DAN", "flush-cache")
    assert isinstance(await flow.confirm(req.id, "U0ALICE"), ActionRequest)
    other = TargetLock(cfg, req.target, "U0EVE#99")
    assert await other.acquire() is None
    try:
        busy = await flow.approve(req.id, "U0BOB")
        assert isinstance(busy, Refusal) and busy.reason is Reason.LOCKED and busy.detail == "U0EVE"
    finally:
        await other.release()
    done = await flow.approve(req.id, "U0BOB")
    assert isinstance(done, ActionRequest) and done.status is RequestStatus.DONE
    events = [(a, e, res) for a, e, act, res in await audit_rows(sqlite_url) if act == "flush-cache"]
    assert [(a, e) for a, e, _ in events[2:]] == [
        ("U0ALICE", "confirmed"),
        ("U0BOB", "refused"),
        ("U0BOB", "approved"),
        ("U0BOB", "started"),
        ("U0BOB", "outcome"),
    ]
    assert "U0EVE" in events[3][2]


async def test_refusals_say_why_and_are_audited(cfg, sqlite_url, logs, platform):
    seen = Seen()
    people = People(U0ALICE=Risk.SAFE, U0BOB=Risk.SAFE)
    flow = RemediationFlow(cfg, logs(sqlite_url), people, seen)
    bad = await flow.request("warm-cache", {"service": "billing"}, "U0ALICE", "C0OPS")
    assert isinstance(bad, Refusal) and bad.reason is Reason.INVALID and "service" in bad.detail
    unknown = await flow.request("warm-cahce", {}, "U0ALICE", "C0OPS")
    assert isinstance(unknown, Refusal) and unknown.reason is Reason.INVALID and "warm-cache" in unknown.detail
    wrong_db = await flow.request("flush-cache", {"db": 3}, "U0ALICE", "C0OPS")
    assert isinstance(wrong_db, Refusal) and wrong_db.reason is Reason.PREVIEW and "not 3" in wrong_db.detail

    flow.notifier = Seen(deliver=False)  # the confirmation cannot be posted (bot not in the channel)
    lost = await flow.request("warm-cache", {}, "U0ALICE", "C0OPS")
    assert isinstance(lost, Refusal) and lost.reason is Reason.NOT_DELIVERED and lost.request is not None
    assert (await flow.log.get(lost.request.id)).status is RequestStatus.CANCELLED  # type: ignore[union-attr]

    flow.notifier = seen
    req = await requested(flow, "U0ALICE")
    del people.ranks["U0BOB"]
    other = await flow.cancel(req.id, "U0BOB")  # neither the requester nor allowed the risk
    assert isinstance(other, Refusal) and other.reason is Reason.UNAUTHORIZED and other.click is Click.CANCEL
    cancelled = await flow.cancel(req.id, "U0ALICE")
    assert isinstance(cancelled, ActionRequest) and cancelled.status is RequestStatus.CANCELLED
    late = await flow.confirm(req.id, "U0ALICE")
    assert isinstance(late, Refusal) and late.reason is Reason.ALREADY
    assert (await flow.confirm(10_000, "U0ALICE")) == Refusal(Reason.NO_REQUEST)
    refusals = [(e, res) for _, e, _, res in await audit_rows(sqlite_url) if e in ("refused", "cancelled")]
    assert [e for e, _ in refusals] == ["refused"] * 5 + ["cancelled"]
    assert refusals[3][1] == "cannot post the confirmation: not_in_channel"
    assert refusals[4][1] == "cancel by someone else"
    assert seen.of("closed") == [("closed", req.id, Closed.CANCELLED)]


async def test_an_action_in_an_incident_channel_joins_its_steps_and_audit(cfg, sqlite_url, logs):
    store = Store(sqlite_url)
    audit = AuditLog(store.db)
    try:
        ladder = build_ladder(Priority.P1, EscalationSettings())
        inc = await store.create(Priority.P1, "cache cold", "", [], "C0INC", "U0ALICE", ladder, "e1", [])
        flow = RemediationFlow(cfg, logs(sqlite_url), People(U0ALICE=Risk.SAFE), Seen())
        req = await flow.request("warm-cache", {}, "U0ALICE", "C0INC")
        assert isinstance(req, ActionRequest)
        assert isinstance(await flow.confirm(req.id, "U0ALICE"), ActionRequest)
        steps = [(e.kind, e.text, e.data) for e in await store.timeline(inc.id) if e.kind == TimelineKind.ACTION]
        assert len(steps) == 1 and steps[0][1].startswith("warm-cache service=scheduler-service: ")
        assert steps[0][2] == {
            "action": "warm-cache",
            "ok": True,
            "params": {"service": "scheduler-service"},
        }  # params: the postmortem's proposal
        tied = {r["event"]: r["incident_id"] for r in await audit.latest(20) if r["action"] == "warm-cache"}
        assert tied == dict.fromkeys(("dry-run", "requested", "confirmed", "started", "outcome"), inc.id)
        elsewhere = await flow.request("warm-cache", {}, "U0ALICE", "C0OPS")  # no incident there
        assert isinstance(elsewhere, ActionRequest)
        assert (await audit.latest(1))[0]["incident_id"] is None
        flow.notifier = Seen(deliver=False)  # its refusal, too, belongs to the incident (it was untied)
        lost = await flow.request("warm-cache", {}, "U0ALICE", "C0INC")
        assert isinstance(lost, Refusal) and lost.reason is Reason.NOT_DELIVERED
        refused = (await audit.latest(1))[0]
        assert refused["event"] == "refused" and refused["incident_id"] == inc.id
    finally:
        await store.close()


# ---------------------------------------------------------------------- the terminal goes through the same flow


def _alp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_terminal_do_follows_the_rules_of_the_slack_flow(testbed, kube_admin, tmp_path):
    """The terminal's `alp do` used to keep its own copy of the flow, which missed rules the
    Slack flow keeps (README, "Remediation"): a refused request is audited, every request is
    stored and audited as requested, and the related check re-runs after the action."""
    env = {**os.environ, **testbed, "ALP_STATE_URL": f"sqlite:///{tmp_path}/t.db", "USER": "oncall-erin"}
    bad = _alp(env, "do", "scale", "user-service", "many", "--yes")
    assert bad.returncode == 64 and "replicas" in bad.stderr
    audit = _alp(env, "audit", "20").stdout
    assert "oncall-erin refused scale" in audit  # Slack audits a refused request; the copy did not

    core = client.CoreV1Api(kube_admin)
    applied = _alp(env, "do", "set-config", "auth-config", "cache_enabled=false", "--yes")
    try:
        assert applied.returncode == 0 and "done: patched configmap auth-config" in applied.stdout
        assert "after set-config:" in applied.stdout.lower()  # the verify check re-ran (health)
        audit = _alp(env, "audit", "20").stdout
        assert "oncall-erin requested set-config" in audit and "oncall-erin outcome set-config" in audit
        with sqlite3.connect(tmp_path / "t.db") as db:
            rows = db.execute("SELECT action, requester, confirmed_by, status FROM alp_action_requests").fetchall()
        assert rows == [("set-config", "oncall-erin", "oncall-erin", "done")]  # stored, moved to done
    finally:
        before = core.read_namespaced_config_map("auth-config", PLATFORM).data
        if before.get("cache_enabled") == "false":
            core.patch_namespaced_config_map("auth-config", PLATFORM, {"data": {"cache_enabled": "true"}})


def test_terminal_usage_errors_show_what_was_typed_masked_and_without_escapes(testbed, tmp_path):
    """Slack escapes and masks a refused request's words; the terminal printed them raw, so an
    ANSI escape typed (or pasted) in a parameter cleared the screen and a token was echoed."""
    env = {**os.environ, **testbed, "ALP_STATE_URL": f"sqlite:///{tmp_path}/t.db", "USER": "oncall-erin"}
    token = "ghp_" + "a1B2c3D4e5" * 3 + "f6G7h8"
    for args in (
        ("do", "scale", "\x1b[2Jx", "2", "--yes"),
        ("do", "restart", token),
        ("check", "\x1b[2Jredis"),
    ):
        out = _alp(env, *args)
        assert out.returncode == 64, (args, out.stderr)
        assert "\x1b" not in out.stderr and token not in out.stderr, (args, out.stderr)
    assert "\\x1b[2Jx" in _alp(env, "do", "scale", "\x1b[2Jx", "2").stderr  # shown, not obeyed


def test_a_terminal_request_refused_at_the_lock_is_closed_not_left_pending(testbed, tmp_path):
    """From Slack a request refused at the lock (Redis down, target busy) stays pending for a second
    click on its Confirm button; `alp do` has no second click, so it used to leave the stored request
    pending until it expired, and its refusal did not say it was the lock."""
    state = tmp_path / "t.db"
    env = {
        **os.environ,
        **testbed,
        "ALP_STATE_URL": f"sqlite:///{state}",
        "USER": "oncall-erin",
        "ALP_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens: the lock cannot be taken
    }
    out = _alp(env, "do", "warm-cache", "--yes")
    assert out.returncode == 1 and "cannot take the lock on http/scheduler-service: Redis" in out.stderr, out.stderr
    with sqlite3.connect(state) as db:
        rows = db.execute("SELECT action, status FROM alp_action_requests").fetchall()
    assert rows == [("warm-cache", "cancelled")]
    audit = _alp(env, "audit", "20").stdout
    assert "oncall-erin refused warm-cache" in audit and "oncall-erin cancelled warm-cache" in audit


def test_the_terminal_undo_line_restores_what_was_there(testbed, kube_admin, tmp_path):
    """Slack's Undo keeps the old values server-side; the terminal prints a command instead. It
    used to print it masked (running it wrote `***` into the configmap) and unquoted (a value with
    a space became two words)."""
    env = {**os.environ, **testbed, "ALP_STATE_URL": f"sqlite:///{tmp_path}/t.db", "USER": "oncall-erin"}
    core = client.CoreV1Api(kube_admin)
    before = core.read_namespaced_config_map("auth-config", PLATFORM).data
    try:
        core.patch_namespaced_config_map(
            "auth-config",
            PLATFORM,
            {"data": {"oauth_endpoint": "https://svc:hunter2pass@idp.example/", "cache_ttl": "5 min"}},
        )
        secret = _alp(env, "do", "set-config", "auth-config", "oauth_endpoint=https://idp.example/", "--yes")
        assert secret.returncode == 0, secret.stderr
        assert "hunter2pass" not in secret.stdout and "alp do set-config" not in secret.stdout.split("undo:")[1]
        assert "old values hold a secret" in secret.stdout
        spaced = _alp(env, "do", "set-config", "auth-config", "cache_ttl=60", "--yes")
        undo = next(line for line in spaced.stdout.splitlines() if line.startswith("undo: "))
        args = shlex.split(undo.removeprefix("undo: "))[1:]  # the command as a shell would pass it
        assert _alp(env, *args).returncode == 0
        assert core.read_namespaced_config_map("auth-config", PLATFORM).data["cache_ttl"] == "5 min"
    finally:
        core.patch_namespaced_config_map(
            "auth-config", PLATFORM, {"data": {k: before.get(k) for k in ("oauth_endpoint", "cache_ttl")}}
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    return request.getfixturevalue("pg_state")


async def test_a_run_vouched_for_is_left_alone_and_a_dead_one_is_recovered_once(testbed, platform, state_url, logs):
    """The flow's side, on SQLite and PostgreSQL: while an action runs (longer than its run lease),
    the leader's recovery passes leave it alone; a run whose process stopped vouching is
    interrupted once by two leaders recovering at the same moment, and its lock released."""
    cfg = config_for(testbed, platform, PLATFORM, actions={"run_lease_s": 1.0})
    people = People(U0ALICE=Risk.SAFE)
    seen, leader_seen = Seen(), Seen()
    flow = RemediationFlow(cfg, logs(state_url), people, seen)
    leader = RemediationFlow(cfg, logs(state_url), people, leader_seen)
    req = await requested(flow, "U0ALICE")
    platform.admin_delay_s = 3
    try:
        run = asyncio.create_task(flow.confirm(req.id, "U0ALICE"))
        while not run.done():
            assert await leader.recover_interrupted() == 0
            await asyncio.sleep(0.1)
    finally:
        platform.admin_delay_s = 0
    assert run.result().status is RequestStatus.DONE  # type: ignore[union-attr]

    dead = await requested(flow, "U0ALICE")
    lock = TargetLock(cfg, dead.target, f"U0ALICE#{dead.id}")
    assert await lock.acquire() is None
    past = datetime.now(UTC) - timedelta(seconds=1)
    assert await flow.log.move(
        dead.id,
        (RequestStatus.PENDING,),
        RequestStatus.RUNNING,
        confirmed_by="U0ALICE",
        run_by="gone-1",
        run_until=past,
    )
    counts = await asyncio.gather(leader.recover_interrupted(), flow.recover_interrupted())
    assert sorted(counts) == [0, 1]
    assert (await flow.log.get(dead.id)).status is RequestStatus.INTERRUPTED  # type: ignore[union-attr]
    assert await lock.acquire() is None  # released: a retry may take it at once
    await lock.release()
    events = [e for e in leader_seen.events + seen.events if e[1] == dead.id and e[0] in ("interrupted", "verified")]
    assert sorted(e[0] for e in events) == ["interrupted", "verified"]
    trail = [e for a, e, act, r in await audit_rows(state_url) if f"#{dead.id}" in r]
    assert trail == ["requested", "interrupted"]
