"""Incidents through the Slack harness: the running alp-bot, signed commands and clicks."""

from __future__ import annotations

import json
import time

from tests.support.bot_env import SIGNING_SECRET
from tests.support.processes import wait_until
from tests.support.signing import block_action, signed_headers, view_submission
from tests.support.slack_requests import announced, blocks_text, command, get, post


def click(bot, body: str):  # type: ignore[no-untyped-def]
    return post(bot, body, signed_headers(SIGNING_SECRET, body))


def pages_for(fake_slack, ref: str) -> list:  # type: ignore[no-untyped-def]
    return [
        c
        for c in fake_slack.called("chat.postMessage")
        if "you are paged for" in c.args.get("text", "")
        and f"{ref} " in c.args.get("text", "")
        and c.args.get("channel", "").startswith("C")
    ]


def ephemeral_reply(fake_slack, text: str):  # type: ignore[no-untyped-def]
    return fake_slack.wait_for("response_url", lambda c: text in c.args.get("text", ""))


def test_p0_is_announced_paged_in_thread_and_dmed(bot, fake_slack):
    status, _, took = command(
        bot, fake_slack, 'incident open P0 login outage --impact "all users" --services auth-service,postgres'
    )
    assert status == 200 and took < 3
    msg, n = announced(fake_slack, "login outage")
    text = blocks_text(msg.args["blocks"])
    for button in ("incident_ack", "incident_escalate", "incident_note", "incident_resolve"):
        assert button in text
    page = fake_slack.wait_for(
        "chat.postMessage",
        lambda c: (
            "you are paged for" in c.args.get("text", "")
            and f"INC-{n} " in c.args["text"]
            and c.args.get("channel") == "C0ONCALL"
        ),
    )
    assert page.args["thread_ts"] == msg.response["ts"]
    assert page.args["text"].startswith("<!subteam^S0DEVOPS|devops-oncall>")
    fields = blocks_text(page.args["blocks"])
    for field in (
        "Incident Summary",
        "Impact Assessment",
        "Timeline",
        "Steps Taken",
        "Current Status",
        "Logs and Evidence",
    ):
        assert field in fields
    assert "all users" in fields
    dm = fake_slack.wait_for("chat.postMessage", lambda c: c.args.get("channel") == "DU0PRIMARY")
    assert f"INC-{n}" in dm.args["text"]
    specialists = fake_slack.wait_for("chat.postMessage", lambda c: c.args.get("channel") == "database-support")
    assert f"INC-{n}" in specialists.args["text"]

    # the page is counted once it is recorded as sent, a moment after Slack has it
    def counted() -> str | None:
        metrics = get(bot, "/metrics")[1]
        return metrics if 'alp_pages_total{result="sent",step="primary"}' in metrics else None

    metrics = wait_until(counted, timeout=10)
    assert "alp_page_lateness_seconds_count" in metrics


def test_acknowledge_button_stops_the_ladder_and_updates_the_message(bot, fake_slack):
    command(bot, fake_slack, "incident open P0 redis evictions")
    msg, n = announced(fake_slack, "redis evictions")
    fake_slack.wait_for(
        "chat.postMessage", lambda c: f"INC-{n} " in c.args.get("text", "") and "you are paged" in c.args["text"]
    )
    status, _, _ = click(bot, block_action("incident_ack", str(n), user="U0BOB"))
    assert status == 200
    update = fake_slack.wait_for(
        "chat.update",
        lambda c: (  # "acknowledged by": every state says "next page: … unless acknowledged"
            c.args.get("ts") == msg.response["ts"] and "acknowledged by" in blocks_text(c.args.get("blocks", []))
        ),
    )
    assert "U0BOB" in blocks_text(update.args["blocks"])
    assert "incident_ack" not in blocks_text(update.args["blocks"])  # no button to ack twice
    time.sleep(2.8)  # past the secondary's due time
    assert len(pages_for(fake_slack, f"INC-{n}")) == 1


