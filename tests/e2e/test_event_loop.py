"""The event loop only waits: a running alp-bot answers `/healthz`, acks and keeps its lease
while it groups 200,000 log lines or runs a user's pathological `--grep`.

Each test drives a real bot process over HTTP (signed slash commands, the fake Slack) against
the test bed's API server, whose kubelet stand-in serves the log lines the test loads. A thread
asks `/healthz` every 100 ms throughout and records how long each answer took.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.bot_env import SIGNING_SECRET
from tests.support.k8s_world import PLATFORM, make_pod
from tests.support.kafka import commit, create_topic, produce
from tests.support.log_lines import varied_lines
from tests.support.processes import LoggedBot
from tests.support.signing import signed_headers, slash_command
from tests.support.slack_fake import FakeSlack
from tests.support.slack_requests import blocks_text, post

HEALTHZ_WITHIN_S = 1.0


def cmd(lbot: LoggedBot, slack: FakeSlack, text: str, rid: str = "r1", **kw: str) -> tuple[int, str, float]:
    body = slash_command(text, slack.response_url(rid), **kw)
    return post(lbot.proc, body, signed_headers(SIGNING_SECRET, body))


def no_traceback(lbot: LoggedBot) -> None:
    log = lbot.text()
    assert "Traceback" not in log and "unhandled" not in log, log[-3000:]


@pytest.fixture
def lagging_group(testbed: dict[str, str], unique: str) -> str:
    """A consumer group 10 messages behind on a fresh topic: kafka-lag is critical and suggests reset-offsets."""
    import asyncio

    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]

    async def setup() -> None:
        await create_topic(bootstrap, unique, 2)
        await produce(bootstrap, unique, {0: 12, 1: 8})
        await commit(bootstrap, unique, unique, {0: 2, 1: 8})

    asyncio.run(setup())
    return unique


PROBE = """
import sys, time, urllib.request
interval, urls = float(sys.argv[1]), sys.argv[2:]


def ask(url):
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            resp.read()
        return time.monotonic() - t0
    except OSError:
        return 10.0


while True:
    print(" ".join(f"{ask(url):.4f}" for url in urls), flush=True)
    time.sleep(interval)
"""


class HealthProbe:
    """GET /healthz every `interval` s from a process of its own (the test process is busy: the fake
    Slack parses uploads in it), and the same of an idle HTTP server beside it (`python -m
    http.server`): `.worst` is the bot's slowest answer (a timeout counts as 10 s), `.control` the
    idle server's, what the machine's load alone costs."""

    def __init__(self, url: str, interval: float = 0.1) -> None:
        self.url, self.interval = url, interval
        self.took: list[float] = []
        self.control_took: list[float] = []
        self._procs: list[subprocess.Popen[str]] = []

    def __enter__(self) -> HealthProbe:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        idle = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", tempfile.mkdtemp()],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._procs.append(idle)
        control = f"http://127.0.0.1:{port}/"
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                urllib.request.urlopen(control, timeout=2).close()
                break
            except OSError:
                time.sleep(0.1)
        probe = [sys.executable, "-c", PROBE, str(self.interval), f"{self.url}/healthz", control]
        self._procs.append(subprocess.Popen(probe, stdout=subprocess.PIPE, text=True))
        return self

    def __exit__(self, *_: object) -> None:
        idle, probe = self._procs
        probe.terminate()
        out, _ = probe.communicate(15)
        idle.terminate()
        idle.wait(15)
        rows = [line.split() for line in out.splitlines() if len(line.split()) == 2]
        self.took = [float(bot) for bot, _ in rows]
        self.control_took = [float(c) for _, c in rows]
        assert self.took, "the probe never asked /healthz"

    @property
    def worst(self) -> float:
        return max(self.took, default=0.0)

    def __str__(self) -> str:
        return (
            f"/healthz took up to {self.worst:.2f}s over {len(self.took)} asks; an idle HTTP server beside it "
            f"up to {max(self.control_took, default=0.0):.2f}s (the machine's load)"
        )


def pods_with_logs(kube_admin: Any, kubelet: Any, cleanup: list[tuple[str, str]], app: str, texts: list[str]) -> None:
    for i, text in enumerate(texts):
        name = f"{app}-{i}"
        make_pod(kube_admin, PLATFORM, name, app)
        cleanup.append((PLATFORM, name))
        kubelet.logs[(PLATFORM, name)] = text


def stalls(lbot: LoggedBot) -> str:
    """What the bot's own watchdog (bot/loop_watch.py) saw holding its event loop, from its log."""
    lines = [line for line in lbot.text().splitlines() if "event loop stalled" in line]
    return "\n".join(lines[-5:]) or "the bot's watchdog saw no stall of 0.5 s or more"


