"""How late escalation pages fire relative to their due time: steady, after a restart, after a
SIGKILL in the middle of a burst of due steps, and with the leader paused (SIGSTOP).

N incidents (P1, first page after 2 s, then 1 s per step) on a SQLite state store, with a
notifier that answers at once; prints p50/p99/max of (step claimed - due time). The kill and pause
scenarios run engines in child processes (`--child`) that write every page and every step's
lateness to a shared file, and count how often each step was paged. Last, the at-least-once
window of a Slack page: how long SlackNotifier.page takes from its first DM to the thread post's
answer, against the local fake Slack.
Run: .venv/bin/python -m bench.escalation_lateness [N] [M]
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import ROOT, summary
from escalation.config import EscalationSettings
from escalation.ladder.engine import Escalator
from escalation.ladder.leader import Lease
from escalation.ladder.pages import Page
from escalation.model import Incident, Priority, Rung
from escalation.state.db import Database
from escalation.state.store import Store
from tests.support.notifier import Recorder


def cfg() -> EscalationSettings:
    return EscalationSettings(
        p1_first_page_s=2,
        step_wait_s=1,
        ack_timeout_s=0,
        page_retries=0,
        leader_poll_s=0.5,
        leader_lease_s=2,
        page_attempt_timeout_s=1,
        pager_webhook_url=None,
    )


class Lateness(list[float]):
    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "fired":
            self.append(data["lateness_s"])


async def steady(n: int, url: str) -> None:
    rec, late = Recorder(), Lateness()
    eng = Escalator(Store(url), cfg(), rec, url, on_event=late)
    await eng.start()
    t0 = time.perf_counter()
    for i in range(n):
        await eng.open(Priority.P1, f"bench {i}", "", [], "C1", "U1")
    opened = time.perf_counter() - t0
    deadline = time.monotonic() + 60
    while len(late) < 3 * n and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    print(f"{n} incidents opened in {opened:.2f}s; {len(late)} steps fired (primary, secondary, manager):")
    print(f"  lateness vs due time: {summary(late)}")
    await eng.stop()
    await eng.close()


async def restart(m: int, url: str) -> None:
    first = Escalator(Store(url), cfg(), Recorder(), url)
    await first.start()
    for i in range(m):
        await first.open(Priority.P1, f"restart {i}", "", [], "C1", "U1")
    await first.stop()  # down before any step is due
    await first.close()
    await asyncio.sleep(4)  # primary (2 s) and secondary (3 s) fall due meanwhile
    late = Lateness()
    rec = Recorder()
    second = Escalator(Store(url), cfg(), rec, url, on_event=late)
    await second.start()
    deadline = time.monotonic() + 60
    while len(rec.pages) < 2 * m and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    print(f"after a clean restart with {m} incidents whose steps fell due while down: {len(late)} steps fired")
    print(f"  lateness vs due time (includes the {4 - 2}-{4 - 3} s the engine was down): {summary(late)}")
    print(f"  pages: {len(rec.pages)} for {2 * m} Slack steps")
    await second.stop()
    await second.close()


# ---------------------------------------------------------------------- child processes
class FileNotifier(Recorder):
    """Appends every page to a file shared by the engines of several processes."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    async def already_paged(self, inc: Incident, step: Rung, page: Page) -> bool:
        return [inc.ref, step.name] in [r.get("page") for r in records(self.path)]

    async def page(self, inc: Incident, step: Rung, page: Page) -> None:
        append(self.path, {"page": [inc.ref, step.name], "pid": os.getpid()})
        self.pages.append((inc.ref, step.name, page))


def append(path: str, record: dict[str, Any]) -> None:
    with open(path, "a") as f:  # one short line per write: O_APPEND keeps lines of several processes whole
        f.write(json.dumps(record) + "\n")


async def child(url: str, out: str) -> None:
    def on_event(kind: str, data: dict[str, Any]) -> None:
        if kind == "fired":
            append(out, {"late": data["lateness_s"], "pid": os.getpid()})

    eng = Escalator(Store(url), cfg(), FileNotifier(out), url, on_event=on_event)
    await eng.start()
    print("started", flush=True)
    await asyncio.Event().wait()


