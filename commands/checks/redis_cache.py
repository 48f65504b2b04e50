"""`redis`: the runbook's Cache Misses — hit ratio, memory, a bounded key scan, latency."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from commands.backends import redis
from commands.checks.rates import two_samples
from commands.checks.services import redis_latency_probe
from commands.config import ChecksConfig
from commands.probes import run_probes
from commands.registry import CheckContext, CheckResult, NoParams, check
from commands.report import Code, Fields, Finding, Severity, Suggestion


class RedisParams(NoParams):
    pattern: str | None = Field(None, description="key pattern to SCAN (default from config)", max_length=200)
    limit: int | None = Field(None, ge=1, le=100_000, description="keys to scan at most")


async def scan_keys(ctx: CheckContext, pattern: str, limit: int) -> tuple[list[str], bool]:
    """`redis-cli --scan --pattern P | head -N`: never KEYS. Returns keys and whether it stopped early."""
    keys: list[str] = []
    async with redis.connect(ctx.config.redis_url, ctx.config.timeouts.probe_s) as client:
        async for key in client.scan_iter(match=pattern, count=min(limit, 1000)):
            keys.append(key)
            if len(keys) >= limit:
                return keys, True
    return keys, False


def redis_remedies(
    low_hit: bool, evicting: bool, full: bool, expiring: bool = False, maxmemory: str = ""
) -> list[Suggestion]:
    """redis: which remedy fits the evidence, declared once.

    Evicting at maxmemory: memory first (warming a cache that evicts what it is given is wasted),
    naming Redis's own `maxmemory` (`maxmemory`: its human value), which is what binds: Redis evicts
    at it, whatever the container may use, so a larger container alone changes nothing; a low hit
    ratio without eviction pressure: warm the cache, unless the misses are keys that expired
    (warmed keys expire the same way: the TTL is the cause, no button fixes it); memory full
    without a low hit ratio: memory only."""
    memory = Suggestion(
        action="set-resources",
        params={"statefulset": "redis", "memory": "4Gi"},
        why=f"runbook: increase memory; keys are evicted at Redis's own maxmemory ({maxmemory or 'set'}), which "
        "binds, not the container: raise it too (CONFIG SET maxmemory, and in the config Redis loads), or more "
        "container memory changes nothing"
        if evicting
        else "runbook: increase memory",
    )
    warm = Suggestion(action="warm-cache", params={"service": "user-service"}, why="runbook: warm cache")
    if full and evicting:
        return [memory, warm] if low_hit and not expiring else [memory]
    if low_hit:
        return [] if expiring else [warm]
    return [memory] if full else []


def redis_verdicts(
    before: dict[str, Any], after: dict[str, Any], seconds: float, cfg: ChecksConfig, who: str = "Redis"
) -> tuple[list[Finding], dict[str, Any]]:
    """Hit ratio, evictions and memory from two INFO samples `seconds` apart, and the figures
    they rest on (`data["stats"]`); `who` names the server in the titles (a cluster's primary)."""
    th = cfg.thresholds

    def delta(key: str) -> int:
        return int(after.get(key, 0)) - int(before.get(key, 0))

    hits, misses, evicted = delta("keyspace_hits"), delta("keyspace_misses"), delta("evicted_keys")
    expired = delta("expired_keys")
    ops = delta("total_commands_processed")
    lookups = hits + misses
    ratio = hits / lookups if lookups else None
    used, maxmem = int(after["used_memory"]), int(after.get("maxmemory", 0))
    frag = float(after.get("mem_fragmentation_ratio", 1.0))
    fill = used / maxmem if maxmem else None
    full = fill is not None and fill >= th.redis_memory_warn_ratio
    enough = lookups >= th.redis_min_lookups
    low = bool(enough and ratio is not None and ratio < th.cache_hit_warn)
    window = f"over {seconds:.1f}s"
    fields = {
        "window": f"{seconds:.1f}s",
        "lookups": str(lookups),
        "commands": str(ops),
        "evicted keys": str(evicted),
        "expired keys": str(delta("expired_keys")),
    }
    life_hits, life_misses = int(after.get("keyspace_hits", 0)), int(after.get("keyspace_misses", 0))
    if life_hits + life_misses:  # context only: lifetime counters are not judged as now
        life = life_hits / (life_hits + life_misses)
        fields["since counters reset (not judged)"] = f"{life:.1%} of {life_hits + life_misses} lookups"
    if not enough:  # no evidence either way: not OK (a cache-miss problem may be hiding in a quiet minute)
        severity = Severity.WARNING if evicted else Severity.UNKNOWN
        title = f"{who}: too little traffic to judge the hit ratio ({lookups} lookup(s) {window})"
    else:
        assert ratio is not None
        severity = (
            Severity.CRITICAL
            if ratio < th.cache_hit_crit
            else Severity.WARNING
            if ratio < th.cache_hit_warn or evicted
            else Severity.OK
        )
        title = f"{who} hit ratio {ratio:.1%} {window} ({hits} hits, {misses} misses)"
    # a key-expiry storm: about as many keys expired as lookups missed (the runbook's `expired_keys`)
    expiring = bool(low and misses and expired >= th.expiry_miss_ratio * misses)
    if expiring:
        title += f": keys expire before they are read ({expired} expired {window}; TTL too short?)"
    at_max = bool(evicted and full)  # evicting at maxmemory: the memory finding leads and states it (README)
    if evicted and not at_max:
        title += f", {evicted} key(s) evicted"
    maxmemory_human = str(after.get("maxmemory_human", maxmem))
    remedies = redis_remedies(low, evicted > 0, full, expiring, maxmemory_human)
    if at_max:  # memory's remedy goes with the memory finding; what is left (warm-cache) stays here
        remedies = [r for r in remedies if r.action != "set-resources"]
    ratio_finding = Finding(
        severity=severity,
        title=title,
        detail=f"keyspace counters sampled twice {window}; judged from {th.redis_min_lookups} lookups up",
        evidence=[Fields(items=fields)],
        suggestions=remedies if severity is not Severity.OK and (low or evicted) else [],
    )
    lead = severity
    if at_max and severity is Severity.WARNING and not low:  # the eviction is memory's finding; hits are fine
        ratio_finding.severity = Severity.OK if enough else Severity.UNKNOWN
        ratio_finding.suggestions = []
    mem_fields = {
        "used": str(after.get("used_memory_human", used)),
        "fragmentation": f"{frag:.2f}",
        "policy": str(after.get("maxmemory_policy")),
    }
    if fill is None:
        mem = Finding(
            severity=Severity.WARNING,
            title=f"{who} uses {mem_fields['used']} with no maxmemory set",
            evidence=[Fields(items=mem_fields)],
        )
    else:
        # The fragmentation ratio means little on a small dataset (allocator overhead dominates).
        fragmented = used > 64 * 2**20 and frag >= th.fragmentation_warn
        mem_title = f"{who} memory {fill:.0%} of maxmemory ({mem_fields['used']} / {after.get('maxmemory_human')})"
        if fragmented:
            mem_title += f", fragmentation {frag:.2f}"
        if at_max:
            mem_title += f", {evicted} key(s) evicted {window} (policy {mem_fields['policy']})"
        taken = {s.action for s in ratio_finding.suggestions}
        mem = Finding(
            severity=max(Severity.WARNING, lead, key=lambda v: v.rank)
            if at_max
            else Severity.WARNING
            if full or fragmented
            else Severity.OK,
            title=mem_title,
            detail="fragmented: MEMORY PURGE or activedefrag can give memory back" if fragmented else "",
            evidence=[Fields(items=mem_fields)],
            suggestions=[
                s for s in redis_remedies(False, evicted > 0, full, maxmemory=maxmemory_human) if s.action not in taken
            ]
            if full
            else [],
        )
    figures: dict[str, Any] = {
        "window_s": round(seconds, 2),
        "hits": hits,
        "misses": misses,
        "hit_ratio": ratio,
        "evicted_keys": evicted,
        "commands": ops,
        "used_memory": used,
        "maxmemory": maxmem,
        "fragmentation": frag,
        "policy": after.get("maxmemory_policy"),
    }
    return ([mem, ratio_finding] if at_max else [ratio_finding, mem]), figures


@check(
    "redis",
    summary="Redis hit ratio, evictions, memory vs maxmemory, a bounded key scan, latency",
    runbook="Redis Issues — Cache Misses",
    params=RedisParams,
    probes=("stats", "keys", "latency"),
)
async def redis_check(ctx: CheckContext, params: RedisParams) -> CheckResult:
    cfg, th = ctx.config, ctx.config.thresholds
    data: dict[str, Any] = {}

    async def stats() -> list[Finding]:
        """Every primary of a cluster is judged on its own, named; a single server as before."""

        async def sample() -> dict[str, dict[str, Any]]:
            async with redis.connect(cfg.redis_url, cfg.timeouts.probe_s) as client:
                return await redis.info_by_node(client)

        before, after, seconds = await two_samples(sample, th.rate_window_s)
        if len(after) == 1 and not any(a.get("cluster_enabled") == 1 for a in after.values()):
            [(node, now)] = after.items()
            findings, data["stats"] = redis_verdicts(before.get(node, now), now, seconds, cfg)
            return findings
        findings, data["cluster"] = [], {"primaries": list(after), "stats": {}}
        for node, now in after.items():
            judged, data["cluster"]["stats"][node] = redis_verdicts(
                before.get(node, now), now, seconds, cfg, who=f"Redis Cluster primary {node}"
            )
            findings += judged
        findings.insert(
            0,
            Finding(
                severity=Severity.OK,
                title=f"Redis Cluster: {len(after)} primaries judged ({', '.join(after)})",
                detail="hit ratio, evictions and memory per primary; keys are read through the cluster's redirects",
            ),
        )
        return findings

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
                asked=params.pattern is not None,
            )
        ]

    findings = await run_probes(
        ctx,
        {"stats": stats, "keys": keys, "latency": redis_latency_probe(ctx)},
        timeout_s=cfg.timeouts.probe_s * 2 + th.rate_window_s,
    )
    return CheckResult(findings, data)
