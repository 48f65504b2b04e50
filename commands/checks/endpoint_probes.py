"""Probe builders over endpoints and stores: a service's /health, a TCP port, PostgreSQL
`SELECT 1`, Redis `PING`, Kafka's topic list.

Each returns an async function producing findings, ready for `commands.probes.run_probes`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

from commands.backends import net, redis
from commands.backends.kafka import KafkaProbe
from commands.backends.postgres import select_one_ms
from commands.config import ChecksConfig, service
from commands.probes import Probe, availability, unreachable
from commands.report import Finding, Severity, Suggestion


def host_port(cfg: ChecksConfig, name: str) -> tuple[str, int]:
    spec = service(cfg, name)
    if spec.url:
        parts = urlsplit(spec.url)
        return parts.hostname or name, parts.port or spec.port
    return f"{name}.{cfg.namespace}", spec.port


def postgres_host_port(cfg: ChecksConfig) -> tuple[str, int]:
    from psycopg.conninfo import conninfo_to_dict  # psycopg imported when a probe reaches PostgreSQL

    info = conninfo_to_dict(cfg.postgres_dsn)
    return str(info.get("host") or "localhost"), int(info.get("port") or 5432)


def health_probe(cfg: ChecksConfig, name: str, suggest: Callable[[], list[Suggestion]] = list) -> Probe:
    """`curl -f <service>/health`."""
    spec = service(cfg, name)
    url = spec.base_url(cfg.namespace).rstrip("/") + spec.health_path

    async def probe() -> list[Finding]:
        res = await net.http_get(url, cfg.timeouts.probe_s)
        if res.ok:
            return [Finding(severity=Severity.OK, title=f"{name} /health: {res.status} in {res.ms:.0f}ms")]
        why = res.error or f"HTTP {res.status}: {res.body[:200]}"
        return [
            Finding(
                severity=Severity.CRITICAL,
                title=f"{name} /health failing",
                detail=f"{url}: {why}",
                suggestions=suggest(),
            )
        ]

    return availability(probe)


def tcp_probe(
    host: str,
    port: int,
    label: str,
    timeout_s: float,
    suggest: Callable[[], list[Suggestion]] = list,
    backend: str | None = None,
    note: str = "",
) -> Probe:
    """`nc -zv host port`. With `backend` (e.g. "PostgreSQL"), a refusal is titled as that
    backend's client probes title it, so the report states the cause once. `note`: the detail
    of a reachable answer (what it does not prove)."""

    async def probe() -> list[Finding]:
        try:
            ms = await net.tcp_connect_ms(host, port, timeout_s)
        except (OSError, TimeoutError) as err:
            why = f"no answer within {timeout_s:g}s" if isinstance(err, TimeoutError) else str(err)
            return [
                Finding(
                    severity=Severity.CRITICAL,
                    title=unreachable(backend, host, port) if backend else f"{label}: cannot connect to {host}:{port}",
                    detail=why,
                    suggestions=suggest(),
                )
            ]
        return [Finding(severity=Severity.OK, title=f"{label}: {host}:{port} reachable in {ms:.0f}ms", detail=note)]

    return availability(probe)


def postgres_probe(cfg: ChecksConfig) -> Probe:
    """`psql -c 'SELECT 1'`, timed."""

    async def probe() -> list[Finding]:
        ms = await select_one_ms(cfg.postgres_dsn, cfg.timeouts.probe_s)
        return [Finding(severity=Severity.OK, title=f"PostgreSQL: SELECT 1 in {ms:.0f}ms")]

    return availability(probe)


def redis_ping_probe(cfg: ChecksConfig) -> Probe:
    """`redis-cli ping`."""

    async def probe() -> list[Finding]:
        async with redis.connect(cfg.redis_url, cfg.timeouts.probe_s) as client:  # failures: commands.probes
            t0 = time.monotonic()
            pong = await client.ping()
            ms = (time.monotonic() - t0) * 1000
            who = redis.where(client)
        return [Finding(severity=Severity.OK if pong else Severity.CRITICAL, title=f"{who}: PONG in {ms:.0f}ms")]

    return availability(probe)


def kafka_topics_probe(cfg: ChecksConfig) -> Probe:
    """`kafka-topics --list`."""

    async def probe() -> list[Finding]:
        async with KafkaProbe(cfg.kafka_bootstrap, cfg.timeouts.probe_s) as kp:
            topics = await kp.list_topics()
        user = sorted(t for t in topics if not t.startswith("__"))
        missing = [t for t in cfg.platform.topics if t not in topics]
        if missing:
            return [
                Finding(
                    severity=Severity.WARNING,
                    title=f"Kafka: topic(s) missing: {', '.join(missing)}",
                    detail=f"{len(user)} topic(s) exist",
                )
            ]
        return [Finding(severity=Severity.OK, title=f"Kafka: {len(user)} topic(s)")]

    return availability(probe)