def test_double_ack_click_is_answered_not_repeated(bot, fake_slack):
    command(bot, fake_slack, "incident open P2 minor slowness")
    _, n = announced(fake_slack, "minor slowness")
    click(bot, block_action("incident_ack", str(n), user="U0BOB"))
    click(bot, block_action("incident_ack", str(n), user="U0CAROL"))
    # both clicks are acked at once and handled after: either may land first; exactly one acknowledges
    eph = fake_slack.wait_for("chat.postEphemeral", lambda c: f"INC-{n}" in c.args.get("text", ""))
    assert eph.args["user"] in ("U0BOB", "U0CAROL") and "already acknowledged" in eph.args["text"]
    winner = "U0CAROL" if eph.args["user"] == "U0BOB" else "U0BOB"
    _, _body, _ = command(bot, fake_slack, f"incident show {n}")
    shown = ephemeral_reply(fake_slack, f"INC-{n}").args["text"]
    assert shown.count("acknowledged; escalation stopped") == 1 and winner in shown


def test_escalate_now_pages_the_next_step(bot, fake_slack):
    command(bot, fake_slack, "incident open P2 ml predictions slow")
    _, n = announced(fake_slack, "ml predictions slow")
    time.sleep(0.5)
    assert pages_for(fake_slack, f"INC-{n}") == []  # P2 waits two hours
    click(bot, block_action("incident_escalate", str(n)))
    fake_slack.wait_for(
        "chat.postMessage",
        lambda c: (
            f"INC-{n} " in c.args.get("text", "")
            and "you are paged" in c.args["text"]
            and "(primary)" in c.args["text"]
        ),
    )


def test_note_form_resolve_checklist_and_postmortem(bot, fake_slack):
    command(bot, fake_slack, "incident open P1 progress not saving")
    _, n = announced(fake_slack, "progress not saving")
    click(bot, block_action("incident_note", str(n)))
    form = fake_slack.wait_for("views.open")
    assert form.args["view"]["callback_id"] == "incident_note_modal"
    status, _, _ = click(
        bot,
        view_submission(
            "incident_note_modal",
            str(n),
            {"note": {"value": {"type": "plain_text_input", "value": "restarted user-service"}}},
        ),
    )
    assert status == 200
    fake_slack.wait_for("chat.postMessage", lambda c: "restarted user-service" in c.args.get("text", ""))

    click(bot, block_action("incident_resolve", str(n)))
    checklist = fake_slack.wait_for("chat.postMessage", lambda c: f"INC-{n} resolved" in c.args.get("text", ""))
    text = blocks_text(checklist.args["blocks"])
    assert "Verify all services are healthy" in text and "Schedule post-incident review" in text
    assert "incident_run_health" in text
    click(
        bot,
        block_action(
            "incident_checklist", "", block_id=f"checklist_{n}", selected=["Run smoke tests", "Clear any alerts"]
        ),
    )
    time.sleep(0.5)
    command(bot, fake_slack, f"incident postmortem {n}")
    upload = fake_slack.wait_for("upload", lambda c: f"INC-{n}" in c.args["content"])
    md = upload.args["content"]
    assert "restarted user-service" in md and "resolved" in md
    assert "- [x] Run smoke tests" in md and "- [ ] Document the incident" in md


def test_open_incident_button_under_a_finding_opens_a_prefilled_form(bot, fake_slack):
    seed = json.dumps({"summary": "kafka-lag: Consumer group user-service: STOP, lag 10", "impact": "lag"})
    click(bot, block_action("incident_open_from_finding", seed))
    form = fake_slack.wait_for("views.open", lambda c: c.args["view"]["callback_id"] == "incident_open_modal")
    summary = form.args["view"]["blocks"][0]["element"]["initial_value"]
    assert summary.startswith("kafka-lag: Consumer group user-service")
    values = {
        "summary": {"value": {"type": "plain_text_input", "value": summary}},
        "impact": {"value": {"type": "plain_text_input", "value": "progress delayed"}},
        "services": {"value": {"type": "multi_static_select", "selected_options": [{"value": "user-service"}]}},
        "priority": {"value": {"type": "static_select", "selected_option": {"value": "P2"}}},
    }
    click(bot, view_submission("incident_open_modal", "C0ONCALL", values))
    msg, _ = announced(fake_slack, "Consumer group user-service: STOP")
    assert "progress delayed" in blocks_text(msg.args["blocks"])


