"""The environment the tests give `alp-bot`: secrets, fast escalation timings, permissions."""

from __future__ import annotations

import re

SIGNING_SECRET = "test-signing-secret"


# Seconds, not minutes: P0 pages at once, P1 after 2 s, then a step every 2 s.
ESCALATION_ENV = {
    "ALP_ESCALATION__P0_FIRST_PAGE_S": "0",
    "ALP_ESCALATION__P1_FIRST_PAGE_S": "2",
    "ALP_ESCALATION__P2_FIRST_PAGE_S": "3600",
    "ALP_ESCALATION__STEP_WAIT_S": "2",
    "ALP_ESCALATION__ACK_TIMEOUT_S": "0",
    "ALP_ESCALATION__PAGE_BACKOFF_S": "0.1",
    "ALP_ESCALATION__LEADER_POLL_S": "0.3",
    "ALP_ESCALATION__ONCALL__PRIMARY": "<!subteam^S0DEVOPS|devops-oncall>",
    "ALP_ESCALATION__ONCALL__PRIMARY_USERS": '["U0PRIMARY"]',
}


BOT_TOKEN = "xoxb-test-token"


# Alice and Bob may do anything; the SRE user group (Carol) disruptive; everyone safe; Mallory nothing more.
ACTIONS_ENV = {
    "ALP_ACTIONS__PERMISSIONS": '{"safe": ["*"], "disruptive": ["S0SRE"], "destructive": ["U0ALICE", "U0BOB"]}',
    "ALP_ACTIONS__APPROVAL_TIMEOUT_S": "4",
    "ALP_ACTIONS__GROUP_CACHE_S": "0",
    "ALP_ACTIONS__MIN_REPLICAS": "0",  # the test world runs no pods: undoing a scale goes back to 0
}


def bot_env(testbed, fake_slack, platform, state_url: str, **over: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        **testbed,
        **ESCALATION_ENV,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "ALP_STATE_URL": state_url,
        "ALP_ESCALATION__STEP_WAIT_S": "3",
        "ALP_ESCALATION__PAGER_WEBHOOK_URL": f"{platform.base}/pager/v2/enqueue",
        "ALP_ESCALATION__LEADER_LEASE_S": "2",
        "ALP_ESCALATION__PAGE_ATTEMPT_TIMEOUT_S": "1",  # a crashed attempt is retried after 2 s
        **over,
    }


def opened_ref(fake_slack, summary: str) -> str:  # type: ignore[no-untyped-def]
    msg = fake_slack.wait_for(
        "chat.postMessage", lambda c: summary in c.args.get("text", "") and "INC-" in c.args.get("text", "")
    )
    return re.search(r"INC-\d+", msg.args["text"]).group(0)  # type: ignore[union-attr]
