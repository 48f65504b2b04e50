"""A new service and a new symptom added by a runbook file only, end to end through Slack: the check,
its remedy button, the preview, the confirmation, the audit; and a change on disk reloaded without a
restart, a bad change refused with the old set kept (on /readyz)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from scripts.world.kube import PLATFORM, deployment, make_pod
from tests.support.bot_env import ACTIONS_ENV, BOT_TOKEN, SIGNING_SECRET
from tests.support.processes import BotProcess, wait_until
from tests.support.signing import block_action, signed_headers, slash_command
from tests.support.slack_requests import blocks_text, click, command, confirmation, get, post, updated


def audit(bot, fake_slack) -> str:  # type: ignore[no-untyped-def]
    rid = f"audit-{time.monotonic_ns()}"
    body = slash_command("audit 50", fake_slack.response_url(rid))
    post(bot, body, signed_headers(SIGNING_SECRET, body))  # acked at once; the records come through response_url
    return str(fake_slack.wait_for("response_url", lambda c: c.args.get("rid") == rid).args["text"])


BILLING = """\
services:
  - {name: billing-service, port: 3010}
symptoms:
  - name: billing-webhooks
    title: Payment webhooks failing
    section: "Payment webhooks (lessons learned)"
    services: [billing-service]
    probes:
      - id: pods
        kind: pods
        selector: app=billing-service
        critical: 1
      - id: errors
        kind: logs
        selector: app=billing-service
        pattern: 'webhook .* failed'
        levels: [ERROR]
        warning: 1
    remedies:
      - action: restart
        params: {deployment: "{{pods.deployment}}"}
        when: [pods]
        why: the webhook worker is stuck
"""


@pytest.fixture
def billing(kube_admin, kubelet) -> Iterator[str]:
    """A billing-service deployment the world does not have, with one pod crash-looping and failing webhooks."""
    apps, core = client.AppsV1Api(kube_admin), client.CoreV1Api(kube_admin)
    apps.create_namespaced_deployment(PLATFORM, deployment("billing-service", 3010))
    pod = "billing-service-7f9c-x1"
    make_pod(kube_admin, PLATFORM, pod, "billing-service", ready=False, restarts=5, waiting="CrashLoopBackOff")
    kubelet.logs[(PLATFORM, pod)] = "ERROR webhook delivery failed: stripe 502\n" * 3
    yield pod
    core.delete_namespaced_pod(pod, PLATFORM, grace_period_seconds=0)
    apps.delete_namespaced_deployment("billing-service", PLATFORM)


@pytest.fixture
def runbook_bot(testbed, fake_slack, platform, kube_admin, tmp_path: Path) -> Iterator[tuple[BotProcess, Path]]:
    from tests.support.k8s_world import SERVICES

    rb = tmp_path / "runbook"
    rb.mkdir()
    (rb / "billing.yaml").write_text(BILLING)
    services = [{"name": n, "port": p, "url": f"{platform.base}/svc/{n}"} for n, p in SERVICES.items()]
    proc = BotProcess(
        {
            **testbed,
            "ALP_PLATFORM__SERVICES": json.dumps(services),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
            "ALP_TIMEOUTS__PROBE_S": "3",
            **ACTIONS_ENV,
            "ALP_RUNBOOK_DIR": str(rb),
            "ALP_RUNBOOK_POLL_S": "0.3",
            "ALP_STATE_URL": f"sqlite:///{tmp_path}/alp-state.db",
        },
        log_path=tmp_path / "bot.log",
    ).start()
    yield proc, rb
    proc.stop()


def test_a_symptom_from_a_file_is_checked_remedied_and_audited_through_slack(runbook_bot, fake_slack, billing):
    bot, _ = runbook_bot
    fake_slack.usergroups["S0SRE"] = ["U0CAROL"]
    _, body, _ = command(bot, fake_slack, "help")
    assert "billing-webhooks" in json.loads(body)["text"]  # /alp help lists it
    command(bot, fake_slack, "check billing-webhooks", user="U0CAROL")
    report = fake_slack.wait_for(
        "chat.update",
        lambda c: (
            "alp_action_request" in blocks_text(c.args.get("blocks", []))
            and "billing-service" in blocks_text(c.args.get("blocks", []))
        ),
    )
    text = blocks_text(report.args["blocks"])
    assert "1 of 1 pod(s) not running/ready (app=billing-service" in text
    assert "3 line(s) matching" in text, text
    value = next(
        e["value"]
        for b in report.args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].startswith("alp_action_request")
    )
    click(bot, block_action("alp_action_request:0", value, user="U0CAROL", message_ts=report.args["ts"]))
    msg, buttons = confirmation(fake_slack, "restart deployment=billing-service")
    assert "billing-service" in blocks_text(msg.args["blocks"])  # the preview names what changes
    click(bot, block_action("alp_action_confirm", buttons["alp_action_confirm"], user="U0CAROL"))
    updated(fake_slack, msg, "restarted deployment/billing-service")
    log = audit(bot, fake_slack)
    assert "restart" in log and "outcome" in log and "U0CAROL" in log


def test_a_changed_file_is_reloaded_and_a_bad_one_refused_keeping_the_set(runbook_bot, fake_slack):
    bot, rb = runbook_bot
    (rb / "billing.yaml").write_text(BILLING.replace("billing-webhooks", "billing-payouts"))

    def help_lists(name: str) -> bool:
        return name in json.loads(command(bot, fake_slack, "help")[1])["text"]

    wait_until(lambda: help_lists("billing-payouts"), timeout=40)
    assert not help_lists("billing-webhooks")
    (rb / "billing.yaml").write_text(BILLING.replace("kind: logs", "kind: log"))
    wait_until(
        lambda: "last_reload_refused" in get(bot, "/readyz")[1] and "unknown probe kind" in get(bot, "/readyz")[1],
        timeout=15,
    )
    ready = json.loads(get(bot, "/readyz")[1])
    assert ready["runbook"]["symptoms"] == ["billing-payouts"]
    assert any("billing.yaml:" in p and "`log`" in p for p in ready["runbook"]["last_reload_refused"])
    time.sleep(0.5)
    assert help_lists("billing-payouts")  # the old set is still in force
