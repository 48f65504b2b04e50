"""A soak: one alp-bot against the test bed, driven for `--minutes` (default 30); does memory stay flat?

Every 2 s a slash command from a rotation (kafka-lag on a lagging group, redis, health, logs,
help, audit), every 10 s an Alertmanager notification routed to a check (firing, then resolved),
every 20 s a click (the lag report's reset-offsets button, then Cancel on its confirmation).
Every minute one line: the machine's load, the bot's RSS (its own process, and its worker
processes), open file descriptors, asyncio tasks and the worst event-loop lag of the minute
(`alp_event_loop_*` on /metrics), the commands sent and the slowest ack. At the end: RSS
after warm-up (the first `--warmup` minutes), first to last minute, and whether it stayed
within 10 %; the bot's log is kept (its path is printed) and searched for stalls and unclosed
connections.

Run: scripts/testbed up && .venv/bin/python -m bench.soak [--minutes 30] [--warmup 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil

from bench.common import testbed_env
from tests.support import alertmanager as am
from tests.support.bot_env import BOT_TOKEN, SIGNING_SECRET
from tests.support.kafka import commit, create_topic, produce
from tests.support.processes import BotProcess
from tests.support.signing import block_action, signed_headers, slash_command
from tests.support.slack_fake import FakeSlack
from tests.support.slack_requests import click, get, post

ROUTE = {"match": {"alertname": "~Soak.*"}, "check": "redis", "priority": "P2", "channel": "C0SOAK"}


def metric(text: str, name: str) -> float:
    m = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)
    return float(m[1]) if m else float("nan")


class Driver:
    """Commands, alerts and clicks on their intervals, in a thread; acks timed."""

    def __init__(self, bot: BotProcess, slack: FakeSlack, group: str) -> None:
        self.bot, self.slack, self.group = bot, slack, group
        self.sent, self.acks, self.errors = 0, [0.0], 0
        self.stop = threading.Event()
        words = [f"check kafka-lag --group {group}", "check redis", "health", "logs auth-service", "help", "audit"]
        self.rotation = words

    def command(self, text: str, channel: str = "C0SOAK") -> None:
        body = slash_command(text, self.slack.response_url(uuid.uuid4().hex[:8]), channel=channel)
        status, _, took = post(self.bot, body, signed_headers(SIGNING_SECRET, body))
        self.sent += 1
        self.acks.append(took)
        self.errors += status != 200

    def alert(self, i: int) -> None:
        name = f"Soak{i % 5}"  # five alert groups, each firing then resolved
        alerts = [{"labels": {"alertname": name, "pod": "p0"}, "annotations": {"summary": "soak"}}]
        status = "firing" if i // 5 % 2 == 0 else "resolved"
        body = json.dumps(am.payload(f'{{}}:{{alertname="{name}"}}', alerts, status)).encode()
        code, _ = am.post_webhook(self.bot.url, body, am.TOKEN)
        self.errors += code != 200

    def click(self) -> None:
        """The last lag report's reset-offsets button, then Cancel."""
        for c in reversed(self.slack.called("chat.update")):
            for b in c.args.get("blocks", []):
                for e in b.get("elements", []) if b.get("type") == "actions" else []:
                    if e.get("action_id", "").startswith("alp_action_request"):
                        click(self.bot, block_action(e["action_id"], e["value"], channel=c.args["channel"]))
                        self.sent += 1
                        return

    def run(self) -> None:
        i = 0
        while not self.stop.wait(2.0):
            try:
                self.command(self.rotation[i % len(self.rotation)])
                if i % 5 == 0:
                    self.alert(i // 5)
                if i % 10 == 0:
                    self.click()
                    self.slack.reset()  # the fake's own record of calls must not grow for 30 minutes
            except OSError:
                self.errors += 1
            i += 1


def sample(bot: BotProcess) -> dict[str, float]:
    assert bot.proc is not None
    proc = psutil.Process(bot.proc.pid)
    workers = proc.children(recursive=True)
    _, text = get(bot, "/metrics")
    return {
        "rss": proc.memory_info().rss / 2**20,
        "workers_rss": sum(w.memory_info().rss for w in workers) / 2**20,
        "fds": proc.num_fds(),
        "tasks": metric(text, "alp_event_loop_tasks"),
        "lag": metric(text, "alp_event_loop_lag_seconds"),
        "cpu": sum(proc.cpu_times()[:2]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=5)
    args = ap.parse_args()
    env = testbed_env()
    group = f"soak{uuid.uuid4().hex[:6]}"
    bootstrap = env["ALP_KAFKA_BOOTSTRAP"]

    async def lagging() -> None:
        await create_topic(bootstrap, group, 2)
        await produce(bootstrap, group, {0: 12, 1: 8})
        await commit(bootstrap, group, group, {0: 2, 1: 8})

    asyncio.run(lagging())
    work = Path(tempfile.mkdtemp(prefix="alp-soak-"))
    slack = FakeSlack().start()
    bot = BotProcess(
        {
            **env,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "ALP_STATE_URL": f"sqlite:///{work}/alp-state.db",
            "ALP_ALERTMANAGER__WEBHOOK_TOKEN": am.TOKEN,
            "ALP_ALERTMANAGER__ROUTES": json.dumps([ROUTE]),
            "ALP_KAFKA_LAG__SAMPLES": "2",
            "ALP_KAFKA_LAG__INTERVAL_S": "0.5",
            "ALP_ESCALATION__P2_FIRST_PAGE_S": "3600",  # an alert's incident pages nobody during the soak
        },
        log_path=work / "bot.log",
    ).start()
    driver = Driver(bot, slack, group)
    thread = threading.Thread(target=driver.run, daemon=True)
    print(
        f"soak: {args.minutes:g} min, bot pid {bot.proc.pid if bot.proc else '?'}, log {work / 'bot.log'}", flush=True
    )
    print("min  load1  rss_MB  workers_MB  fds  tasks  loop_lag_s  cpu_s  sent  worst_ack_s  errors", flush=True)
    rows: list[dict[str, float]] = []
    thread.start()
    try:
        for minute in range(1, int(args.minutes) + 1):
            time.sleep(60)
            s = sample(bot)
            rows.append(s)
            worst, driver.acks = max(driver.acks), [0.0]
            print(
                f"{minute:3d}  {os.getloadavg()[0]:5.1f}  {s['rss']:6.1f}  {s['workers_rss']:10.1f}  {s['fds']:3.0f}  "
                f"{s['tasks']:5.0f}  {s['lag']:10.3f}  {s['cpu']:5.0f}  {driver.sent:4d}  {worst:11.2f}  "
                f"{driver.errors:6d}",
                flush=True,
            )
    finally:
        driver.stop.set()
        thread.join(15)
        bot.stop()
        slack.stop()
    after = rows[int(args.warmup) :] or rows
    first, last = after[0]["rss"], after[-1]["rss"]
    growth = (last - first) / first
    print(
        f"RSS after {args.warmup:g} min warm-up: {first:.1f} -> {last:.1f} MB ({growth:+.1%}, "
        f"{(last - first) / max(1, len(after) - 1):+.2f} MB/min); max {max(r['rss'] for r in after):.1f} MB: "
        + ("flat (within 10 %)" if abs(growth) <= 0.10 else "NOT flat")
    )
    log = (work / "bot.log").read_text()
    print(
        f"bot log: {log.count('event loop stalled')} stall(s) reported, "
        f"{log.count('Unclosed AIOKafkaConnection')} unclosed Kafka connection(s), {log.count('Traceback')} traceback(s)"
    )


if __name__ == "__main__":
    main()
