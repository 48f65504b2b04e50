"""An alert's message with its graph: webhook -> the group's message and its chart in Slack, and the
bot's memory after 200 graphs.

Starts a real alp-bot against the test bed (its real Prometheus, scraping the platform stand-in) and
the fake Slack; the benchmark plays Alertmanager and POSTs webhooks straight to the bot (a real
Alertmanager adds its own `group_wait`, which is not alp's cost). Each group is one alert of the
bed's rule `HighResponseTime` (its `generatorURL` names the bed's Prometheus, `g0.expr` the rule's
expression over the stand-in's histograms) under its own alertname, with no route (no check runs:
the figures are the message and the graph), unpaced (Slack's 1 message/s per channel is not alp's
cost).

- latency: one group at a time (`--samples`, 10 by default), from the POST to the message at the
  fake Slack, and to the PNG in its thread (what the engineer sees: the chart);
- baseline: `curl` of Prometheus' `/api/v1/query_range` for the same expression over the same
  window (the runbook's "Check monitoring dashboards" is Grafana, which asks the same API): the
  query alone, without a picture;
- memory: the bot's RSS (psutil), and its worker processes' (charts are drawn there), after the
  timed groups and after 200 graphs (sent 20 at a time, each wave awaited), with the CPU seconds
  of the bot and its workers per graph beside the wall time and the load.

Every chart must decode as a PNG (asserted). Run: .venv/bin/python -m bench.alert_graph [--graphs 200]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import psutil

from bench.common import summary, testbed_env
from bench.graph import curl_range
from tests.support import alertmanager as am
from tests.support.bot_env import BOT_TOKEN, SIGNING_SECRET
from tests.support.processes import BotProcess
from tests.support.slack_fake import FakeSlack

EXPR = "histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket[30s]))) > 0.5"
WAVE = 20


def start(slack: FakeSlack, state_dir: str) -> BotProcess:
    return BotProcess(
        {
            **testbed_env(),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "ALP_STATE_URL": f"sqlite:///{state_dir}/alp-state.db",
            "ALP_ALERTMANAGER__WEBHOOK_TOKEN": am.TOKEN,
            "ALP_ALERTMANAGER__CHANNEL": "C0GRAPHS",
            "ALP_ALERTMANAGER__POST_RATE_PER_S": "1000",
            "ALP_ALERTMANAGER__POST_BURST": "1000",
            "ALP_KAFKA_LAG__WATCH_INTERVAL_S": "0",
        }
    ).start()


def body(env: dict[str, str], name: str) -> bytes:
    url = f"{env['ALP_PROMETHEUS__URL']}/graph?g0.expr={quote(EXPR)}&g0.tab=1"
    alert = {
        "labels": {"alertname": name, "service": "auth-service", "severity": "warning"},
        "annotations": {"summary": "auth-service p95 response time above 500ms"},
        "generatorURL": url,
    }
    return json.dumps(am.payload(f'{{}}:{{alertname="{name}"}}', [alert])).encode()


def graphed(slack: FakeSlack, name: str) -> tuple[float, float] | None:
    """(when the group's message reached Slack, when its PNG did), monotonic; None until both have."""
    msg = next(
        (
            c
            for c in slack.called("chat.postMessage")
            if name in c.args.get("text", "") and not c.args.get("thread_ts") and c.response.get("ok")
        ),
        None,
    )
    if msg is None:
        return None
    ts = msg.response["ts"]
    for c in slack.called("files.completeUploadExternal"):
        if c.args.get("thread_ts") == ts:
            ids = [f["id"] for f in c.args.get("files") or []]
            if all(slack.uploaded.get(i, b"").startswith(b"\x89PNG") for i in ids) and ids:
                return msg.at, c.at
    return None


def wait_graphed(slack: FakeSlack, names: list[str], timeout: float = 120) -> dict[str, tuple[float, float]]:
    end = time.monotonic() + timeout
    got: dict[str, tuple[float, float]] = {}
    while time.monotonic() < end:
        for n in names:
            if n not in got and (g := graphed(slack, n)):
                got[n] = g
        if len(got) == len(names):
            return got
        time.sleep(0.05)
    raise SystemExit(f"only {len(got)} of {len(names)} groups graphed within {timeout:.0f}s")


def curl(env: dict[str, str], window_s: float = 3600, points: int = 240) -> float:
    """The baseline: `curl` of the alert expression's range query over `window_s` in `points` steps."""
    end = datetime.now(UTC)
    return curl_range(env, EXPR.rsplit(" > ", 1)[0], end - timedelta(seconds=window_s), end, window_s / points)


def cpu_s(p: psutil.Process) -> float:
    """CPU seconds of the bot and its worker processes (charts are drawn there)."""
    total = 0.0
    for q in [p, *p.children(recursive=True)]:
        try:
            t = q.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system
    return total


def rss(p: psutil.Process) -> tuple[int, int]:
    """(the bot's own RSS, its worker processes' together), bytes."""
    workers = 0
    for q in p.children(recursive=True):
        try:
            workers += q.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return p.memory_info().rss, workers


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--samples", type=int, default=10, help="groups timed one at a time")
    parser.add_argument("--graphs", type=int, default=200, help="graphs before the memory is read")
    args = parser.parse_args()
    env = testbed_env()
    run = uuid.uuid4().hex[:6]
    load_before = os.getloadavg()[0]
    t_start = time.monotonic()
    slack = FakeSlack().start()
    with tempfile.TemporaryDirectory() as tmp:
        bot = start(slack, tmp)
        try:
            assert bot.proc is not None
            proc = psutil.Process(bot.proc.pid)
            baseline = [curl(env) for _ in range(args.samples)]
            to_message, to_graph = [], []
            count = 0
            for _ in range(args.samples):
                name = f"BenchGraph{run}n{count}"
                count += 1
                t0 = time.monotonic()
                status, _ = am.post_webhook(bot.url, body(env, name), am.TOKEN)
                assert status == 200
                msg_at, png_at = wait_graphed(slack, [name])[name]
                to_message.append(msg_at - t0)
                to_graph.append(png_at - t0)
            rss_first = rss(proc)
            cpu0, wall0 = cpu_s(proc), time.monotonic()
            counted = count
            while count < args.graphs:
                names = [f"BenchGraph{run}n{count + i}" for i in range(min(WAVE, args.graphs - count))]
                count += len(names)
                with ThreadPoolExecutor(len(names)) as pool:
                    statuses = list(pool.map(lambda n: am.post_webhook(bot.url, body(env, n), am.TOKEN)[0], names))
                assert statuses == [200] * len(names), statuses
                wait_graphed(slack, names)
            cpu_used, wall = cpu_s(proc) - cpu0, time.monotonic() - wall0
            rss_after = rss(proc)
        finally:
            bot.stop()
            slack.stop()
    waves = count - counted
    load_after = os.getloadavg()[0]
    print(
        f"load (1-min average) {load_before:.1f} before, {load_after:.1f} after; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; the whole run {time.monotonic() - t_start:.0f} s"
    )
    print("| what | figures |")
    print("|---|---|")
    print(f"| baseline: curl query_range, the rule's series over 1 h (240 points) | {summary(baseline)} |")
    print(f"| alp: webhook -> the group's message at Slack | {summary(to_message)} |")
    print(f"| alp: webhook -> the message's chart (PNG) in its thread | {summary(to_graph)} |")
    if waves:
        print(
            f"| alp: {waves} more graphs, {WAVE} at a time | wall {wall:.1f} s ({wall / waves * 1000:.0f} ms a graph); "
            f"bot CPU {cpu_used:.1f} s ({cpu_used / waves * 1000:.0f} ms a graph) |"
        )
    print(
        f"| the bot's RSS (its worker processes') | after the first {counted} graph(s) {rss_first[0] / 2**20:.0f} MiB "
        f"({rss_first[1] / 2**20:.0f} MiB); after {count} graphs {rss_after[0] / 2**20:.0f} MiB "
        f"({rss_after[1] / 2**20:.0f} MiB) |"
    )


if __name__ == "__main__":
    main()
