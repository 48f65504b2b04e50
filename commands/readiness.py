"""Is each backend reachable from the bot? Used by `GET /readyz`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import redis.asyncio as aioredis

from commands.backends.kafka import KafkaProbe
from commands.config import ChecksConfig


async def _postgres(cfg: ChecksConfig, timeout: float) -> str:
    conn = await psycopg.AsyncConnection.connect(
        cfg.postgres_dsn, connect_timeout=max(1, int(timeout)), autocommit=True
    )
    async with conn:
        await conn.execute("SELECT 1")
    return "SELECT 1 ok"


async def _redis(cfg: ChecksConfig, timeout: float) -> str:
    client = aioredis.from_url(cfg.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        await client.ping()
    finally:
        await client.aclose()
    return "PING ok"


async def _kafka(cfg: ChecksConfig, timeout: float) -> str:
    async with KafkaProbe(cfg.kafka_bootstrap, timeout) as probe:
        cluster = await probe.cluster()
    return f"{len(cluster.brokers)} broker(s)"


PROBES: dict[str, Callable[[ChecksConfig, float], Awaitable[str]]] = {
    "postgres": _postgres,
    "redis": _redis,
    "kafka": _kafka,
}


async def readiness(cfg: ChecksConfig, timeout: float = 3.0) -> dict[str, dict[str, Any]]:
    """Probe every backend concurrently; each answer within `timeout` seconds."""

    async def one(name: str) -> dict[str, Any]:
        t0 = time.monotonic()
        try:
            detail = await asyncio.wait_for(PROBES[name](cfg, timeout), timeout)
            ok = True
        except TimeoutError:
            ok, detail = False, f"no answer within {timeout:g}s"
        except Exception as err:
            ok, detail = False, f"{type(err).__name__}: {err}"
        return {"ok": ok, "detail": detail, "ms": round((time.monotonic() - t0) * 1000, 1)}

    results = await asyncio.gather(*(one(n) for n in PROBES))
    return dict(zip(PROBES, results, strict=True))
