"""Every Kafka connection a check opens is closed: when it ends, when it is cancelled at any
point, when it times out, and when the broker never answers (issue #23). Counted as this
process's established TCP connections to the broker's port (psutil), before and after."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator

import psutil
import pytest

from commands.backends.errors import BackendError
from commands.backends.kafka import KafkaProbe
from tests.support.kafka import commit, create_topic, produce
from tests.support.kafka_lag import config, run_lag

pytestmark = pytest.mark.slow


def connections(port: int) -> int:
    """This process's established TCP connections to `port`."""
    return sum(
        1
        for c in psutil.Process().net_connections("tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


async def settled(port: int, expected: int, within_s: float = 10.0) -> int:
    """The count once it is `expected`, or whatever it is after `within_s` (a close may finish
    in a task of its own, bounded by the probe's timeout)."""
    end = time.monotonic() + within_s
    while (n := connections(port)) != expected and time.monotonic() < end:
        await asyncio.sleep(0.1)
    return n


@pytest.fixture
async def unclosed() -> AsyncIterator[list[str]]:
    """What the loop was told was left unclosed: aiokafka's connection, dropped while still open,
    is closed by the garbage collector, which reports it ("Unclosed AIOKafkaConnection") to the
    loop's exception handler (the bot's log). A collection runs before it is read."""
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(str(context.get("message"))))
    yield seen
    loop.set_exception_handler(previous)


def leaked(seen: list[str]) -> list[str]:
    gc.collect()
    return [m for m in seen if "Unclosed" in m]


def port_of(bootstrap: str) -> int:
    return int(bootstrap.split(",")[0].rsplit(":", 1)[1])


async def test_a_check_closes_every_connection_when_it_ends_is_cancelled_or_times_out(testbed, unique, unclosed):
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    port = port_of(bootstrap)
    await create_topic(bootstrap, unique, 2)
    await produce(bootstrap, unique, {0: 5, 1: 5})
    await commit(bootstrap, unique, unique, {0: 1, 1: 5})
    cfg = config(bootstrap)
    before = connections(port)

    report = await run_lag(cfg, group=unique)
    assert any(g["group"] == unique for g in report.data["groups"]), report.data
    assert await settled(port, before) == before, "connections left open after a check that ended"
    assert not leaked(unclosed), unclosed

    # a check's run is shielded from its askers (runner.py): its deadline cancels it, and a
    # probe of its own is cancelled at every stage (every 4 ms: a local broker's handshake
    # takes a few): connecting, listing groups, sampling, closing
    async def probe_run() -> None:
        async with KafkaProbe(bootstrap, 3) as probe:
            await probe.snapshot([unique])

    for delay in [i * 0.004 for i in range(25)] + [0.15, 0.2, 0.3]:
        task = asyncio.create_task(probe_run())
        await asyncio.sleep(delay)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        n = await settled(port, before, within_s=3)
        assert (n, leaked(unclosed)) == (before, []), f"a probe cancelled after {delay:.3f}s: {n - before} left open"

    # timed out by a caller's deadline (the runner's, a shared run's)
    for limit in (0.05, 0.25):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run_lag(cfg, group=unique), limit)
        assert await settled(port, before) == before, f"connections left open by a check timed out at {limit}s"
        assert not leaked(unclosed), (limit, unclosed)


async def test_a_broker_that_never_answers_leaves_no_connection_open(unclosed):
    """The broker accepts the connection and says nothing: whether the probe gives up at its own
    timeout or its caller's deadline comes first (the check's, a cancel), the connection it made
    is closed (aiokafka's bootstrap, cancelled while it waits for the broker's metadata, leaves
    its connection to the garbage collector)."""
    held: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    async def probe(timeout_s: float) -> None:
        async with KafkaProbe(f"127.0.0.1:{port}", timeout_s):
            pass

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        for _ in range(2):
            with pytest.raises(BackendError):  # the probe's own timeout
                await probe(0.5)
            with pytest.raises(TimeoutError):  # the caller's deadline first
                await asyncio.wait_for(probe(5), 0.3)
        assert await settled(port, 0, within_s=15) == 0, "connections to a silent broker left open"
        assert not leaked(unclosed), unclosed
    finally:
        for w in held:
            w.close()
        server.close()
        await server.wait_closed()
