"""`redis`: the runbook's Cache Misses — hit ratio, memory, a bounded key scan, latency."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from commands.checks.blocks import redis_conn
from commands.checks.services import redis_latency_probe
from commands.probes import run_probes
from commands.registry import CheckContext, CheckResult, NoParams, check
from commands.report import Code, Fields, Finding, Severity, Suggestion


class RedisParams(NoParams):
    pattern: str | None = Field(None, description="key pattern to SCAN (default from config)", max_length=200)
    limit: int | None = Field(None, ge=1, le=100_000, description="keys to scan at most")


async def scan_keys(ctx: CheckContext, pattern: str, limit: int) -> tuple[list[str], bool]:
    """`redis-cli --scan --pattern P | head -N`: never KEYS. Returns keys and whether it stopped early."""
    keys: list[str] = []
    async with redis_conn(ctx.config) as client:
        async for key in client.scan_iter(match=pattern, count=min(limit, 1000)):
            keys.append(key)
            if len(keys) >= limit:
                return keys, True
    return keys, False


@check(
    "redis",
    summary="Redis hit ratio, evictions, memory vs maxmemory, a bounded key scan, latency",
    runbook="Redis Issues — Cache Misses",
    params=RedisParams,
    probes=("stats", "memory", "keys", "latency"),
)
async def redis_check(ctx: CheckContext, params: RedisParams) -> CheckResult:
    cfg, th = ctx.config, ctx.config.thresholds
    data: dict[str, Any] = {}
    warm = Suggestion(action="warm-cache", params={"service": "user-service"}, why="runbook: warm cache")

    async def stats() -> list[Finding]:
        async with redis_conn(cfg) as client:
            info = await client.info("stats")
        hits, misses = int(info.get("keyspace_hits", 0)), int(info.get("keyspace_misses", 0))
        ratio = hits / (hits + misses) if hits + misses else None
        evicted = int(info.get("evicted_keys", 0))
        data["stats"] = {"hits": hits, "misses": misses, "hit_ratio": ratio, "evicted_keys": evicted}
        if ratio is None:
            return [Finding(severity=Severity.OK, title="Redis: no lookups yet (hit ratio unknown)")]
        severity = (
            Severity.CRITICAL
            if ratio < th.cache_hit_crit
            else Severity.WARNING
            if ratio < th.cache_hit_warn
            else Severity.OK
        )
        return [
            Finding(
                severity=severity,
                title=f"Redis hit ratio {ratio:.1%} ({hits} hits, {misses} misses)",
                evidence=[
                    Fields(items={"evicted keys": str(evicted), "expired keys": str(info.get("expired_keys", 0))})
                ],
                suggestions=[warm] if severity else [],
            )
        ]

    async def memory() -> list[Finding]:
        async with redis_conn(cfg) as client:
            info = await client.info("memory")
        used, maxmem = int(info["used_memory"]), int(info.get("maxmemory", 0))
        frag = float(info.get("mem_fragmentation_ratio", 1.0))
        data["memory"] = {
            "used_memory": used,
            "maxmemory": maxmem,
            "fragmentation": frag,
            "policy": info.get("maxmemory_policy"),
        }
        fields = {
            "used": info.get("used_memory_human", str(used)),
            "fragmentation": f"{frag:.2f}",
            "policy": str(info.get("maxmemory_policy")),
        }
        if not maxmem:
            return [
                Finding(
                    severity=Severity.WARNING,
                    title=f"Redis uses {fields['used']} with no maxmemory set",
                    evidence=[Fields(items=fields)],
                )
            ]
        ratio = used / maxmem
        # The fragmentation ratio means little on a small dataset (allocator overhead dominates).
        fragmented = used > 64 * 2**20 and frag >= th.fragmentation_warn
        full = ratio >= th.redis_memory_warn_ratio
        title = f"Redis memory {ratio:.0%} of maxmemory ({fields['used']} / {info.get('maxmemory_human')})"
        if fragmented:
            title += f", fragmentation {frag:.2f}"
        return [
            Finding(
                severity=Severity.WARNING if full or fragmented else Severity.OK,
                title=title,
                detail="fragmented: `MEMORY PURGE` or activedefrag can give memory back" if fragmented else "",
                evidence=[Fields(items=fields)],
                suggestions=[
                    Suggestion(
                        action="set-resources",
                        params={"statefulset": "redis", "memory": "4Gi"},
                        why="runbook: increase memory",
                    )
                ]
                if full
                else [],
            )
        ]

    async def keys() -> list[Finding]:
        pattern = params.pattern or cfg.redis.scan_pattern
        limit = params.limit or cfg.redis.scan_limit
        found, stopped = await scan_keys(ctx, pattern, limit)
        data["scan"] = {
            "pattern": pattern,
            "limit": limit,
            "found": len(found),
            "stopped_at_limit": stopped,
            "sample": found[:20],
        }
        more = f" (stopped at the limit of {limit})" if stopped else ""
        return [
            Finding(
                severity=Severity.OK,
                title=f"SCAN {pattern}: {len(found)} key(s){more}",
                evidence=[Code(text="\n".join(found[:10]))] if found else [],
            )
        ]

    findings = await run_probes(
        ctx, {"stats": stats, "memory": memory, "keys": keys, "latency": redis_latency_probe(ctx)}
    )
    return CheckResult(findings, data)
