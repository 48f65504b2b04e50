"""Alertmanager's real delivery order (issue #24, observations 2 and 3): an alert is identified by its
fingerprint and startsAt, not by the groupKey it arrives under; counts stay right with truncatedAlerts; a
group message someone deleted is replaced, and the incident's announcement follows it.

Payloads go straight to a running alp-bot as Alertmanager sends them (HA peers re-delivering, a reload
changing group_by, max_alerts truncating), in the order that breaks things."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from tests.support import alertmanager as am
from tests.support.alertmanager import group_posts, incidents, updates_of
from tests.support.processes import wait_until
from tests.support.slack_requests import blocks_text, command


def send(bot: Any, body: dict[str, Any]) -> None:
    assert am.post_webhook(bot.url, json.dumps(body).encode(), am.TOKEN)[0] == 200


def resolved_copy(body: dict[str, Any], keep: int | None = None) -> dict[str, Any]:
    """The group's resolved notification (only the first `keep` alerts listed, the rest truncated)."""
    out = copy.deepcopy(body)
    out["status"] = "resolved"
    for a in out["alerts"]:
        a["status"], a["endsAt"] = "resolved", a["startsAt"]
    if keep is not None:
        out["truncatedAlerts"] = len(out["alerts"]) - keep
        out["alerts"] = out["alerts"][:keep]
    return out


def of(bot: Any, name: str) -> list[dict[str, Any]]:
    return [i for i in incidents(bot) if name in i["summary"]]


def test_a_late_firing_copy_after_a_truncated_resolution_opens_nothing(am_bot, fake_slack, unique):  # type: ignore[no-untyped-def]
    """The resolved notification lists only what max_alerts lets through; an HA peer's late firing copy
    of the whole group (same fingerprints, same startsAt) is older than the resolution."""
    name = f"RedisLate{unique}"
    firing = am.payload(
        f"{{}}:{{alertname={name}}}", [{"labels": {"alertname": name, "pod": f"p{i}"}} for i in range(3)]
    )
    send(am_bot, firing)
    [inc] = wait_until(lambda: of(am_bot, name))
    send(am_bot, resolved_copy(firing, keep=1))
    wait_until(lambda: of(am_bot, name)[0]["status"] == "resolved", 30)
    send(am_bot, firing)  # the late copy
    time.sleep(2)
    assert len(group_posts(fake_slack, name)) == 1
    assert [i["id"] for i in of(am_bot, name)] == [inc["id"]]


def test_a_firing_copy_after_a_resolution_heard_first_opens_nothing(am_bot, fake_slack, unique):  # type: ignore[no-untyped-def]
    """Two Alertmanagers: one's resolved notification arrives before the other's delayed firing one."""
    name = f"RedisHA{unique}"
    firing = am.payload(f"{{}}:{{alertname={name}}}", [{"labels": {"alertname": name}}])
    send(am_bot, resolved_copy(firing))
    time.sleep(1)
    send(am_bot, firing)
    time.sleep(2)
    assert group_posts(fake_slack, name) == [] and of(am_bot, name) == []


def test_a_group_key_change_carries_the_episode_its_message_and_incident(am_bot, fake_slack, unique):  # type: ignore[no-untyped-def]
    """A reload changes group_by: the same alert (fingerprint, startsAt) arrives under a new groupKey."""
    name = f"RedisRegroup{unique}"
    old = am.payload(f'{{}}:{{alertname="{name}"}}', [{"labels": {"alertname": name, "namespace": "ns1"}}])
    send(am_bot, old)
    [inc] = wait_until(lambda: of(am_bot, name))
    [msg] = wait_until(lambda: group_posts(fake_slack, name))
    new = copy.deepcopy(old)
    new["groupKey"] = f'{{}}:{{alertname="{name}", namespace="ns1"}}'
    send(am_bot, new)
    time.sleep(2)
    assert len(group_posts(fake_slack, name)) == 1 and [i["id"] for i in of(am_bot, name)] == [inc["id"]]
    send(am_bot, resolved_copy(new))
    wait_until(lambda: of(am_bot, name)[0]["status"] == "resolved", 30)
    wait_until(lambda: "RESOLVED" in updates_of(fake_slack, msg.response["ts"])[-1].args.get("text", ""), 10)


def test_counts_are_right_with_truncated_alerts(am_bot, fake_slack, unique):  # type: ignore[no-untyped-def]
    """Three alerts fire; a fourth joins and max_alerts=2 lists two of the four: four alerts, not 3 + 2."""
    name = f"RedisCount{unique}"
    alerts = [{"labels": {"alertname": name, "pod": f"p{i}"}} for i in range(4)]
    first = am.payload(f"{{}}:{{alertname={name}}}", alerts[:3])
    send(am_bot, first)
    [msg] = wait_until(lambda: group_posts(fake_slack, name))
    later = am.payload(f"{{}}:{{alertname={name}}}", alerts)
    for a, b in zip(later["alerts"], first["alerts"], strict=False):
        a["startsAt"] = b["startsAt"]
    later["alerts"], later["truncatedAlerts"] = later["alerts"][:2], 2
    send(am_bot, later)
    # the incident's first verdict updates the message too (still 3 alerts): wait for the second notification's
    update = wait_until(
        lambda: [
            u
            for u in updates_of(fake_slack, msg.response["ts"])
            if "3 alerts" not in u.args["blocks"][0]["text"]["text"]
        ]
    )[-1]
    header = update.args["blocks"][0]["text"]["text"]
    assert "4 alerts" in header, header
    assert "3 alerts" not in header and "more alert(s) in this group" not in blocks_text(update.args["blocks"])


def test_a_deleted_group_message_is_replaced_and_the_incident_follows_it(am_bot, fake_slack, unique):  # type: ignore[no-untyped-def]
    """Someone deletes the group's message: chat.update answers message_not_found from then on."""
    name = f"RedisDeleted{unique}"
    firing = am.payload(f"{{}}:{{alertname={name}}}", [{"labels": {"alertname": name}}])
    send(am_bot, firing)
    [inc] = wait_until(lambda: of(am_bot, name))
    [msg] = wait_until(lambda: group_posts(fake_slack, name))
    old_ts = msg.response["ts"]
    fake_slack.fail("chat.update", "message_not_found", times=100, when=lambda args: args.get("ts") == old_ts)
    send(am_bot, firing)  # Alertmanager's repeat: the message is updated
    posts = wait_until(lambda: group_posts(fake_slack, name)[1:], 10)
    new_ts = posts[0].response["ts"]
    assert "FIRING" in posts[0].args.get("text", "") and inc["ref"] in blocks_text(posts[0].args["blocks"])

    def links() -> list[Any]:
        return [
            c
            for c in fake_slack.called("chat.postMessage")
            if c.args.get("thread_ts") == old_ts
            and c.response.get("ok")
            and new_ts.replace(".", "") in c.args.get("text", "")
        ]

    assert wait_until(links, 10), "the old thread links to the new message"
    # the incident's announcement is the new message: acknowledging it updates that one
    command(am_bot, fake_slack, f"incident ack {inc['id']}", channel="C0ALERTS")
    wait_until(
        lambda: any("acknowledged" in blocks_text(u.args.get("blocks") or []) for u in updates_of(fake_slack, new_ts)),
        15,
    )
    send(am_bot, resolved_copy(firing))
    wait_until(lambda: of(am_bot, name)[0]["status"] == "resolved", 30)
    wait_until(lambda: "RESOLVED" in updates_of(fake_slack, new_ts)[-1].args.get("text", ""), 10)
    assert len(group_posts(fake_slack, name)) == 2  # replaced once, not on every update
