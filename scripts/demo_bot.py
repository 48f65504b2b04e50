"""`scripts/run bot --demo`: alp-bot against the demo world and the local fake Slack Web API
(tests/support/slack_fake.py), so the Block Kit messages it posts can be read without a Slack workspace.

Sends `/alp health` and `/alp check kafka-lag` as Slack would (signed, tests/support/signing.py),
then one `/alp` command per line of standard input until end of input (Ctrl-D). Meanwhile the test
bed's Alertmanager notifies this bot (scripts/world/alerting.py): the demo's slow auth-service fires
the bed's real Prometheus rule HighResponseTime, and the bot posts the alert group's message with
the rule's expression graphed (a PNG in its thread) and opens a P2 incident; at the end of input the
demo waits for that message (at most ALERT_WAIT_S) if it has not come yet. Every Web API
call the bot makes is appended to slack-calls.jsonl (one JSON object a line: method, args with
the blocks as sent, ts) in the test bed's demo directory, and summarised on standard output; at
the end the messages are drawn as a 390 px phone shows them in slack.html beside it
(scripts/world/page.py).
Needs the test bed's env (`scripts/testbed env`, `scripts/testbed demo`): scripts/run sets it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from scripts.world.alerting import RULE, alert_route
from scripts.world.alerting import bot_env as alert_env
from scripts.world.page import write as write_page
from tests.support.signing import signed_headers, slash_command
from tests.support.slack_fake import FakeSlack

SIGNING_SECRET = "alp-demo-signing-secret"
FIRST = ("health", "check kafka-lag")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
QUIET_S = 3.0  # after the last call, how long to wait before taking the bot's answer as complete
ALERT_WAIT_S = 150.0  # the rule's 30 s rate fills, it holds 4 s, Alertmanager groups: under a minute on an idle bed


def _text(args: dict[str, Any], most: int = 6) -> str:
    """The first line of each of a message's first blocks (else its text), for the summary."""
    lines = []
    for block in args.get("blocks") or []:
        text = block.get("text")
        if isinstance(text, dict) and str(text.get("text", "")).strip():
            lines.append(str(text["text"]).strip().splitlines()[0])
    if not lines and args.get("text"):
        lines = [str(args["text"]).splitlines()[0]]
    more = f"\n      … {len(lines) - most} more block(s)" if len(lines) > most else ""
    return "\n      ".join(lines[:most]) + more