def test_checks_in_the_incident_channel_become_steps_taken(bot, fake_slack):
    command(bot, fake_slack, "incident open P2 check linking", channel="C0LINK")
    _, n = announced(fake_slack, "check linking")
    command(bot, fake_slack, "check redis", channel="C0LINK")
    fake_slack.wait_for(
        "chat.update", lambda c: "redis:" in blocks_text(c.args.get("blocks", [])) and c.args.get("channel") == "C0LINK"
    )
    time.sleep(0.3)
    click(bot, block_action("incident_escalate", str(n), channel="C0LINK"))
    page = fake_slack.wait_for(
        "chat.postMessage", lambda c: f"INC-{n} " in c.args.get("text", "") and "you are paged" in c.args["text"]
    )
    assert "check redis" in blocks_text(page.args["blocks"])


def test_oncall_and_list(bot, fake_slack):
    _, body, _ = command(bot, fake_slack, "oncall")
    text = json.loads(body)["text"]
    assert "devops-oncall" in text and "platform-oncall" in text and "Manager" in text
    command(bot, fake_slack, "incident list")
    assert "INC-" in ephemeral_reply(fake_slack, "INC-").args["text"]


def test_unknown_incident_subcommand_gets_usage(bot, fake_slack):
    _, body, _ = command(bot, fake_slack, "incident opne P1 x")
    assert "Did you mean `open`" in json.loads(body)["text"]


def test_checklist_buttons_run_health_and_upload_the_postmortem(bot, fake_slack):
    command(bot, fake_slack, "incident open P2 button checks", channel="C0BTN")
    _, n = announced(fake_slack, "button checks")
    click(bot, block_action("incident_resolve", str(n), channel="C0BTN"))
    fake_slack.wait_for("chat.postMessage", lambda c: f"INC-{n} resolved" in c.args.get("text", ""))

    click(bot, block_action("incident_run_health", str(n), channel="C0BTN"))
    fake_slack.wait_for(
        "chat.update",
        lambda c: c.args.get("channel") == "C0BTN" and "health:" in blocks_text(c.args.get("blocks", [])),
    )

    def shown() -> bool:  # the run is recorded on the incident just after its report is posted
        command(bot, fake_slack, f"incident show {n}", channel="C0BTN")
        replies = [c.args.get("text", "") for c in fake_slack.called("response_url")]
        return any(f"INC-{n}" in t and "check health:" in t for t in replies)

    wait_until(shown, timeout=10, interval=0.5)  # the verification run joined the incident's record

    click(bot, block_action("incident_postmortem", str(n), channel="C0BTN"))
    upload = fake_slack.wait_for("upload", lambda c: f"Postmortem draft: INC-{n}" in c.args["content"])
    assert "check health:" in upload.args["content"]


def test_incident_without_arguments_opens_the_form(bot, fake_slack):
    status, _, _ = command(bot, fake_slack, "incident", channel="C0FORM")
    assert status == 200
    form = fake_slack.wait_for("views.open", lambda c: c.args["view"]["callback_id"] == "incident_open_modal")
    assert form.args["trigger_id"] == "1337.42.abcd" and form.args["view"]["private_metadata"] == "C0FORM"
    labels = [b["label"]["text"] for b in form.args["view"]["blocks"]]
    assert labels == ["Summary", "Impact (services and users affected)", "Affected services", "Priority"]
