"""Issue #10, observation by observation, against the real servers: no OK without evidence,
root blockers only, no suggestion on OK findings, no remedy the report contradicts, rates over
a window, login failures once, and the answer first."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys

import psycopg
import pytest
import redis.asyncio as aioredis
from kubernetes import client

from bot.render.action_blocks import awaiting_approval, confirmation
from bot.render.report_blocks import render_report
from bot.render.report_text import render_text
from bot.router import parse
from commands.actions import ACTIONS
from commands.report import Severity
from tests.support.checks_env import CLOSED, actions, finding, run
from tests.support.k8s_world import deployment
from tests.support.processes import ROOT
from tests.support.scenario_world import FAST, QUIET, World, drop_table, jwt_secret, lock_chain, service_with_endpoints


@pytest.fixture
async def world(testbed, kube_admin, kubelet, platform, ns, unique):
    w = World(testbed, kube_admin, kubelet, platform, ns, unique)
    yield w
    await w.close()


def _titles(report) -> list[tuple[str, str]]:
    return [(f.severity.value, f.title) for f in report.findings]


# ---------------------------------------------------------------------- 1. nothing measured is not OK
async def test_security_with_no_falco_kong_or_auth_pods_is_not_ok(world):
    report = await run("security", world.cfg())
    assert report.exit_code != 0, _titles(report)
    verdicts = [f for f in report.findings if f.probe != "changes"]  # "what changed" context aside
    assert not [f for f in verdicts if f.severity is Severity.OK], _titles(report)
    assert "looked for pods with selector app=falco in falco-system" in finding(report, "falco: no pods found").detail
    # kong-gateway exists in the world at 0 replicas: said once, as its own finding
    zero = finding(report, "Deployment kong-gateway is scaled to 0 desired replicas")
    assert zero.severity is Severity.CRITICAL and actions(zero) == {"scale"}


@pytest.mark.parametrize(("target", "app"), [("auth-latency", "auth-service"), ("predictions", "ml-service")])
async def test_zero_log_lines_are_unknown_not_ok(world, target, app):
    world.pod(app, "")
    report = await run(target, world.cfg())
    assert report.severity is Severity.UNKNOWN and report.exit_code == 3, _titles(report)
    assert "read 0 line(s) from 1 pod(s)" in report.worst_first()[0].detail


async def test_algorithm_and_memory_with_no_lines_are_unknown(world):
    world.pod("scheduler-service", "")
    algo = await run("algorithm", world.cfg())
    assert finding(algo, "0 log lines from 1 pod(s)").severity is Severity.UNKNOWN
    memory = await run("memory", world.cfg())
    assert memory.exit_code == 3, _titles(memory)
    assert not [f for f in memory.findings if "0 line(s) from 0 pod(s)" in f.detail]


async def test_deployments_at_zero_replicas_are_findings_not_all_ready(world):
    apps = client.AppsV1Api(world.kube)
    for name in ("auth-service", "user-service", "scheduler-service", "ml-service"):
        apps.create_namespaced_deployment(world.ns, deployment(name, 8080, world.ns, replicas=0))
    latency = await run("latency", world.cfg())
    assert not [t for _, t in _titles(latency) if "have their desired replicas" in t]
    assert len([f for f in latency.findings if "is scaled to 0 desired replicas" in f.title]) == 4
    assert latency.severity is Severity.CRITICAL
    auth = await run("auth", world.cfg())  # pods, errors and health probes meet it: stated once
    assert len([f for f in auth.findings if "auth-service is scaled to 0" in f.title]) == 1, _titles(auth)


# ---------------------------------------------------------------------- 2. root blockers only
async def test_only_the_root_blocker_is_offered_for_termination(world):
    await lock_chain(world, waiters=3)
    holder = world.conns[1]
    holder_pid = holder.info.backend_pid
    waiter_pids = {c.info.backend_pid for c in world.conns[2:]}
    await asyncio.sleep(1.2)
    cfg = world.cfg()
    cfg.thresholds.long_query_s = 1  # the waiters have now waited longer than this

    report = await run("deadlocks", cfg)

    locks = finding(report, "waiting on locks")
    assert f"root blocker pid {holder_pid}" in locks.title and "IDLE IN TRANSACTION" in locks.title
    terminate = next(s for s in locks.suggestions if s.action == "terminate-queries")
    assert terminate.params["pids"] == str(holder_pid)
    [roots, waiters] = locks.evidence
    row = dict(zip(roots.columns, roots.rows[0], strict=True))
    assert row["application"] == "billing-batch" and row["client"] == "127.0.0.1"
    assert row["state"].startswith("IDLE IN TRANSACTION") and row["waiting behind"] == "3"
    assert row["xact age"] != "-" and row["query age"] != "-"
    assert {int(r[0]) for r in waiters.rows} == waiter_pids
    assert finding(report, "No active query older than 1s").severity is Severity.OK  # waiters are not "long-running"
    assert report.headline.startswith("deadlocks: CRITICAL: 3 backend(s) blocked waiting on locks")


async def test_a_two_level_chain_names_its_root_only(world):
    admin = await world.pg()
    await admin.execute(f"CREATE TABLE {world.unique} (id int primary key, v int)")
    await admin.execute(f"INSERT INTO {world.unique} VALUES (1, 0), (2, 0)")
    world.undo.append(lambda: drop_table(world, world.unique))
    root, middle, tail = await world.pg(), await world.pg(), await world.pg()
    await root.execute("BEGIN")
    await root.execute(f"UPDATE {world.unique} SET v = 1 WHERE id = 1")
    await middle.execute("BEGIN")
    await middle.execute(f"UPDATE {world.unique} SET v = 1 WHERE id = 2")
    world.tasks.append(asyncio.create_task(middle.execute(f"UPDATE {world.unique} SET v = 2 WHERE id = 1")))
    world.tasks.append(asyncio.create_task(tail.execute(f"UPDATE {world.unique} SET v = 3 WHERE id = 2")))
    await asyncio.sleep(0.6)

    locks = finding(await run("deadlocks", world.cfg()), "waiting on locks")

    assert f"root blocker pid {root.info.backend_pid}" in locks.title
    assert locks.evidence[0].rows[0][7] == "2"  # the middle one and the tail wait behind the root
    pids = next(s for s in locks.suggestions if s.action == "terminate-queries").params["pids"]
    assert pids == str(root.info.backend_pid)


@pytest.mark.parametrize(("current", "suggested"), [("10s", False), ("30s", False), ("5min", True), ("0", True)])
async def test_lock_timeout_suggestion_only_lowers(world, current, suggested):
    client.CoreV1Api(world.kube).create_namespaced_config_map(
        world.ns,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="user-service-config"), data={"lock_timeout": current}),
    )
    await lock_chain(world, waiters=1)
    locks = finding(await run("deadlocks", world.cfg()), "waiting on locks")
    lock_timeout = [s for s in locks.suggestions if s.action == "set-config"]
    assert bool(lock_timeout) is suggested, locks.suggestions
    if suggested:
        assert lock_timeout[0].params["lock_timeout"] == "30s"
    assert f"lock_timeout in user-service-config: {current}" in locks.detail


# ---------------------------------------------------------------------- 3. no buttons on healthy findings
async def test_ok_findings_carry_no_suggestions(world, testbed, platform):
    world.pod("auth-service", FAST)
    for target in ("db-load", "auth"):
        report = await run(target, world.cfg())
        conns = finding(report, "PostgreSQL connections:")
        assert conns.severity is Severity.OK and conns.suggestions == []
        for f in report.findings:
            assert f.severity is not Severity.OK or not f.suggestions, f.title
    db = await run("db-load", world.cfg())
    assert finding(db, "adaptive_learning:").suggestions == []


# ---------------------------------------------------------------------- 4. no remedy the report contradicts
async def test_no_restart_of_postgres_while_select_1_answers(world):
    service_with_endpoints(world, "postgres", None)  # the service has no ready endpoint, but the database answers
    report = await run("db-connectivity", world.cfg())
    assert finding(report, "no ready endpoints").severity is Severity.CRITICAL
    assert finding(report, "SELECT 1 in").severity is Severity.OK
    assert "delete-pod" not in {s.action for f in report.findings for s in f.suggestions}
    assert "SELECT 1 answers" in finding(report, "no ready endpoints").detail

    down = await run("db-connectivity", world.cfg(postgres_dsn=f"postgresql://postgres:pw@{CLOSED}/x"))
    assert "delete-pod" in actions(finding(down, "no ready endpoints"))


async def test_eviction_at_maxmemory_leads_with_memory(world, testbed):
    r = aioredis.from_url(testbed["ALP_REDIS_URL"], decode_responses=True)
    old = await r.config_get("maxmemory*")
    used = int((await r.info("memory"))["used_memory"])
    await r.config_set("maxmemory-policy", "allkeys-lru")
    await r.config_set("maxmemory", str(used + 4 * 2**20))

    async def restore() -> None:
        await r.config_set("maxmemory", old["maxmemory"])
        await r.config_set("maxmemory-policy", old["maxmemory-policy"])
        await r.aclose()

    world.undo.append(restore)
    n = 0

    async def fill() -> None:
        nonlocal n
        n += 1
        await r.set(f"evict:{world.unique}:{n}", "x" * 100_000)
        await r.get(f"evict:{world.unique}:{n - 50}")

    world.loop(fill)
    await asyncio.sleep(0.5)
    report = await run("redis", world.cfg())
    stats = finding(report, "key(s) evicted")
    assert stats.severity is not Severity.OK
    assert stats.suggestions[0].action == "set-resources", stats.suggestions
    assert "warm-cache" not in [s.action for s in stats.suggestions][:1]


def test_no_confirm_button_where_nobody_may_confirm():
    from datetime import UTC, datetime

    spec = ACTIONS.get("delete-pod")
    assert spec is not None
    req = {
        "id": 7,
        "requester": "U0ALICE",
        "params": {"pod": "postgres-0"},
        "preview": {"lines": ["would delete pod postgres-0"]},
        "expires_at": datetime.now(UTC),
    }
    _, nobody = confirmation(spec, req, "nobody (set ALP_ACTIONS__PERMISSIONS)", "tok", "cancel", False)
    ids = [e["action_id"] for b in nobody if b["type"] == "actions" for e in b["elements"]]
    assert ids == ["alp_action_cancel"]
    assert "nobody (set ALP_ACTIONS__PERMISSIONS)" in json.dumps(nobody)
    _, someone = confirmation(spec, req, "<@U0ALICE>", "tok", "cancel", False)
    assert "alp_action_confirm" in json.dumps(someone)
    req |= {"confirmed_by": "U0ALICE", "approval_deadline": datetime.now(UTC)}
    _, unapprovable = awaiting_approval(spec, req, "nobody (set ALP_ACTIONS__PERMISSIONS)", "tok", "cancel")
    assert "alp_action_approve" not in json.dumps(unapprovable) and "alp_action_cancel" in json.dumps(unapprovable)


# ---------------------------------------------------------------------- 5. rates over a window
async def test_redis_lifetime_counters_are_not_judged_as_now(world, testbed):
    r = aioredis.from_url(testbed["ALP_REDIS_URL"], decode_responses=True)
    world.undo.append(r.aclose)
    await r.config_resetstat()
    for i in range(100):
        await r.get(f"gone:{world.unique}:{i}")  # 100 misses, long ago
    await r.set(f"user:{world.unique}", "1")
    for _ in range(8):
        await r.get(f"user:{world.unique}")

    idle = finding(await run("redis", world.cfg()), "Redis")
    assert idle.severity is Severity.UNKNOWN and "too little traffic to judge" in idle.title, idle.title  # #25: not OK
    assert re.search(r"over \d+\.\ds", idle.title)  # the window it was measured over

    async def hit() -> None:
        await r.get(f"user:{world.unique}")

    world.loop(hit)
    busy = finding(await run("redis", world.cfg()), "Redis hit ratio")
    assert busy.severity is Severity.OK and "100.0%" in busy.title  # lifetime ratio is ~8%


async def test_db_load_judges_the_window_and_leaves_out_ddl(world, testbed):
    async with await psycopg.AsyncConnection.connect(testbed["ALP_POSTGRES_DSN"], autocommit=True) as reset:
        await reset.execute("SELECT pg_stat_statements_reset()")
    await lock_chain(world, waiters=1)  # an UPDATE blocked for a while, then done
    await asyncio.sleep(2.5)
    await world.conns[1].execute("ROLLBACK")
    await asyncio.gather(*world.tasks)
    world.tasks.clear()
    admin = world.conns[0]
    lifetime = await admin.execute("SELECT max(max_exec_time) FROM pg_stat_statements WHERE query LIKE 'UPDATE%'")
    assert (await lifetime.fetchone())[0] > 2000  # what the lifetime mean would have judged

    ddl = await world.pg()

    async def create_drop() -> None:
        await ddl.execute(f"CREATE DATABASE {world.unique}")
        await ddl.execute(f"DROP DATABASE {world.unique}")

    world.loop(create_drop)
    report = await run("db-load", world.cfg())
    statements = next(f for f in report.findings if f.probe == "statements")
    assert statements.severity is Severity.OK, statements.title
    assert re.search(r"over \d+\.\ds", statements.title)
    assert "DATABASE" not in str(statements.evidence) and "UPDATE" not in str(statements.evidence)
    assert re.search(r"over \d+\.\ds", finding(report, "adaptive_learning:").title)


# ---------------------------------------------------------------------- 6. credentials, not outages
async def test_bad_postgres_password_is_one_login_finding(world):
    world.pod("auth-service", FAST)
    client.CoreV1Api(world.kube).create_namespaced_secret(
        world.ns, client.V1Secret(metadata=client.V1ObjectMeta(name="jwt-signing-key"), string_data={"key": "k"})
    )
    for target in ("auth", "db-load", "deadlocks"):
        report = await run(target, world.cfg(postgres_dsn=world.bad_pg()))
        login = [f for f in report.findings if "cannot log in" in f.title]
        assert len(login) == 1, _titles(report)
        assert login[0].title == "The bot cannot log in to PostgreSQL as postgres"
        assert login[0].severity is Severity.UNKNOWN and report.exit_code == 3, _titles(report)
        assert not [t for _, t in _titles(report) if "unreachable" in t]
        assert "not-the-password" not in report.to_json()


async def test_dead_redis_is_one_finding(world):
    report = await run("redis", world.cfg(redis_url=f"redis://{CLOSED}/0"))
    [down] = [f for f in report.findings if "Redis unreachable" in f.title]
    verdicts = [f for f in report.findings if f.probe != "changes"]  # "what changed" context aside
    assert len(verdicts) == 1 and set(down.probe.split(", ")) == {"stats", "keys", "latency"}
    assert report.exit_code == 2
    wrong = await run("redis", world.cfg(redis_url=world.bad_redis()))
    assert [f.title for f in wrong.findings] == ["The bot cannot log in to Redis as nobody"]
    assert wrong.exit_code == 3


def test_terminal_exit_code_3_when_nothing_could_be_checked(testbed):
    env = {**os.environ, **testbed, "ALP_ENDPOINTS__OAUTH_URL": "auth0.com"}
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check", "external"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 3, out.stdout + out.stderr
    assert out.stdout.startswith("external: UNKNOWN: OAuth provider URL 'auth0.com' is not an http(s) URL")


# ---------------------------------------------------------------------- 7. the answer first
async def test_terminal_report_worst_first_ok_collapsed_no_markup(world, platform):
    world.pod("auth-service", QUIET + "2026-11-28T03:00:02Z ERROR [db] error acquiring connection\n")
    jwt_secret(world)
    world.runbook_configmaps()  # auth-config: the login section's objects all there
    platform.health["auth-service"] = 503
    world.undo.append(platform.health.clear)
    report = await run("auth", world.cfg())  # WARN (error lines), OKs, CRIT (/health)
    assert [f.severity for f in report.findings] != sorted(
        (f.severity for f in report.findings), key=lambda s: -s.rank
    )  # the probes' own order is not worst first

    text = render_text(report)
    lines = text.splitlines()
    assert lines[0].startswith("auth: CRITICAL: auth-service /health failing")
    tags = [line[:6] for line in lines if line.startswith("[")]
    folded = [f for f in report.findings if f.severity is Severity.OK and f.probe != "changes"]
    context = [f for f in report.findings if f.probe == "changes"]  # "what changed", beside a critical report
    assert tags == ["[CRIT]", "[WARN]"] + ["[ OK ]"] * len(context) + ["[ OK ]"]
    assert lines[-1].startswith(f"[ OK ] {len(folded)} check(s) OK: ") and lines[-1].endswith("(--all lists them)")
    assert "ERROR [db] error acquiring connection" in text
    for markup in ("```", "`", "*auth", ":red_circle:", "<@", "<http"):
        assert markup not in text, markup
    everything = render_text(report, show_all=True)
    assert "JWT signing key present" in everything and "check(s) OK: " not in everything

    ranks = [Severity(f["severity"]).rank for f in json.loads(report.to_json())["findings"]]
    assert ranks == sorted(ranks, reverse=True)  # --json: worst first too

    msg = render_report(report)
    assert msg.text == report.headline
    assert msg.blocks[0]["text"]["text"] == report.headline
    assert "JWT signing key present" not in json.dumps(msg.blocks)
    assert "JWT signing key present" in json.dumps(render_report(report, show_all=True).blocks)


def test_all_is_an_option_of_every_check():
    req = parse("check auth --all")
    assert req.show_all and parse("health --all").show_all and not parse("check auth").show_all


def test_slack_notification_carries_the_headline(bot, fake_slack):
    from tests.support.slack_requests import command

    command(bot, fake_slack, "check external")
    final = fake_slack.wait_for("chat.update", lambda c: "external:" in c.args.get("text", ""))
    assert final.args["text"].startswith("external: OK: 2 checks OK: DNS")  # what was read, not a bare count
    fake_slack.reset()
    command(bot, fake_slack, "check external --all")
    listed = fake_slack.wait_for("chat.update", lambda c: "external:" in c.args.get("text", ""))
    assert "DNS:" in json.dumps(listed.args["blocks"])


# ---------------------------------------------------------------------- the judgements, declared once
def test_redis_remedy_judgement():
    from commands.checks.redis_cache import redis_remedies

    def names(low: bool, evicting: bool, full: bool) -> list[str]:
        return [s.action for s in redis_remedies(low, evicting, full)]

    assert names(True, True, True) == ["set-resources", "warm-cache"]  # memory first
    assert names(False, True, True) == ["set-resources"]
    assert names(True, False, False) == ["warm-cache"]
    assert names(False, False, True) == ["set-resources"]
    assert names(False, False, False) == []


def test_lock_timeout_judgement_and_cycles():
    from commands.checks.locks import Backend, lock_timeout_remedy, roots

    assert lock_timeout_remedy(None) is None  # unknown: do not guess
    assert lock_timeout_remedy("10s") is None and lock_timeout_remedy("30000ms") is None
    assert lock_timeout_remedy("") is not None and lock_timeout_remedy("1h") is not None

    def b(pid: int, *by: int) -> Backend:
        return Backend(pid, "u", "", "local", "active", 1.0, 1.0, "UPDATE t", list(by))

    chain = {1: b(1), 2: b(2, 1), 3: b(3, 2, 1), 4: b(4, 3)}
    assert [(r.pid, n) for r, n in roots(chain)] == [(1, 3)]
    cycle = {5: b(5, 6), 6: b(6, 5)}  # a real deadlock, before PostgreSQL breaks it
    assert sorted(r.pid for r, _ in roots(cycle)) == [5, 6]


def test_ok_findings_lose_suggestions_in_one_place():
    from commands.probes import merge_causes
    from commands.report import Finding, Suggestion

    fine = Finding(severity=Severity.OK, title="fine", suggestions=[Suggestion(action="restart")])
    bad = Finding(severity=Severity.WARNING, title="bad", suggestions=[Suggestion(action="restart")])
    merged = merge_causes([fine, bad])
    assert merged[0].suggestions == [] and merged[1].suggestions


def test_terminal_help_has_no_slack_markup():
    out = subprocess.run([sys.executable, "-m", "bot.cli", "help"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and "check <target>" in out.stdout and "`" not in out.stdout


async def test_no_restart_of_a_deployment_scaled_to_zero(world, platform):
    client.AppsV1Api(world.kube).create_namespaced_deployment(
        world.ns, deployment("auth-service", 8080, world.ns, replicas=0)
    )
    platform.health["auth-service"] = 503
    world.undo.append(platform.health.clear)
    report = await run("auth", world.cfg())
    assert finding(report, "/health failing").severity is Severity.CRITICAL
    suggested = {(s.action, str(s.params.get("deployment"))) for f in report.findings for s in f.suggestions}
    assert ("restart", "auth-service") not in suggested, suggested
    assert ("scale", "auth-service") in suggested


async def test_dead_kafka_is_one_finding_in_progress(world):
    world.pod("user-service", QUIET)
    report = await run("progress", world.cfg(kafka_bootstrap=CLOSED))
    down = [f for f in report.findings if "Kafka" in f.title and f.severity is Severity.CRITICAL]
    assert [f.title for f in down] == [f"Kafka unreachable at {CLOSED}"], _titles(report)
    assert json.loads(report.to_json())["headline"] == report.headline


async def test_no_istio_pods_because_istiod_is_scaled_to_zero(world):
    report = await run("network", world.cfg())  # the world's istiod deployment has 0 replicas
    zero = finding(report, "Deployment istiod is scaled to 0 desired replicas")
    assert zero.severity is Severity.CRITICAL and zero.suggestions[0].params["namespace"] == "istio-system"
    assert not [t for _, t in _titles(report) if t.startswith("istio-system:")]


def test_context_and_steps_are_never_folded():
    from datetime import UTC, datetime

    from commands.report import Finding, Report

    report = Report(
        target="deadlocks",
        started_at=datetime.now(UTC),
        duration_s=0.1,
        findings=[
            Finding(severity=Severity.OK, title="No active query older than 300s"),
            Finding(severity=Severity.CRITICAL, title="2 backend(s) waiting on locks"),
            Finding(severity=Severity.OK, title="Changes in the last hour: none", probe="changes"),
        ],
    )
    text = render_text(report)
    assert "Changes in the last hour: none" in text and "No active query" not in text
    assert "1 check(s) OK (--all lists them)" in text
    assert parse("logs user-service").show_all and parse("changes").show_all  # their OK findings are the answer


async def test_a_cycle_offers_its_members_never_the_backends_queued_behind_it(world):
    """A real deadlock (PostgreSQL breaks it only after deadlock_timeout, raised here) with a
    third backend queued behind one member: the queued one is a waiter, never a "root"."""
    admin = await world.pg()
    await admin.execute(f"CREATE TABLE {world.unique} (id int primary key, v int)")
    await admin.execute(f"INSERT INTO {world.unique} VALUES (1, 0), (2, 0)")
    world.undo.append(lambda: drop_table(world, world.unique))
    a, b, tail = await world.pg(), await world.pg(), await world.pg()
    for conn, row in ((a, 1), (b, 2)):
        await conn.execute("SET deadlock_timeout = '1min'")
        await conn.execute("BEGIN")
        await conn.execute(f"UPDATE {world.unique} SET v = 1 WHERE id = {row}")
    world.tasks.append(asyncio.create_task(a.execute(f"UPDATE {world.unique} SET v = 2 WHERE id = 2")))
    world.tasks.append(asyncio.create_task(b.execute(f"UPDATE {world.unique} SET v = 2 WHERE id = 1")))
    await asyncio.sleep(0.3)
    world.tasks.append(asyncio.create_task(tail.execute(f"UPDATE {world.unique} SET v = 3 WHERE id = 1")))
    await asyncio.sleep(0.6)

    members = {a.info.backend_pid, b.info.backend_pid}
    try:
        locks = finding(await run("deadlocks", world.cfg()), "waiting on locks")
    finally:  # closing a connection stuck in a deadlock would wait for it
        for conn in (a, b, tail):
            await admin.execute("SELECT pg_terminate_backend(%s)", [conn.info.backend_pid])

    pids = next(s for s in locks.suggestions if s.action == "terminate-queries").params["pids"]
    assert {int(p) for p in pids.split(",")} == members, (pids, tail.info.backend_pid)
    assert {int(r[0]) for r in locks.evidence[0].rows} == members
    assert "cycle" in locks.title.lower() or "deadlock" in locks.title.lower(), locks.title


async def test_the_deadlocks_headline_names_the_table_how_many_and_how_long(world):
    """#29 item 3: the headline (the notification text) names what is locked, how many wait and for
    how long, not only 'deadlocks: CRITICAL'."""
    await lock_chain(world, waiters=2)
    await asyncio.sleep(1.2)
    report = await run("deadlocks", world.cfg())
    head = report.headline
    assert head.startswith("deadlocks: CRITICAL: 2 backend(s) blocked waiting on locks"), head
    assert f"on {world.unique}" in head, head  # the table, from the locks the waiters hold
    assert re.search(r"for up to \d+s", head), head  # the longest wait, as read now
    assert f"root blocker pid {world.conns[1].info.backend_pid}" in head and "billing-batch" in head, head
