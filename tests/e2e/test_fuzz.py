"""Seeded fuzz of the running bot: thousands of odd `/alp` texts and interaction payloads.

Every request must be acknowledged (HTTP 200 within Slack's 3 s), every slash command answered
(in the ack, through `response_url` or in its channel), and the bot's log must hold no
traceback and no unhandled error. Texts that would run a real check, a real remediation or open
a real incident are left out (they are tested elsewhere); what remains is the parsing, the
usage replies, the refusals and every handler's reading of its payload. Bounded to about a
minute on two cores.
"""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote

import pytest

import commands.checks  # noqa: F401  (registers the check targets)
from bot.router import CheckCommand, DoCommand, IncidentCommand, parse
from commands.actions.runner import find, validate
from commands.params import UsageError
from tests.support.bot_env import SIGNING_SECRET
from tests.support.processes import LoggedBot
from tests.support.signing import interaction, signed_headers, slash_command
from tests.support.slack_requests import post

SEED = 20261129
TEXTS = 2400
PAYLOADS = 900
WORKERS = 8
BUDGET_S = 75

WORDS = [
    "help", "health", "check", "do", "audit", "incident", "oncall", "chekc", "hlep", "HELP", "Check", "kafka-lag",
    "redis", "deadlocks", "ack", "show", "note", "list", "resolve", "escalate", "postmortem", "open", "scale",
    "restart", "set-config", "reset-offsets", "flush-cache", "do scale user-service", "do add-partitions t",
    "do terminate-queries", "do block-ips", "do rate-limit", "replicas=", "pids=", "--group", "--incident", "--samples", "--limit",
    "--pattern", "--user", "--impact", "--services", "INC-", "P3", "p1x",
]  # fmt: skip
ODD = [
    "²", "①", "٣", "\uff11\uff12", "Ⅻ", "-1", "0", "00", "1e9", "NaN", "inf", "9" * 25, "1" + "0" * 4400, "0x1f", "3.5",
    "<!channel>", "<!here>", "<@U0BOSS>", "<https://evil.example|x>", "```", "`", "&amp;", "*bold*", "_", "~",
    "'", '"', "\\", "'unterminated", '"unterminated', "a=b", "=", "==", "k=", "=v", "--", "-", "--incident=",
    "\u202e", "\u200b", "😀", "日本語", "ä", "\x00", "\t", "\n", " " * 5, "x" * 3000, "%s", "{}", "{{", "$(id)",
    "DB_PASSWORD=hunter2", "https://u:p@h", "xoxb-1-2-abc", "null", "None", "[]",
]  # fmt: skip
ACTION_IDS = [
    "alp_action_confirm", "alp_action_cancel", "alp_action_approve", "alp_action_request:0", "alp_action_request",
    "alp_action_undo", "incident_ack", "incident_escalate", "incident_resolve", "incident_note", "incident_checklist",
    "incident_postmortem", "incident_open_from_finding", "no_such_button", "",
]  # fmt: skip
CALLBACKS = ["alp_action_modal", "incident_note_modal", "incident_open_modal", "no_such_form", ""]


def odd_value(rnd: random.Random) -> Any:
    return rnd.choice(
        [
            rnd.choice(ODD),
            rnd.choice(WORDS),
            str(rnd.randint(-(10**30), 10**30)),
            "".join(chr(rnd.randint(32, 0x2FFF)) for _ in range(rnd.randint(0, 40))),
            json.dumps({"a": rnd.choice(WORDS), "p": {rnd.choice(WORDS): rnd.choice(ODD)}, "c": rnd.choice(ODD)}),
            "eyJyIjoxLCJzIjoiY29uZmlybSJ9.0123456789abcdef0123456789abcdef",
            None,
            rnd.randint(-5, 10**20),
            [rnd.choice(ODD)],
            {"value": rnd.choice(ODD)},
        ]
    )


def text_of(rnd: random.Random) -> str:
    parts = [rnd.choice(WORDS if rnd.random() < 0.6 else ODD) for _ in range(rnd.randint(0, 6))]
    return " ".join(parts)[: rnd.choice([40, 400, 5000])]