def final_report(slack: FakeSlack, service: str, timeout: float) -> str:
    """The text of the report that replaced the progress message of `alp logs <service>`."""
    msg = slack.wait_for(
        "chat.update",
        lambda c: service in (t := blocks_text(c.args.get("blocks", []))) and "Running" not in t,
        timeout=timeout,
    )
    return blocks_text(msg.args["blocks"])


@pytest.fixture
def pods(kube_admin: Any, cleanup_pods: list[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    yield cleanup_pods


@pytest.mark.slow
def test_healthz_and_acks_answer_while_logs_groups_200000_lines(lbot, fake_slack, kube_admin, kubelet, pods):
    pods_with_logs(kube_admin, kubelet, pods, "busy-logs", [varied_lines(seed, 10_000) for seed in range(20)])

    with HealthProbe(lbot.url) as probe:
        status, _, took = cmd(lbot, fake_slack, "logs busy-logs --tail 10000 --since 6h")
        assert status == 200 and took < 3
        time.sleep(4)  # the lines are read by now: the grouping runs
        acks = [cmd(lbot, fake_slack, "help", rid=f"h{i}")[2] for i in range(3)]
        text = final_report(fake_slack, "busy-logs", timeout=120)

    assert probe.worst < HEALTHZ_WITHIN_S, f"{probe}\n{stalls(lbot)}"
    assert max(acks) < HEALTHZ_WITHIN_S, acks
    assert "line(s) from 20 container(s)" in text or "not examined" in text, text[:2000]
    log = lbot.text()
    assert "lost the escalation lease" not in log
    no_traceback(lbot)


@pytest.mark.slow
def test_healthz_answers_while_a_pathological_grep_runs(lbot, fake_slack, kube_admin, kubelet, pods):
    pods_with_logs(kube_admin, kubelet, pods, "redos-logs", ["a" * 50_000 + "!\n" + "INFO aaaa fine\n" * 50])

    with HealthProbe(lbot.url) as probe:
        status, _, took = cmd(lbot, fake_slack, "logs redos-logs --grep (a+)+$")
        assert status == 200 and took < 3
        text = final_report(fake_slack, "redos-logs", timeout=60)
        ack = cmd(lbot, fake_slack, "help", rid="h-after")[2]

    assert probe.worst < HEALTHZ_WITHIN_S, f"{probe}\n{stalls(lbot)}"
    assert ack < HEALTHZ_WITHIN_S
    assert "redos-logs" in text and "did not finish" not in text
    no_traceback(lbot)


# ---------------------------------------------------------------- user-supplied patterns, fuzzed
FUZZ_SEED = 20261207
FUZZ_BUDGET_S = 25
ATOMS = [
    "a", "a+", "a*", "(a+)+", "(a|a)*", "(a|aa)+", "(.*)*", "(.*a){12}", "(\\w+\\s?)*", "[a-z]+", "\\d+", "x{1000}",
    "(a{100}){100}", "(?i)", "\\b", "^", "$", "\\1", "(?=a)", "(?<!a)", "(?P<n>a)", "(?P=n)", "[", "(", ")", "{2,1}",
    "\\", "|", "?", ".", "[^\\n]*", "é+", "日本+", "\\x{1F600}", "(?s).", "\\Q(*)\\E", "\\p{L}+", "(a*)*b", "!",
]  # fmt: skip


def fuzz_patterns(seed: int, n: int) -> list[str]:
    rnd = random.Random(seed)
    return ["".join(rnd.choice(ATOMS) for _ in range(rnd.randint(1, 8))) for _ in range(n)]


@pytest.mark.slow
def test_fuzzed_grep_patterns_never_stall_the_bot(lbot, fake_slack, kube_admin, kubelet, pods):
    """Seeded patterns (nested quantifiers, back-references, look-arounds, huge repetitions, bad
    syntax) against hostile lines, for FUZZ_BUDGET_S seconds: every command acked in time and
    answered (a usage error, or a report), `/healthz` within 1 s throughout, no traceback."""
    import shlex

    hostile = [
        "a" * 30_000 + "!",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
        "x" * 5000,
        "日本" * 2000 + "!",
        "é" * 3000,
    ]
    pods_with_logs(kube_admin, kubelet, pods, "fuzz-logs", ["\n".join(hostile) + "\n"])
    asked: list[tuple[str, str, str]] = []  # (channel, pattern, ack body)
    end = time.monotonic() + FUZZ_BUDGET_S
    with HealthProbe(lbot.url) as probe:
        for i, pattern in enumerate(fuzz_patterns(FUZZ_SEED, 400)):
            if time.monotonic() > end:
                break
            channel = f"CFZ{i:04d}"
            status, body, took = cmd(lbot, fake_slack, f"logs fuzz-logs --grep {shlex.quote(pattern)}", channel=channel)
            assert status == 200 and took < 3, (pattern, status, took)
            asked.append((channel, pattern, body))
        checked = [(c, p) for c, p, body in asked if "--grep" not in body]  # the others got a usage error
        for channel, _pattern in checked:
            fake_slack.wait_for(
                "chat.update",
                lambda c, ch=channel: (
                    c.args.get("channel") == ch and "Running" not in blocks_text(c.args.get("blocks", []))
                ),
                timeout=60,
            )

    assert len(asked) >= 20, "the bot answered too few commands within the budget"
    assert checked and len(checked) < len(asked), "the seed should give both runnable and refused patterns"
    assert probe.worst < HEALTHZ_WITHIN_S, f"{probe}\n{stalls(lbot)}"
    no_traceback(lbot)


# ---------------------------------------------------------------- identical checks asked at once
def test_identical_checks_share_one_run_and_one_rendering_posted_to_each_channel(lbot, fake_slack, lagging_group):
    """Five channels ask for the same kafka-lag at once: one rendering (alp_report_renderings_total),
    the report in each channel, each button signed for the channel it is in."""
    import re
    from concurrent.futures import ThreadPoolExecutor

    from bot.slack.signing import key_from, verify

    def renderings() -> float:
        with urllib.request.urlopen(f"{lbot.url}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        m = re.search(r'^alp_report_renderings_total\{target="kafka-lag"\} (\S+)$', text, re.M)
        return float(m[1]) if m else 0.0

    before = renderings()
    channels = [f"CSHARE{i}" for i in range(5)]
    words = f"check kafka-lag --group {lagging_group}"
    with ThreadPoolExecutor(len(channels)) as pool:
        acks = list(pool.map(lambda ch: cmd(lbot, fake_slack, words, rid=ch, channel=ch), channels))

    assert all(status == 200 and took < 3 for status, _, took in acks), acks
    key = key_from(SIGNING_SECRET)
    for ch in channels:
        final = fake_slack.wait_for(
            "chat.update",
            lambda c, ch=ch: c.args.get("channel") == ch and lagging_group in blocks_text(c.args["blocks"]),
        )
        values = [
            e["value"]
            for b in final.args["blocks"]
            for e in b.get("elements", [])
            if e.get("type") == "button" and e.get("action_id", "").startswith("alp_action_request")
        ]
        assert values, "the lag report suggests reset-offsets with a button"
        assert all(verify(v, key).get("c") == ch for v in values), "each button is bound to its own channel"
    assert renderings() - before == 1