class RecordingSlack(FakeSlack):
    """The fake Slack, also writing each call to a file and a line to stdout."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.last_call = time.monotonic()

    def _record(self, method: str, args: dict[str, Any], response: dict[str, Any] | None = None) -> None:
        super()._record(method, args, response)
        self.last_call = time.monotonic()
        if method in ("auth.test",):
            return
        with self.path.open("a") as f:  # ts: what a post became (updates name it in their args)
            f.write(json.dumps({"method": method, "args": args, "ts": (response or {}).get("ts")}) + "\n")
        print(f"  slack {method} {args.get('channel', '')}: {_text(args)}", flush=True)


class Stopped(Exception):
    """A signal asked the demo to stop."""


def _stop(signum: int, frame: object) -> None:
    raise Stopped


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    run_dir = Path(os.environ["KUBECONFIG"]).resolve().parents[1] / "demo"
    run_dir.mkdir(parents=True, exist_ok=True)
    calls = run_dir / "slack-calls.jsonl"
    calls.write_text("")
    slack = RecordingSlack(calls).start()
    # A message this fake Slack never posted (an alert group's, from an earlier demo run the state store
    # remembers) is not there to update, as in Slack: the bot posts it again (bot/alerts/group_messages.py).
    slack.fail("chat.update", "message_not_found", times=1000, when=lambda args: not _posted(slack, args.get("ts")))
    port = free_port()
    env = {
        **os.environ,
        "SLACK_API_URL": slack.api_url,
        "SLACK_BOT_TOKEN": "xoxb-alp-demo",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "ALP_HTTP_HOST": "127.0.0.1",
        "ALP_HTTP_PORT": str(port),
        **alert_env(token := uuid.uuid4().hex),
    }
    env.pop("SLACK_APP_TOKEN", None)  # HTTP mode: the commands below are posted to /slack/events
    # Ctrl-C, a closed terminal or a kill end the session like Ctrl-D: the bot stops with it.
    for sig in STOP_SIGNALS:
        signal.signal(sig, _stop)
    log = (run_dir / "alp-bot.log").open("w")
    bot = subprocess.Popen([sys.executable, "-m", "bot.server"], env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert bot.stdout is not None
        if not bot.stdout.readline():
            sys.exit("alp-bot did not start")
        threading.Thread(target=lambda: [None for _ in bot.stdout or []], daemon=True).start()  # drain its log
        print(f"alp-bot on http://127.0.0.1:{port}/slack/events, posting to a fake Slack at {slack.api_url}")
        print(f"every Web API call it makes (Block Kit as sent) is appended to {calls}; its log: {log.name}")
        print("  (paste a call's args.blocks into https://app.slack.com/block-kit-builder to see it rendered)")
        with alert_route(os.environ, f"http://127.0.0.1:{port}", token) as receiver:
            if receiver:
                print(
                    f"the test bed's Alertmanager notifies it (receiver {receiver}): the demo's slow auth-service "
                    f"fires Prometheus' {RULE} within about a minute"
                )
            else:
                print("the test bed's Alertmanager did not answer: no alerts in this demo (`scripts/testbed status`)")
            for text in FIRST:
                send(port, slack, text)
            if sys.stdin.isatty():
                print("type an /alp command (e.g. check deadlocks), Enter; Ctrl-D to stop")
            for line in sys.stdin:
                if line.strip():
                    send(port, slack, line.strip())
            if receiver:
                wait_for_alert(slack, ALERT_WAIT_S)
    except Stopped:
        pass
    finally:
        for sig in STOP_SIGNALS:  # a second Ctrl-C must not leave the bot running
            signal.signal(sig, signal.SIG_IGN)
        bot.terminate()
        try:
            bot.wait(10)
        except subprocess.TimeoutExpired:
            bot.kill()
        slack.stop()
        page = write_page(calls, run_dir / "slack.html")
        with contextlib.suppress(OSError):  # the terminal may be gone
            print(f"stopped; the calls are in {calls}; as a 390 px phone shows them: {page}", flush=True)


def _posted(slack: FakeSlack, ts: object) -> bool:
    """Whether this fake Slack posted the message `ts` (read under its lock: no `called`)."""
    return any(c.method == "chat.postMessage" and c.response.get("ts") == ts for c in slack.calls)


def alert_posted(slack: FakeSlack) -> tuple[str, int] | None:
    """(the demo alert group's message text, PNGs in its thread) once the bot posted it, else None."""
    for c in slack.called("chat.postMessage"):
        text = str(c.args.get("text", ""))
        if RULE in text and "FIRING" in text and not c.args.get("thread_ts") and c.response.get("ok"):
            ts = c.response.get("ts")
            ids = [
                f["id"]
                for u in slack.called("files.completeUploadExternal")
                if u.args.get("thread_ts") == ts
                for f in u.args.get("files") or []
            ]
            return text, sum(1 for i in ids if slack.uploaded.get(i, b"").startswith(b"\x89PNG"))
    return None


def wait_for_alert(slack: RecordingSlack, timeout_s: float) -> None:
    """Until the demo's alert is posted with its graph (or `timeout_s`), saying which."""
    start = time.monotonic()
    found = alert_posted(slack)
    if found is None or not found[1]:
        print(f"waiting for the demo's alert {RULE} and its graph (at most {timeout_s:g} s; Ctrl-C stops)", flush=True)
    while (found is None or not found[1]) and time.monotonic() - start < timeout_s:
        time.sleep(0.5)
        found = alert_posted(slack)
    if found is None:
        print(
            f"the demo's alert {RULE} did not reach alp within {timeout_s:g} s: is Prometheus up "
            "(`scripts/testbed status`) and the fault seeded (`scripts/testbed demo`)?",
            flush=True,
        )
        return
    while time.monotonic() - slack.last_call < QUIET_S:  # its report, its incident
        time.sleep(0.2)
    graphs = f"with {found[1]} graph(s) in its thread" if found[1] else "without a graph yet"
    print(f"the demo's alert reached alp through Alertmanager: {found[0]} ({graphs})", flush=True)


def send(port: int, slack: RecordingSlack, text: str) -> None:
    """`/alp <text>` in #oncall, signed as Slack signs it; returns once the bot has gone quiet."""
    print(f"/alp {text}", flush=True)
    body = slash_command(text, slack.response_url("demo"))
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/slack/events", data=body.encode(), headers=signed_headers(SIGNING_SECRET, body)
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read().decode()
    try:
        ack = str(json.loads(raw).get("text", "")) if raw.startswith("{") else raw
    except ValueError:
        ack = raw
    if ack.strip():
        print(f"  ack: {ack.strip().splitlines()[0]}", flush=True)
    slack.last_call = time.monotonic()
    while time.monotonic() - slack.last_call < QUIET_S:
        time.sleep(0.2)


if __name__ == "__main__":
    main()