def spawn(url: str, out: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.escalation_lateness", "--child", url, out],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
    return proc


def records(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(out).read_text().splitlines()] if Path(out).exists() else []


def report(title: str, out: str, m: int, pids: set[int]) -> None:
    recs = records(out)
    late = [r["late"] for r in recs if "late" in r and r["pid"] in pids]
    counts = Counter(tuple(r["page"]) for r in recs if "page" in r)
    print(f"{title}: {len(late)} steps fired by the surviving engine, lateness vs due time: {summary(late)}")
    print(
        f"  pages: {sum(counts.values())} for {2 * m} Slack steps; steps paged twice: "
        f"{sum(1 for c in counts.values() if c > 1)}; steps never paged: {2 * m - len(counts)}"
    )


def wait_pages(out: str, n: int, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while sum(1 for r in records(out) if "page" in r) < n and time.monotonic() < end:
        time.sleep(0.1)


async def opener(url: str, m: int, tag: str) -> None:
    """Open `m` incidents as the terminal does: recorded, delivered by whoever leads."""
    eng = Escalator(Store(url), cfg(), Recorder(), url)
    for i in range(m):
        await eng.open(Priority.P1, f"{tag} {i}", "", [], "C1", "U1")
    await eng.close()


def sigkill(m: int, url: str, out: str) -> None:
    first = spawn(url, out)
    asyncio.run(opener(url, m, "kill"))
    while not any("page" in r for r in records(out)):  # the burst of primaries has begun
        time.sleep(0.01)
    time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    second = spawn(url, out)
    wait_pages(out, 2 * m)
    time.sleep(2.5)  # past an interrupted attempt's lease
    report(f"SIGKILL 50 ms into a burst of {m} due steps, restarted at once", out, m, {second.pid})
    second.terminate()
    second.wait()


async def current_holder(url: str) -> str | None:
    db = Database(url)
    try:
        return await Lease(db, 2).current_holder()
    finally:
        await db.close()


def paused(m: int, url: str, out: str) -> None:
    a = spawn(url, out)
    time.sleep(1)
    b = spawn(url, out)
    holder = asyncio.run(current_holder(url))
    leader, follower = (a, b) if holder == f"{socket.gethostname()}-{a.pid}" else (b, a)
    asyncio.run(opener(url, m, "pause"))
    time.sleep(1.0)  # the first steps fall due 2 s after opening
    leader.send_signal(signal.SIGSTOP)
    wait_pages(out, 2 * m)
    leader.send_signal(signal.SIGCONT)
    time.sleep(2.5)
    report(f"leader paused (SIGSTOP) 1 s before {m} steps fall due (lease 2 s)", out, m, {follower.pid})
    for p in (a, b):
        p.terminate()
        p.wait()


async def slack_window(n: int) -> None:
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.slack.incidents import SlackNotifier
    from escalation.ladder.pages import build_page
    from escalation.model import IncidentStatus
    from escalation.state.db import now
    from tests.support.slack_fake import FakeSlack

    fake = FakeSlack().start()
    try:
        notifier = SlackNotifier(AsyncWebClient(token="xoxb-bench", base_url=fake.api_url))
        step = Rung("primary", "@devops-oncall", "slack", 0, ("U0PRIMARY",))
        windows = []
        for i in range(n):
            inc = Incident(
                i, Priority.P0, "x", "", [], IncidentStatus.TRIGGERED, "C1", "U1", now(), [step], message_ts="1.1"
            )
            fake.reset()
            await notifier.page(inc, step, build_page(inc, step, [], datetime.now(UTC)))
            dm = next(c for c in fake.called("chat.postMessage") if c.args["channel"].startswith("D"))
            thread = next(c for c in fake.called("chat.postMessage") if c.args.get("thread_ts"))
            windows.append(thread.at - dm.at)
        print(
            f"Slack page at-least-once window (first DM sent -> thread post taken), local fake Slack: {summary(windows)}"
        )
    finally:
        fake.stop()


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        asyncio.run(child(sys.argv[2], sys.argv[3]))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    m = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    with tempfile.TemporaryDirectory() as d:
        asyncio.run(steady(n, f"sqlite:///{d}/steady.db"))
        asyncio.run(restart(m, f"sqlite:///{d}/restart.db"))
        sigkill(m, f"sqlite:///{d}/kill.db", f"{d}/kill.jsonl")
        paused(m, f"sqlite:///{d}/pause.db", f"{d}/pause.jsonl")
        asyncio.run(slack_window(200))


if __name__ == "__main__":
    main()
