"""The state store: migrations from the schema before them (data kept, timers moved onto the
incidents), and conditional updates that a race cannot win twice."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from escalation.config import EscalationSettings
from escalation.model import IncidentStatus, Priority, build_ladder
from escalation.state.alert_groups import AlertGroups
from escalation.state.audit import AuditLog
from escalation.state.db import MIGRATIONS
from escalation.state.store import Store, migrate, sqlalchemy_url
from escalation.state.timeline import add_entry_in_channel

HEAD = "0009"  # the newest revision
OLD_SCHEMA = Path(__file__).parent / "data" / "state_schema_before_migrations.sql"
LADDER = '[{"name": "primary", "mention": "@p", "via": "slack", "delay_s": 0}, {"name": "secondary", "mention": "@s", "via": "slack", "delay_s": 900}, {"name": "manager", "mention": "M", "via": "pager", "delay_s": 900}]'


def old_database(path: Path) -> dict[str, float]:
    """A database as today's main leaves it, mid-escalation; returns the timers' due times."""
    soon, later = time.time() + 600, time.time() + 7200
    acked = "2026-01-02 03:04:05.000000"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA.read_text())
    incident = "INSERT INTO alp_incidents VALUES (?, 'P1', ?, 'users', '[\"auth\"]', ?, 'C1', 'U1', '2026-01-02 03:00:00.000000', ?, ?, ?, 1, '1.1', ?, ?, NULL, NULL, '{\"Run smoke tests\": true}', 3)"
    db.execute(incident, (1, "mid ladder", "triggered", LADDER, 1, "e1", None, None))
    db.execute(incident, (2, "lost timer", "triggered", LADDER, 0, "e2", None, None))
    db.execute(incident, (3, "acked", "acknowledged", LADDER, 1, None, "U7", acked))
    db.execute(incident, (4, "done", "resolved", LADDER, 3, None, "U7", acked))
    page = "INSERT INTO alp_pages VALUES (?, ?, ?, ?, NULL, '2026-01-02 03:00:01.000000', NULL, 1, NULL)"
    db.execute(page, (1, "e1", 0, "pending"))  # the process died while sending
    db.execute(page, (3, "old", 0, "failed"))  # an escalation long stopped
    db.execute("INSERT INTO alp_timeline VALUES (1, 1, '2026-01-02 03:00:00.000000', 'U1', 'opened', 'opened', '{}')")
    db.execute(
        "INSERT INTO alp_audit VALUES (1, '2026-01-02 03:00:00.000000', 'U1', 'outcome', 'restart', '{}', 'done', 1)"
    )
    job = "INSERT INTO alp_jobs VALUES (?, ?, x'00')"
    db.execute(job, ("step:1:e1:1", soon))
    db.execute(job, ("ack_timeout:3:2026-01-02T03:04:05+00:00:0", later))
    db.commit()
    db.close()
    return {"step": soon, "ack_timeout": later}


async def test_upgrading_a_database_from_before_migrations_keeps_everything(tmp_path):
    due = old_database(tmp_path / "old.db")
    store = Store(f"sqlite:///{tmp_path}/old.db")
    try:
        incs = {i.id: i for i in await store.incidents(open_only=False)}
        assert [incs[i].summary for i in (1, 2, 3, 4)] == ["mid ladder", "lost timer", "acked", "done"]
        assert incs[1].checklist == {"Run smoke tests": True} and incs[1].services == ["auth"]
        assert incs[3].acked_by == "U7" and incs[4].status is IncidentStatus.RESOLVED and incs[1].version == 3
        assert incs[1].next_due_at is not None and abs(incs[1].next_due_at.timestamp() - due["step"]) < 0.01
        assert incs[2].next_due_at is not None and incs[2].next_due_at <= datetime.now(UTC)  # lost: due now
        assert incs[3].ack_due_at is not None and abs(incs[3].ack_due_at.timestamp() - due["ack_timeout"]) < 0.01
        assert incs[4].next_due_at is None
        pages = {(p["incident_id"], p["step"]): p for p in await store_pages(store)}
        assert pages[(1, 0)]["status"] == "pending" and pages[(1, 0)]["next_attempt_at"] is not None
        assert pages[(3, 0)]["status"] == "failed"  # the record of a stopped escalation stays as it was
        assert [e.text for e in await store.timeline(1)] == ["opened"]
        assert (await AuditLog(store.db).latest())[0]["result"] == "done"
        async with store.engine.connect() as conn:
            assert not await conn.run_sync(lambda c: sa.inspect(c).has_table("alp_jobs"))
        # and the upgraded database works: a new incident, an acknowledgement
        cfg = EscalationSettings()
        new = await store.create(Priority.P2, "new", "", [], "C1", "U1", build_ladder(Priority.P2, cfg), "e5", [])
        assert new.id == 5 and await store.acknowledge(5, "U2", 60, 60) is not None
    finally:
        await store.close()
    await Store(f"sqlite:///{tmp_path}/old.db").close()  # a second start-up finds nothing to do


async def store_pages(store: Store) -> list[dict[str, object]]:
    async with store.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(sa.text("SELECT * FROM alp_pages"))).mappings()]


@pytest.fixture
def pg_url(testbed):  # type: ignore[no-untyped-def]
    name = f"alp_store_{uuid.uuid4().hex[:8]}"
    admin = testbed["ALP_POSTGRES_DSN"].rsplit("/", 1)[0]
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"{admin}/{name}"
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


async def test_replicas_starting_together_on_postgresql_migrate_once(pg_url):
    stores: list[Store] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            stores.append(Store(pg_url))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == [] and len(stores) == 3
        async with stores[0].engine.connect() as conn:
            assert (await conn.execute(sa.text("SELECT version_num FROM alp_schema_version"))).scalar() == HEAD
    finally:
        for s in stores:
            await s.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_retrigger_is_one_conditional_update_that_one_racer_wins(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path}/s.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    store = Store(url)
    try:
        cfg = EscalationSettings()
        inc = await store.create(Priority.P1, "race", "", [], "C1", "U1", build_ladder(Priority.P1, cfg), "e", [])
        acked = await store.acknowledge(inc.id, "U2", ack_timeout_s=0.01, reminder_s=60)
        assert acked is not None and acked.acked_at is not None
        await asyncio.sleep(0.05)
        # four racers at once, each on its own connection
        won: list[object] = list(
            await asyncio.gather(*(store.retrigger(inc.id, acked.acked_at, f"new{i}", 0) for i in range(4)))
        )
        assert sum(w is not None for w in won) == 1
        after = await store.get(inc.id)
        assert after is not None and after.status is IncidentStatus.TRIGGERED and after.ack_due_at is None
        assert [e.kind for e in await store.timeline(inc.id)].count("retrigger") == 1
        # a newer acknowledgement makes the old timeout stale
        again = await store.acknowledge(inc.id, "U3", ack_timeout_s=0.01, reminder_s=60)
        assert again is not None
        await asyncio.sleep(0.05)
        assert await store.retrigger(inc.id, acked.acked_at, "stale", 0) is None
        assert await store.retrigger(inc.id, again.acked_at, "fresh", 0) is not None  # type: ignore[arg-type]
    finally:
        await store.close()


def test_migrate_is_idempotent_on_a_fresh_database(tmp_path):
    engine = sa.create_engine(sqlalchemy_url(f"sqlite:///{tmp_path}/fresh.db"))
    migrate(engine)
    migrate(engine)
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert {"alp_incidents", "alp_pages", "alp_leases", "alp_timeline", "alp_audit", "alp_action_requests"} <= tables
    engine.dispose()


def database_at_0002_with_alert_groups(url: str) -> None:
    """A database as the release before migration 0003 leaves it: schema at 0002, and the alert-group
    table made by `create_all` on first use (as `escalation.state.alert_groups` did), both with data."""
    from alembic import command
    from alembic.config import Config

    engine = sa.create_engine(sqlalchemy_url(url))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
    old = sa.MetaData()
    sa.Table(  # the table exactly as escalation/state/alert_groups.py declared it before 0003
        "alp_alert_groups",
        old,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("group_key", sa.Text, nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("open_key", sa.Text, unique=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("incident_id", sa.Integer, index=True),
        sa.Column("previous_incident_id", sa.Integer),
        sa.Column("alerts", sa.JSON, nullable=False),
        sa.Column("common_labels", sa.JSON, nullable=False),
        sa.Column("route", sa.JSON, nullable=False),
        sa.Column("silences", sa.JSON, nullable=False),
        sa.Column("notifications", sa.Integer, nullable=False, default=0),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    old.create_all(engine)
    at = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO alp_incidents (priority, summary, impact, services, status, channel, opened_by,"
                " opened_at, ladder, next_step, announced, checklist, version) VALUES ('P2', 'disk full', '',"
                " '[]', 'triggered', 'C1', 'alertmanager', :at, :ladder, 0, true, '{}', 0)"
            ),
            {"at": at, "ladder": LADDER},
        )
        insert = sa.text(
            "INSERT INTO alp_alert_groups (group_key, status, open_key, channel, message_ts, incident_id,"
            " previous_incident_id, alerts, common_labels, route, silences, notifications, opened_at, updated_at)"
            " VALUES (:key, :status, :open_key, 'C1', '9.9', :inc, NULL, :alerts, '{\"alertname\": \"X\"}',"
            " '{}', :silences, 2, :at, :at)"
        )
        conn.execute(
            insert,
            {
                "key": "{}:{a=1}",
                "status": "firing",
                "open_key": "{}:{a=1}",
                "inc": 1,
                "at": at,
                "silences": '["s1"]',
                "alerts": '{"fp1": {"status": "firing"}}',
            },
        )
        conn.execute(
            insert,
            {
                "key": "{}:{a=2}",
                "status": "resolved",
                "open_key": None,
                "inc": None,
                "at": at,
                "silences": "[]",
                "alerts": '{"fp2": {"status": "resolved"}}',
            },
        )
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_upgrading_from_0002_keeps_alert_groups_and_makes_the_table_by_migration(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path}/s.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    database_at_0002_with_alert_groups(url)
    store = Store(url)
    try:
        groups = AlertGroups(store.db)
        firing = await groups.current("{}:{a=1}")
        assert firing is not None and firing.status == "firing" and firing.incident_id == 1
        assert firing.alerts == {"fp1": {"status": "firing"}} and firing.silences == ["s1"]
        assert firing.common_labels == {"alertname": "X"} and firing.notifications == 2 and firing.message_ts == "9.9"
        resolved = await groups.current("{}:{a=2}")
        assert resolved is not None and resolved.status == "resolved" and resolved.firing() == []
        assert (await groups.of_incident(1)) == firing and await groups.keys_of_incidents() == {1: ("{}:{a=1}", None)}
        # the one-firing-episode-per-group key still holds after the upgrade
        again, created = await groups.start("{}:{a=1}", "C1", None)
        assert not created and again.id == firing.id
        new, created = await groups.start("{}:{a=2}", "C1", None)  # fires again after resolving
        assert created and new.id not in (firing.id, resolved.id)
        async with store.engine.connect() as conn:
            assert (await conn.execute(sa.text("SELECT version_num FROM alp_schema_version"))).scalar() == HEAD
        assert [i.summary for i in await store.incidents(open_only=False)] == ["disk full"]
    finally:
        await store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_fresh_database_gets_the_alert_group_table_from_its_migration(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path}/s.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    store = Store(url)
    try:
        groups = AlertGroups(store.db)
        first, created = await groups.start("{}:{b=1}", "C1", None)
        second, created_second = await groups.start("{}:{b=1}", "C1", None)
        assert created and not created_second and second.id == first.id
        async with store.engine.connect() as conn:
            indexes = await conn.run_sync(lambda c: {i["name"] for i in sa.inspect(c).get_indexes("alp_alert_groups")})
        assert {"ix_alp_alert_groups_group_key", "ix_alp_alert_groups_incident_id"} <= indexes
    finally:
        await store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_check_in_a_channel_is_recorded_on_its_newest_open_incident_in_one_statement(
    backend, tmp_path, request
):
    url = f"sqlite:///{tmp_path}/s.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    store = Store(url)
    try:
        ladder = build_ladder(Priority.P2, EscalationSettings())
        channel, other = f"C{uuid.uuid4().hex[:8]}", f"C{uuid.uuid4().hex[:8]}"
        older = await store.create(Priority.P2, "older", "", [], channel, "U1", ladder, "e1", [])
        newer = await store.create(Priority.P2, "newer", "", [], channel, "U1", ladder, "e2", [])
        gone = await store.create(Priority.P2, "resolved since", "", [], channel, "U1", ladder, "e3", [])
        assert await store.resolve(gone.id, "U1") is not None
        await store.create(Priority.P2, "elsewhere", "", [], other, "U1", ladder, "e4", [])
        data = {"target": "redis", "findings": ["CRITICAL: evicting"], "at": datetime.now(UTC)}
        assert (
            await add_entry_in_channel(store.engine, channel, "U2", "check", "check redis: CRITICAL", data) == newer.id
        )
        assert await add_entry_in_channel(store.engine, f"C{uuid.uuid4().hex[:8]}", "U2", "check", "x") is None
        checks = [e for e in await store.timeline(newer.id) if e.kind == "check"]
        assert [(e.actor, e.text) for e in checks] == [("U2", "check redis: CRITICAL")]
        assert checks[0].data["findings"] == ["CRITICAL: evicting"] and isinstance(checks[0].data["at"], str)
        assert checks[0].at.tzinfo is not None and abs((checks[0].at - datetime.now(UTC)).total_seconds()) < 60
        for inc in (older, gone):
            assert [e for e in await store.timeline(inc.id) if e.kind == "check"] == []
    finally:
        await store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_upgrading_from_0003_keeps_pages_and_lets_a_page_owe_its_pager_events(backend, tmp_path, request):
    """Migration 0005 gives the outbox's primary key the event (trigger, acknowledge, resolve): the pages
    there are stay, as triggers, and a page's resolve is a row beside its trigger."""
    from alembic import command
    from alembic.config import Config

    url = f"sqlite:///{tmp_path}/s.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    engine = sa.create_engine(sqlalchemy_url(url))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        conn.execute(
            sa.text(
                "INSERT INTO alp_pages (incident_id, escalation_id, step, status, claimed_at, attempts)"
                " VALUES (1, 'e1', 2, 'sent', :at, 1)"
            ),
            {"at": datetime(2026, 11, 1, tzinfo=UTC)},
        )
    engine.dispose()
    store = Store(url)
    try:
        async with store.engine.begin() as conn:
            rows = (await conn.execute(sa.text("SELECT step, status, event_action FROM alp_pages"))).all()
            assert [tuple(r) for r in rows] == [(2, "sent", "trigger")]
            await conn.execute(
                sa.text(
                    "INSERT INTO alp_pages (incident_id, escalation_id, step, status, claimed_at, attempts, event_action)"
                    " VALUES (1, 'e1', 2, 'pending', :at, 0, 'resolve')"
                ),
                {"at": datetime(2026, 11, 1, tzinfo=UTC)},
            )
            assert (await conn.execute(sa.text("SELECT version_num FROM alp_schema_version"))).scalar() == HEAD
    finally:
        await store.close()