def runs_something_real(text: str) -> bool:
    """A real check, remediation preview or incident: tested elsewhere, too slow for a fuzz.
    A remediation whose parameters are refused (`do scale x ²`) stays in: that is a reply."""
    try:
        request = parse(text)
        if isinstance(request, DoCommand):
            validate(find(request.action), request.raw)
    except UsageError:
        return False
    except Exception:  # the router must never raise anything else: the fuzz below would say so
        return False
    return isinstance(request, CheckCommand | DoCommand) or (
        isinstance(request, IncidentCommand) and request.priority is not None
    )


def payload_of(rnd: random.Random, i: int, response_url: str) -> dict[str, Any]:
    user = {"id": rnd.choice(["U0ALICE", "U0MALLORY", "", "W0X"]), "team_id": "T0001"}
    if rnd.random() < 0.7:
        action: dict[str, Any] = {
            "action_id": rnd.choice(ACTION_IDS),
            "block_id": str(odd_value(rnd)),
            "type": "button",
        }
        if rnd.random() < 0.85:
            action["value"] = odd_value(rnd)
        if rnd.random() < 0.2:
            action["selected_options"] = [{"value": odd_value(rnd)}]
        return {
            "type": "block_actions",
            "user": user,
            "team": {"id": "T0001"},
            "trigger_id": "1.2.3",
            "channel": {"id": f"CFZ{i}"},
            "container": {"type": "message", "message_ts": str(odd_value(rnd)), "channel_id": f"CFZ{i}"},
            "response_url": response_url,
            "actions": [action],
        }
    values: dict[str, Any] = {
        str(rnd.choice(WORDS)): {"value": {"value": odd_value(rnd), "selected_option": {"value": rnd.choice(ODD)}}}
        for _ in range(rnd.randint(0, 4))
    }
    if rnd.random() < 0.5:
        values["summary"] = {"value": {"value": odd_value(rnd)}}
    return {
        "type": "view_submission",
        "user": user,
        "team": {"id": "T0001"},
        "trigger_id": "1.2.3",
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": rnd.choice(CALLBACKS),
            "private_metadata": str(odd_value(rnd))
            if rnd.random() < 0.8
            else json.dumps({"a": "scale", "p": {}, "c": f"CFZ{i}"}),
            "state": {"values": values} if rnd.random() < 0.9 else odd_value(rnd),
        },
    }


@pytest.mark.slow
def test_fuzzed_commands_and_interactions_are_acknowledged_answered_and_leave_no_traceback(
    lbot: LoggedBot,
    fake_slack,
):
    rnd = random.Random(SEED)
    texts: list[str] = []
    while len(texts) < TEXTS:
        t = text_of(rnd)
        if not runs_something_real(t):
            texts.append(t)
    payloads = [payload_of(rnd, TEXTS + i, fake_slack.response_url(f"fz{TEXTS + i}")) for i in range(PAYLOADS)]
    bodies = [slash_command(t, fake_slack.response_url(f"fz{i}"), channel=f"CFZ{i}") for i, t in enumerate(texts)]
    bodies += [interaction(p) for p in payloads]
    started = time.monotonic()

    def send(body: str) -> tuple[int, str, float]:
        return post(lbot.proc, body, signed_headers(SIGNING_SECRET, body))

    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(send, bodies))
    took = sorted(r[2] for r in results)
    print(f"ack times: median {took[len(took) // 2]:.3f}s, p99 {took[len(took) * 99 // 100]:.3f}s, max {took[-1]:.3f}s")
    slow = [(unquote(bodies[i])[-700:], r) for i, r in enumerate(results) if r[0] != 200 or r[2] >= 3]
    assert not slow, slow[:5]

    def answered(i: int) -> bool:
        if results[i][1].strip():
            return True
        rid, channel = f"fz{i}", f"CFZ{i}"
        return any(c.args.get("rid") == rid or c.args.get("channel") == channel for c in fake_slack.calls) or any(
            channel in str(c.args.get("view")) for c in fake_slack.called("views.open")
        )

    deadline = time.monotonic() + 30
    unanswered = [i for i in range(TEXTS) if not answered(i)]
    while unanswered and time.monotonic() < deadline:
        time.sleep(0.5)
        unanswered = [i for i in unanswered if not answered(i)]
    assert not unanswered, [texts[i][:200] for i in unanswered[:10]]
    log = lbot.text()
    assert "Traceback" not in log and "unhandled" not in log.lower(), log[-4000:]
    assert time.monotonic() - started < BUDGET_S
