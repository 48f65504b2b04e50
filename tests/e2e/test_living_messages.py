"""Every message that shows a verdict follows the re-checks (#29): the announcement, the alert
group's message and the report message a check posted in the incident's channel.

The running alp-bot, the fake Slack, the test bed: a check fails, the fault goes away, a re-check
(before a page, on resolve) says so, and no message is left claiming the pre-fix state without
saying it was superseded and when."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator

import pytest

from tests.support import alertmanager as am
from tests.support.processes import BotProcess, wait_until
from tests.support.signing import block_action
from tests.support.slack_requests import announced, blocks_text, click, command

TIME = r"\d\d:\d\d:\d\dZ"


def shown(fake_slack, channel: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """What each top-level message of `channel` shows now (its last post or update), by ts."""
    now: dict[str, str] = {}
    for c in fake_slack.calls:
        if c.args.get("channel") != channel or not c.response.get("ok") or c.args.get("thread_ts"):
            continue
        if c.method == "chat.postMessage":
            now[str(c.response["ts"])] = html.unescape(blocks_text(c.args.get("blocks") or []))
        elif c.method == "chat.update":
            now[str(c.args["ts"])] = html.unescape(blocks_text(c.args.get("blocks") or []))
    return now


def unchanged_updates(fake_slack, channel: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The chat.update calls in `channel` that re-sent what the message already showed (its text and
    blocks as last posted or updated): each one a wasted call against Slack's rate limit."""
    last: dict[str, tuple[object, object]] = {}
    wasted = []
    for c in fake_slack.calls:
        if c.args.get("channel") != channel or not c.response.get("ok") or c.args.get("thread_ts"):
            continue
        if c.method == "chat.postMessage":
            last[str(c.response["ts"])] = (c.args.get("text"), c.args.get("blocks") or [])
        elif c.method == "chat.update":
            ts, now = str(c.args["ts"]), (c.args.get("text"), c.args.get("blocks") or [])
            if last.get(ts) == now:
                wasted.append(f"{ts}: {str(now[0])[:120]}")
            last[ts] = now
    return wasted


def remedies(text: str) -> bool:
    return "alp_action_request" in text


