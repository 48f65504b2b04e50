"""Alert received -> findings posted, over a storm of 500 alerts in 50 groups.

Starts a real alp-bot against the test bed and the fake Slack. Two ways in:

- `direct`: the benchmark plays Alertmanager and POSTs the 50 groups' webhooks (10 alerts
  each) at once; latency is from each POST to that group's message with the routed check's
  findings at the fake Slack.
- `alertmanager`: the 500 alerts go to the test bed's real Alertmanager (group_wait 1 s), which
  notifies the bot; latency is from the alerts' POST to Alertmanager to each group's message.

Each at Slack's pace (1 message/s per channel after a burst of 5: what a real workspace
allows) and unpaced (the pipeline's own cost). Also counts check runs (identical routed
checks share one) and times a slash command's ack during the storm.
Run: scripts/testbed up && .venv/bin/python -m bench.alert_storm
"""

from __future__ import annotations

import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from bench.common import summary, testbed_env
from tests.support import alertmanager as am
from tests.support.bot_env import BOT_TOKEN, SIGNING_SECRET
from tests.support.processes import BotProcess
from tests.support.slack_fake import FakeSlack
from tests.support.slack_requests import command, get

GROUPS, PER_GROUP = 50, 10


def start(slack: FakeSlack, rate: float, state_dir: str) -> BotProcess:
    route = {"match": {"alertname": "~Storm.*"}, "check": "redis", "priority": "P2", "channel": "C0STORM"}
    return BotProcess(
        {
            **testbed_env(),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "ALP_STATE_URL": f"sqlite:///{state_dir}/alp-state-{uuid.uuid4().hex[:6]}.db",
            "ALP_ALERTMANAGER__WEBHOOK_TOKEN": am.TOKEN,
            "ALP_ALERTMANAGER__ROUTES": json.dumps([route]),
            "ALP_ALERTMANAGER__POST_RATE_PER_S": str(rate),
            "ALP_KAFKA_LAG__WATCH_INTERVAL_S": "0",
            "ALP_ESCALATION__P2_FIRST_PAGE_S": "3600",
        }
    ).start()


def alerts(name: str) -> list[dict[str, object]]:
    return [
        {"labels": {"alertname": name, "group": f"g{g:02d}", "pod": f"p{i}"}, "annotations": {"summary": "storm"}}
        for g in range(GROUPS)
        for i in range(PER_GROUP)
    ]


def posted_at(slack: FakeSlack, name: str, timeout: float) -> dict[str, float]:
    """group label -> when its first message reached Slack (monotonic)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got: dict[str, float] = {}
        for c in slack.called("chat.postMessage"):
            text = c.args.get("text", "")
            if c.args.get("channel") == "C0STORM" and "FIRING" in text and name in text and not c.args.get("thread_ts"):
                m = re.search(r"group=(g\d\d)", json.dumps(c.args["blocks"]))
                if m:
                    got.setdefault(m.group(1), c.at)
        if len(got) >= GROUPS:
            return got
        time.sleep(0.2)
    raise SystemExit(f"only {len(got)} of {GROUPS} group messages within {timeout:.0f}s")


def run(mode: str, rate: float, state_dir: str) -> None:
    slack = FakeSlack().start()
    bot = start(slack, rate, state_dir)
    env = testbed_env()
    name = f"Storm{uuid.uuid4().hex[:8]}"
    batch = alerts(name)
    try:
        sent: dict[str, float] = {}
        if mode == "direct":

            def one(g: int) -> None:
                mine = batch[g * PER_GROUP : (g + 1) * PER_GROUP]
                body = json.dumps(am.payload(f'{{}}:{{alertname="{name}", group="g{g:02d}"}}', mine)).encode()
                sent[f"g{g:02d}"] = time.monotonic()
                status, _ = am.post_webhook(bot.url, body, am.TOKEN)
                assert status == 200

            with ThreadPoolExecutor(16) as pool:
                list(pool.map(one, range(GROUPS)))
        else:
            am.point_at(env["ALP_ALERTMANAGER__URL"], env["ALP_TESTBED_ALERTMANAGER_CONFIG"], bot.url)
            t0 = time.monotonic()
            am.fire(env["ALP_ALERTMANAGER__URL"], batch)
            sent = {f"g{g:02d}": t0 for g in range(GROUPS)}
        _, _, ack = command(bot, slack, "check redis", channel="C0ONCALL")
        got = posted_at(slack, name, timeout=300)
        lat = [got[g] - sent[g] for g in got]
        _, metrics = get(bot, "/metrics")
        runs = [line for line in metrics.splitlines() if line.startswith("alp_alert_checks_total{")]
        pace = "Slack's pace (1/s per channel, burst 5)" if rate <= 1 else "unpaced"
        print(f"{mode:13} {pace:40} alert -> findings posted: {summary(lat, 's', 1)}")
        print(f"{'':13} slash command ack during the storm: {ack * 1000:.0f} ms; checks: {'; '.join(runs)}")
        if mode == "alertmanager":
            am.resolve(env["ALP_ALERTMANAGER__URL"], batch)
    finally:
        bot.stop()
        slack.stop()


def main() -> None:
    """`python -m bench.alert_storm [direct|alertmanager] [RATE]`: one run; no arguments: all four."""
    import sys
    import tempfile

    modes = [sys.argv[1]] if len(sys.argv) > 1 else ["direct", "alertmanager"]
    rates = [float(sys.argv[2])] if len(sys.argv) > 2 else [1000.0, 1.0]
    with tempfile.TemporaryDirectory() as state_dir:
        for mode in modes:
            for rate in rates:
                run(mode, rate, state_dir)


if __name__ == "__main__":
    main()
