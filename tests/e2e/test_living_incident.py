"""The living incident (#29): what an incident's messages say follows the fix, and working on it counts.

The running alp-bot, the fake Slack, the test bed's services: a check fails, the fault goes away,
and the page, the buttons and the postmortem must say what is true now, each verdict with its time."""

from __future__ import annotations

import html
import re
import time

from kubernetes import client

from tests.support.k8s_world import PLATFORM
from tests.support.signing import block_action
from tests.support.slack_requests import announced, blocks_text, click, command, confirmation

TIME = r"\d\d:\d\d:\d\dZ"


def page_fields(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The page's six fields, as Slack shows them."""
    fields = next(b["fields"] for b in page.args["blocks"] if b.get("fields"))
    out = {}
    for f in fields:
        name, _, value = html.unescape(f["text"]).partition("\n")
        out[name.strip("*")] = value
    return out


def report_posted(fake_slack, channel: str, text: str):  # type: ignore[no-untyped-def]
    return fake_slack.wait_for(
        "chat.update",
        lambda c: c.args.get("channel") == channel and text in blocks_text(c.args.get("blocks", [])),
    )


def test_a_page_reruns_the_checks_and_says_what_is_true_now_with_times(bot, fake_slack, platform):
    channel = "C0LIVE1"
    command(bot, fake_slack, "incident open P2 models fail to load", channel=channel)
    _, n = announced(fake_slack, "models fail to load")
    platform.mlflow_status = 503
    try:
        command(bot, fake_slack, "check ml", channel=channel)
        report = report_posted(fake_slack, channel, "MLflow unreachable")
    finally:
        platform.mlflow_status = 200  # the fix
    # every message that shows evidence says when it was read
    assert re.search(rf"read {TIME}", blocks_text(report.args["blocks"]))
    time.sleep(0.5)  # the verdict is recorded just after the report is posted

    click(bot, block_action("incident_escalate", str(n), channel=channel))
    page = fake_slack.wait_for(
        "chat.postMessage", lambda c: f"INC-{n} " in c.args.get("text", "") and "you are paged" in c.args["text"]
    )
    fields = page_fields(page)
    evidence = fields["Logs and Evidence"]
    now, _, earlier = evidence.partition("Earlier verdicts")
    # newest verdict first, re-run just before the page, with the time it was read
    assert re.match(rf"{TIME} ml: \w+.*\(before paging primary\)", now), evidence
    assert "MLflow unreachable" not in now, evidence
    # the pre-fix verdict as history, with its own time
    assert re.search(rf"{TIME} ml: CRITICAL", earlier) and "MLflow unreachable" not in now, evidence
    status = fields["Current Status"]
    assert re.search(rf"Now: ml \w+ at {TIME}", status), status
    assert re.search(r"Next page: secondary \(.*\) at \d\d:\d\dZ \(in \d+ min\) unless acknowledged", status), status

    click(bot, block_action("incident_resolve", str(n), channel=channel))
    fake_slack.wait_for("chat.postMessage", lambda c: f"INC-{n} resolved" in c.args.get("text", ""))
    click(bot, block_action("incident_postmortem", str(n), channel=channel))
    upload = fake_slack.wait_for("upload", lambda c: f"Postmortem draft: INC-{n}" in c.args["content"])
    timeline = upload.args["content"].split("## Timeline")[1].split("##")[0]
    # every verdict, before and after the fix, and the one taken on resolve
    assert "check ml: CRITICAL" in timeline, timeline
    assert "(before paging primary)" in timeline and "(on resolve)" in timeline, timeline


def test_confirming_a_remediation_acknowledges_and_its_recheck_joins_the_incident(bot, fake_slack, kube_admin):
    channel = "C0LIVE2"
    fake_slack.usergroups["S0SRE"] = ["U0CAROL"]
    command(bot, fake_slack, "incident open P2 predictions slow", channel=channel)
    msg, n = announced(fake_slack, "predictions slow")
    # every incident message says who is paged next and when
    assert re.search(
        r"primary \(.*\) at \d\d:\d\dZ \(in 60 min\) unless acknowledged", blocks_text(msg.args["blocks"])
    ), blocks_text(msg.args["blocks"])

    command(bot, fake_slack, "do scale ml-service 1", channel=channel, user="U0CAROL")
    _, buttons = confirmation(fake_slack, "scale deployment=ml-service replicas=1")
    try:
        click(bot, block_action("alp_action_confirm", buttons["alp_action_confirm"], user="U0CAROL", channel=channel))
        said = fake_slack.wait_for(
            "chat.postMessage",
            lambda c: c.args.get("channel") == channel and "acknowledged by <@U0CAROL>" in c.args.get("text", ""),
        )
        assert "confirming scale" in said.args["text"] and "escalation stopped" in said.args["text"]
        updated = fake_slack.wait_for(
            "chat.update",
            lambda c: c.args.get("ts") == msg.response["ts"] and "acknowledged by" in blocks_text(c.args["blocks"]),
        )
        assert "none: acknowledged" in blocks_text(updated.args["blocks"])

        def recorded() -> str:  # the automatic re-check after the action joins the incident's record
            click(bot, block_action("incident_postmortem", str(n), channel=channel))
            up = fake_slack.wait_for("upload", lambda c: f"Postmortem draft: INC-{n}" in c.args["content"])
            return str(up.args["content"])

        deadline = time.monotonic() + 20
        content = recorded()
        while "(after scale" not in content and time.monotonic() < deadline:
            time.sleep(1)
            fake_slack.reset()
            content = recorded()
        assert "check health:" in content and "(after scale deployment=ml-service replicas=1)" in content, content
        assert "acknowledged by confirming scale" in content, content
    finally:
        client.AppsV1Api(kube_admin).patch_namespaced_deployment_scale(
            "ml-service", PLATFORM, {"spec": {"replicas": 0}}
        )


def test_a_remedy_button_refuses_once_its_incident_is_resolved(bot, fake_slack, platform):
    channel = "C0LIVE3"
    command(bot, fake_slack, "incident open P2 logins fail", channel=channel)
    _, n = announced(fake_slack, "logins fail")
    platform.discovery = "<html>maintenance</html>"
    try:
        command(bot, fake_slack, "check auth", channel=channel)
        report = report_posted(fake_slack, channel, "OAuth discovery document is not valid")
    finally:
        platform.discovery = {"issuer": "https://alp-test.auth0.com/"}
    value = next(
        e["value"]
        for b in report.args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].startswith("alp_action_request") and "set-config" in e["text"]["text"]
    )
    time.sleep(0.5)
    click(bot, block_action("incident_resolve", str(n), channel=channel))
    fake_slack.wait_for("chat.postMessage", lambda c: f"INC-{n} resolved" in c.args.get("text", ""))

    fake_slack.reset()
    click(bot, block_action("alp_action_request:0", value, user="U0ALICE", channel=channel))
    refused = fake_slack.wait_for(
        "chat.postEphemeral", lambda c: c.args.get("user") == "U0ALICE" and "Not run" in c.args.get("text", "")
    )
    assert f"INC-{n} was resolved at" in refused.args["text"] and "check auth" in refused.args["text"]
    time.sleep(0.5)
    assert not [c for c in fake_slack.called("chat.postMessage") if "Confirm: set-config" in c.args.get("text", "")]


def test_the_thread_warns_before_the_managers_phone(bot, fake_slack):
    channel = "C0LIVE4"
    command(bot, fake_slack, "incident open P1 queue stuck", channel=channel)
    msg, n = announced(fake_slack, "queue stuck")
    try:
        warning = fake_slack.wait_for(
            "chat.postMessage",
            lambda c: (
                c.args.get("channel") == channel
                and c.args.get("thread_ts") == msg.response["ts"]
                and "Next page: manager" in c.args.get("text", "")
            ),
        )
        assert re.search(r"at \d\d:\d\dZ \(in \d+ min\) unless acknowledged", warning.args["text"]), warning.args
        phoned = [
            c
            for c in fake_slack.called("chat.postMessage")
            if c.args.get("channel") == channel and "by phone" in c.args.get("text", "")
        ]
        assert not phoned  # the warning comes before the call
    finally:
        click(bot, block_action("incident_ack", str(n), channel=channel))