def stale_claims(fake_slack, channel: str, target: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Messages still showing `target` CRITICAL without saying a newer verdict superseded it."""
    return [
        t
        for t in shown(fake_slack, channel).values()
        if re.search(rf"{target}: CRITICAL", t) and not re.search(rf"[Ss]uperseded.*{TIME}", t)
    ]


def test_the_announcement_and_the_report_follow_the_recheck_before_a_page(bot, fake_slack, platform):
    channel = "C0LIVEM1"
    command(bot, fake_slack, "incident open P2 logins fail again", channel=channel)
    msg, n = announced(fake_slack, "logins fail again")
    platform.oauth_status = 503
    try:
        command(bot, fake_slack, "check external", channel=channel)
        report = fake_slack.wait_for(
            "chat.update",
            lambda c: c.args.get("channel") == channel and "answers HTTP 503" in blocks_text(c.args["blocks"]),
        )
    finally:
        platform.oauth_status = 200  # the fix
    announcement = wait_until(
        lambda: "external: CRITICAL" in shown(fake_slack, channel)[msg.response["ts"]], timeout=10
    )  # the announcement says the verdict the incident rests on
    assert announcement
    time.sleep(0.5)
    click(bot, block_action("incident_escalate", str(n), channel=channel))
    fake_slack.wait_for(
        "chat.postMessage", lambda c: f"INC-{n} " in c.args.get("text", "") and "paged" in c.args["text"]
    )

    def now() -> str:
        return shown(fake_slack, channel).get(msg.response["ts"], "")

    wait_until(lambda: "(before paging primary)" in now(), timeout=15)
    text = now()
    # the newest verdict first, with the time its evidence was read; the pre-fix one as history
    newest = re.search(rf"{TIME} external: (\w+)[^\"]*\(before paging primary\)", text)
    assert newest and newest.group(1) != "CRITICAL", text
    assert text.index("(before paging primary)") < text.index("external: CRITICAL"), text
    assert re.search(rf"[Ss]uperseded.*{TIME} external: CRITICAL", text), text

    # the report message the check posted says it is superseded, by what and when, and offers no remedy
    upd = wait_until(
        lambda: [
            c
            for c in fake_slack.called("chat.update")
            if c.args.get("ts") == report.args["ts"] and "before paging primary" in blocks_text(c.args["blocks"])
        ],
        timeout=15,
    )[-1]
    first = html.unescape(blocks_text(upd.args["blocks"][:1]))
    assert re.search(rf"[Ss]uperseded.*{TIME} external: (?!CRITICAL)\w+", first), first
    assert "answers HTTP 503" in blocks_text(upd.args["blocks"])  # the old report kept below, as history
    assert not remedies(blocks_text(upd.args["blocks"]))
    assert not stale_claims(fake_slack, channel, "external")
    assert not unchanged_updates(fake_slack, channel)  # each update changed what the message shows
    click(bot, block_action("incident_resolve", str(n), channel=channel))


@pytest.fixture(scope="module")
def oauth_alert_bot(bot: BotProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    """A bot whose Alertmanager route sends OAuth alerts to `check external`, opening a P2 incident."""
    routes = [{"match": {"alertname": "~OAuthDown.*"}, "check": "external", "priority": "P2", "channel": "C0LIVEAL"}]
    env = {
        **bot.env,
        "ALP_STATE_URL": f"sqlite:///{tmp_path_factory.mktemp('living')}/state.db",
        "ALP_ALERTMANAGER__WEBHOOK_TOKEN": am.TOKEN,
        "ALP_ALERTMANAGER__ROUTES": json.dumps(routes),
        "ALP_KAFKA_LAG__WATCH_INTERVAL_S": "0",
    }
    proc = BotProcess(env).start()
    yield proc
    proc.stop()


def test_the_alert_group_message_follows_the_recheck_on_resolve(oauth_alert_bot, fake_slack, platform, unique):  # type: ignore[no-untyped-def]
    name = f"OAuthDown{unique}"
    alert = {"labels": {"alertname": name, "service": "auth-service"}}
    platform.oauth_status = 503
    try:
        body = am.payload(f"{{}}:{{alertname={name}}}", [alert])
        assert am.post_webhook(oauth_alert_bot.url, json.dumps(body).encode(), am.TOKEN)[0] == 200
        first = wait_until(lambda: am.group_posts(fake_slack, name, "C0LIVEAL"), timeout=30)[0]
        assert "answers HTTP 503" in blocks_text(first.args["blocks"])
    finally:
        platform.oauth_status = 200
    ts = first.response["ts"]
    time.sleep(0.5)
    resolved = am.payload(f"{{}}:{{alertname={name}}}", [alert], status="resolved")
    resolved["alerts"][0]["startsAt"] = body["alerts"][0]["startsAt"]
    assert am.post_webhook(oauth_alert_bot.url, json.dumps(resolved).encode(), am.TOKEN)[0] == 200

    def now() -> str:
        return shown(fake_slack, "C0LIVEAL").get(ts, "")

    wait_until(lambda: "(on resolve)" in now(), timeout=30)
    text = now()
    newest = re.search(rf"{TIME} external: (\w+)[^\"]*\(on resolve\)", text)
    assert newest and newest.group(1) != "CRITICAL", text
    # the newest verdict before the pre-fix report, which is kept and marked with its time
    assert text.index("(on resolve)") < text.index("answers HTTP 503"), text
    assert re.search(rf"[Ss]uperseded.*{TIME}", text), text
    assert not remedies(text)
    assert not stale_claims(fake_slack, "C0LIVEAL", "external")
    # every update of the group's message changed what it shows (an alert-born incident re-sent it unchanged)
    assert not unchanged_updates(fake_slack, "C0LIVEAL")


def test_a_restart_does_not_mark_a_superseded_report_again(bot, fake_slack, platform, tmp_path):  # type: ignore[no-untyped-def]
    """The banner a superseded report got is found on the message after a restart: a later change of
    the incident (an acknowledgement) neither re-sends it nor rewrites it."""
    channel = "C0LIVERS"
    env = {
        **bot.env,
        "ALP_STATE_URL": f"sqlite:///{tmp_path}/state.db",
        "ALP_KAFKA_LAG__WATCH_INTERVAL_S": "0",
        "ALP_ESCALATION__STEP_WAIT_S": "3600",  # one page (primary, by the click) and its re-check
    }
    first = BotProcess(env).start()
    try:
        command(first, fake_slack, "incident open P2 logins fail once more", channel=channel)
        _, n = announced(fake_slack, "logins fail once more")
        platform.oauth_status = 503
        try:
            command(first, fake_slack, "check external", channel=channel)
            report = fake_slack.wait_for(
                "chat.update",
                lambda c: c.args.get("channel") == channel and "answers HTTP 503" in blocks_text(c.args["blocks"]),
            )
        finally:
            platform.oauth_status = 200
        wait_until(lambda: "external: CRITICAL" in " ".join(shown(fake_slack, channel).values()), timeout=10)
        time.sleep(0.5)
        click(first, block_action("incident_escalate", str(n), channel=channel))

        def banners() -> list[str]:
            return [
                blocks_text(c.args["blocks"])
                for c in fake_slack.called("chat.update")
                if c.args.get("ts") == report.args["ts"] and "Superseded" in blocks_text(c.args["blocks"])
            ]

        wait_until(banners, timeout=20)
    finally:
        first.stop()
    marked = banners()
    assert len(marked) == 1, marked
    second = BotProcess(env).start()
    try:
        click(second, block_action("incident_ack", str(n), channel=channel))
        fake_slack.wait_for(
            "chat.postMessage",
            lambda c: c.args.get("channel") == channel and "acknowledged by" in str(c.args.get("text", "")),
        )
        # not marked again by the restarted bot: each verdict marks the report once (a page's re-check
        # meanwhile is a newer verdict, and may replace the banner)
        by = [re.findall(rf"Superseded\* by ({TIME})", b)[0] for b in banners()]
        assert by[0] == re.findall(rf"Superseded\* by ({TIME})", marked[0])[0]
        assert len(by) == len(set(by)), banners()
        click(second, block_action("incident_resolve", str(n), channel=channel))
    finally:
        second.stop()
