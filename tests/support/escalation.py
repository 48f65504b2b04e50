"""Reading escalation's effects from outside the bots: pages in the fake Slack, events at the fake
pager, the holder of the escalation lease in PostgreSQL."""

from __future__ import annotations

import uuid

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
    """The manager's pages (Events v2 triggers) the pager accepted for the incident (its dedup keys are
    per step); the acknowledge and resolve that end them are not pages."""
    return [
        e
        for e in platform.pager_events
        if e["dedup_key"].split("-")[:3] == ["alp", *ref.split("-")] and e.get("event_action") == "trigger"
    ]


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


def announcement(fake_slack, ref: str):  # type: ignore[no-untyped-def]
    """The incident's top-level announcement."""
    return fake_slack.wait_for(
        "chat.postMessage", lambda c: f"{ref} " in c.args.get("text", "") and not c.args.get("thread_ts")
    )


def open_incident(bot, fake_slack, priority: str, tag: str) -> str:  # type: ignore[no-untyped-def]
    """`/alp incident open` with a unique summary; the incident's ref."""
    from tests.support.bot_env import opened_ref
    from tests.support.slack_requests import command

    summary = f"{tag} {uuid.uuid4().hex[:6]}"
    command(bot, fake_slack, f"incident open {priority} {summary}")
    return opened_ref(fake_slack, summary)


def replies(fake_slack, rid: str) -> list[str]:  # type: ignore[no-untyped-def]
    """What the bot answered on the response_url `rid`."""
    return [c.args.get("text", "") for c in fake_slack.called("response_url") if c.args["rid"] == rid]


def slash(bot, fake_slack, text: str, rid: str, user: str = "U0BOB") -> object:  # type: ignore[no-untyped-def]
    """A signed `/alp <text>` whose answers go to the response_url `rid`."""
    from tests.support.bot_env import SIGNING_SECRET
    from tests.support.signing import signed_headers, slash_command
    from tests.support.slack_requests import post

    body = slash_command(text, fake_slack.response_url(rid), user=user)
    return post(bot, body, signed_headers(SIGNING_SECRET, body))
