"""Reading escalation's effects from outside the bots: pages in the fake Slack, events at the fake
pager, the holder of the escalation lease in PostgreSQL."""

from __future__ import annotations

import psycopg


def pages(fake_slack, ref: str, step: str) -> list:  # type: ignore[no-untyped-def]
    return [
        c
        for c in fake_slack.called("chat.postMessage")
        if f"{ref} " in c.args.get("text", "")
        and f"({step})" in c.args.get("text", "")
        and c.args.get("channel", "").startswith("C")
        and c.response.get("ok")  # posted, not refused
    ]


def manager_pages(platform, ref: str) -> list:  # type: ignore[no-untyped-def]
    """Pager events the pager accepted for the incident (its dedup keys are per step)."""
    return [e for e in platform.pager_events if e["dedup_key"].split("-")[:3] == ["alp", *ref.split("-")]]


def leader_pid(dsn: str) -> int | None:
    """The pid of the holder of the unexpired escalation lease."""
    with psycopg.connect(dsn) as conn:
        try:
            row = conn.execute("SELECT holder FROM alp_leases WHERE expires_at > now()").fetchone()
        except psycopg.errors.UndefinedTable:  # before leases: the holder of the advisory lock
            conn.rollback()
            row = conn.execute("""SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a
                                  ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted""").fetchone()
    return int(row[0].rsplit("-", 1)[1]) if row else None
