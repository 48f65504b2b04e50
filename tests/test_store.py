"""The state store: migrations from the schema before them (data kept, timers moved onto the
incidents), and conditional updates that a race cannot win twice."""

from __future__ import annotations

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
from escalation.model import Priority, Status, build_ladder
from escalation.store import Store, migrate, sqlalchemy_url

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


def test_upgrading_a_database_from_before_migrations_keeps_everything(tmp_path):
    due = old_database(tmp_path / "old.db")
    store = Store(f"sqlite:///{tmp_path}/old.db")
    try:
        incs = {i.id: i for i in store.incidents(open_only=False)}
        assert [incs[i].summary for i in (1, 2, 3, 4)] == ["mid ladder", "lost timer", "acked", "done"]
        assert incs[1].checklist == {"Run smoke tests": True} and incs[1].services == ["auth"]
        assert incs[3].acked_by == "U7" and incs[4].status is Status.RESOLVED and incs[1].version == 3
        assert incs[1].next_due_at is not None and abs(incs[1].next_due_at.timestamp() - due["step"]) < 0.01
        assert incs[2].next_due_at is not None and incs[2].next_due_at <= datetime.now(UTC)  # lost: due now
        assert incs[3].ack_due_at is not None and abs(incs[3].ack_due_at.timestamp() - due["ack_timeout"]) < 0.01
        assert incs[4].next_due_at is None
        pages = {(p["incident_id"], p["step"]): p for p in store_pages(store)}
        assert pages[(1, 0)]["status"] == "pending" and pages[(1, 0)]["next_attempt_at"] is not None
        assert pages[(3, 0)]["status"] == "failed"  # the record of a stopped escalation stays as it was
        assert [e.text for e in store.timeline(1)] == ["opened"]
        assert store.latest_audit()[0]["result"] == "done"
        with store.engine.connect() as conn:
            assert not sa.inspect(conn).has_table("alp_jobs")
        # and the upgraded database works: a new incident, an acknowledgement
        cfg = EscalationSettings()
        new = store.create(Priority.P2, "new", "", [], "C1", "U1", build_ladder(Priority.P2, cfg), "e5", [])
        assert new.id == 5 and store.acknowledge(5, "U2", 60, 60) is not None
    finally:
        store.close()
    Store(f"sqlite:///{tmp_path}/old.db").close()  # a second start-up finds nothing to do


def store_pages(store: Store) -> list[dict[str, object]]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text("SELECT * FROM alp_pages")).mappings()]


@pytest.fixture
def pg_url(testbed):  # type: ignore[no-untyped-def]
    name = f"alp_store_{uuid.uuid4().hex[:8]}"
    admin = testbed["ALP_POSTGRES_DSN"].rsplit("/", 1)[0]
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"{admin}/{name}"
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_replicas_starting_together_on_postgresql_migrate_once(pg_url):
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
        with stores[0].engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alp_schema_version")).scalar() == "0002"
    finally:
        for s in stores:
            s.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_retrigger_is_one_conditional_update_that_one_racer_wins(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path}/s.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    store = Store(url)
    try:
        cfg = EscalationSettings()
        inc = store.create(Priority.P1, "race", "", [], "C1", "U1", build_ladder(Priority.P1, cfg), "e", [])
        acked = store.acknowledge(inc.id, "U2", ack_timeout_s=0.01, reminder_s=60)
        assert acked is not None and acked.acked_at is not None
        time.sleep(0.05)
        barrier = threading.Barrier(4)
        won: list[object] = []

        def retrigger(i: int) -> None:
            barrier.wait()
            won.append(store.retrigger(inc.id, acked.acked_at, f"new{i}", 0))  # type: ignore[arg-type]

        threads = [threading.Thread(target=retrigger, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(w is not None for w in won) == 1
        after = store.get(inc.id)
        assert after is not None and after.status is Status.TRIGGERED and after.ack_due_at is None
        assert [e.kind for e in store.timeline(inc.id)].count("retrigger") == 1
        # a newer acknowledgement makes the old timeout stale
        again = store.acknowledge(inc.id, "U3", ack_timeout_s=0.01, reminder_s=60)
        assert again is not None
        time.sleep(0.05)
        assert store.retrigger(inc.id, acked.acked_at, "stale", 0) is None  # type: ignore[arg-type]
        assert store.retrigger(inc.id, again.acked_at, "fresh", 0) is not None  # type: ignore[arg-type]
    finally:
        store.close()


def test_migrate_is_idempotent_on_a_fresh_database(tmp_path):
    engine = sa.create_engine(sqlalchemy_url(f"sqlite:///{tmp_path}/fresh.db"))
    migrate(engine)
    migrate(engine)
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert {"alp_incidents", "alp_pages", "alp_leases", "alp_timeline", "alp_audit", "alp_action_requests"} <= tables
    engine.dispose()
