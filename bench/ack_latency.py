"""Ack latency of `/alp check kafka-lag` over HTTP: 50 concurrent signed requests.

Starts a real alp-bot against the test bed and the fake Slack, fires the requests at once,
and prints p50/p99/max of the time until each HTTP response (Slack's 3 s ack budget).
Run: scripts/testbed up && .venv/bin/python -m bench.ack_latency [N]
The bot keeps its state where ALP_STATE_URL says, as in production: e.g.
ALP_STATE_URL=postgresql://…/alp_state (the multi-replica setup) for the figures in bench/RESULTS.md;
unset, a SQLite file in the working directory. With `--incident`, an incident is open in the
channel first, so every check is also recorded on it (a read and a write in the state store each).
"""

from __future__ import annotations

import asyncio
import sys
import time

import aiohttp

from bench.common import summary, testbed_env
from tests.support.bot_env import BOT_TOKEN, SIGNING_SECRET
from tests.support.processes import BotProcess
from tests.support.signing import signed_headers, slash_command
from tests.support.slack_fake import FakeSlack


async def fire(url: str, slack: FakeSlack, n: int) -> list[float]:
    async with aiohttp.ClientSession() as session:

        async def one(i: int) -> float:
            body = slash_command("check kafka-lag", slack.response_url(str(i)), user=f"U{i:04d}")
            t0 = time.perf_counter()
            async with session.post(
                f"{url}/slack/events", data=body, headers=signed_headers(SIGNING_SECRET, body)
            ) as resp:
                await resp.read()
                assert resp.status == 200, resp.status
            return time.perf_counter() - t0

        return list(await asyncio.gather(*(one(i) for i in range(n))))


async def command(url: str, text: str, response_url: str) -> None:
    body = slash_command(text, response_url)
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/slack/events", data=body, headers=signed_headers(SIGNING_SECRET, body)) as resp,
    ):
        assert resp.status == 200, resp.status


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--incident"]
    n = int(args[0]) if args else 50
    slack = FakeSlack().start()
    bot = BotProcess(
        {
            **testbed_env(),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "ALP_KAFKA_LAG__SAMPLES": "2",
            "ALP_KAFKA_LAG__INTERVAL_S": "0.5",
        }
    ).start()
    try:
        if "--incident" in sys.argv:  # P2: nothing is paged for two hours
            asyncio.run(command(bot.url, "incident open P2 ack latency bench", slack.response_url("open")))
        asyncio.run(fire(bot.url, slack, 2))  # warm up imports and connections
        time.sleep(3)
        slack.reset()
        acks = asyncio.run(fire(bot.url, slack, n))
        t0 = time.monotonic()
        while len(slack.called("chat.update")) < n and time.monotonic() - t0 < 120:
            time.sleep(0.2)
        answered = len({c.args["ts"] for c in slack.called("chat.update")})
        print(f"ack latency, {n} concurrent /alp check kafka-lag: {summary(acks)}")
        print(f"final answers posted: {answered}/{n} within {time.monotonic() - t0:.1f}s after the acks")
    finally:
        bot.stop()
        slack.stop()


if __name__ == "__main__":
    main()
