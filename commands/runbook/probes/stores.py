"""Probes over the data stores and alp's own checks: SQL, Redis INFO and keys, Kafka lag, a built-in check."""

from __future__ import annotations

from datetime import UTC, datetime

from commands.backends import postgres
from commands.backends import redis as redis_backend
from commands.checks.kube_probes import KubeHandle
from commands.checks.rates import two_samples
from commands.registry import CheckContext
from commands.report import Severity, Table
from commands.runbook import model as m
from commands.runbook.judge import Observed, severity_of, thresholds_text
from commands.runbook.probes.base import _finding


async def sql(ctx: CheckContext, kh: KubeHandle, p: m.SqlProbe) -> Observed:
    async with postgres.connect(ctx.config.postgres_dsn, ctx.config.timeouts.probe_s) as conn:
        async with conn.transaction():
            await conn.execute("SET TRANSACTION READ ONLY")
            async with conn.cursor() as cur:
                await postgres.bound(conn, cur)  # statement_timeout and lock_timeout for this transaction
                await cur.execute(p.query)  # one SELECT, checked by lint; READ ONLY and the timeouts here
                rows = await cur.fetchmany(p.max_rows + 1)
    capped = len(rows) > p.max_rows
    rows = rows[: p.max_rows]
    if p.value == "rows":
        value: float = len(rows)
        text = f"{len(rows)}{'+' if capped else ''} row(s)"
    else:
        first = next(iter(rows[0].values()), None) if rows else None
        if first is None:
            return Observed([_finding(p, Severity.UNKNOWN, "the query returned no value: nothing to judge")])
        try:
            value = float(first)
        except (TypeError, ValueError):
            return Observed(
                [_finding(p, Severity.UNKNOWN, f"the query's first value is not a number ({str(first)[:40]!r})")]
            )
        text = f"value {value:g}"
    table = [Table(columns=list(rows[0]), rows=[[str(v)[:80] for v in r.values()] for r in rows[:10]])] if rows else []
    note = f"; first {p.max_rows} rows only" if capped else ""
    return Observed(
        [_finding(p, severity_of(value, p), text, thresholds_text(p, "") + note, evidence=table)], {"value": value}
    )


async def redis_info(ctx: CheckContext, kh: KubeHandle, p: m.RedisInfoProbe) -> Observed:
    async with redis_backend.connect(ctx.config.redis_url, ctx.config.timeouts.probe_s) as r:

        async def sample() -> float | None:
            info = await r.info("all")
            v = info.get(p.field)
            return float(v) if isinstance(v, int | float) else None

        if p.rate:
            before, after, seconds = await two_samples(sample, ctx.config.thresholds.rate_window_s)
        else:
            before, after, seconds = None, await sample(), 0.0
    if after is None:
        return Observed([_finding(p, Severity.UNKNOWN, f"Redis INFO has no numeric `{p.field}`: nothing to judge")])
    if p.rate:
        if before is None or seconds <= 0:
            return Observed([_finding(p, Severity.UNKNOWN, f"`{p.field}` could not be sampled twice")])
        value = max(after - before, 0) / seconds
        text = f"Redis {p.field}: {value:.3g}/s over {seconds:.0f}s"
        unit = "/s"
    else:
        value, text, unit = after, f"Redis {p.field}: {after:g}", ""
    return Observed([_finding(p, severity_of(value, p), text, thresholds_text(p, unit))], {"value": value})


async def redis_keys(ctx: CheckContext, kh: KubeHandle, p: m.RedisKeysProbe) -> Observed:
    limit = ctx.config.redis.scan_limit
    keys: list[str] = []
    async with redis_backend.connect(ctx.config.redis_url, ctx.config.timeouts.probe_s) as r:
        async for k in r.scan_iter(match=p.pattern, count=200):
            keys.append(k)
            if len(keys) >= limit:
                break
    more = len(keys) >= limit
    text = f"{len(keys)}{'+' if more else ''} key(s) match `{p.pattern}`"
    detail = thresholds_text(p, " key(s)") + (f"; the scan stops at {limit} keys" if more else "")
    return Observed(
        [_finding(p, severity_of(len(keys), p), text, detail)], {"count": len(keys), "key": keys[0] if keys else ""}
    )


async def kafka_lag(ctx: CheckContext, kh: KubeHandle, p: m.KafkaLagProbe) -> Observed:
    from commands.checks.kafka_lag import KafkaLagParams  # the kafka-lag rules, as they are
    from commands.checks.kafka_lag import kafka_lag as lag_check

    result = await lag_check(ctx, KafkaLagParams(group=p.group))
    findings = [f.model_copy(update={"probe": p.id, "suggestions": []}) for f in result.findings]
    worst = max((f.severity for f in findings), key=lambda s: s.rank, default=Severity.UNKNOWN)
    groups = result.data.get("groups") or []
    g = next((x for x in groups if isinstance(x, dict) and x.get("group") == p.group), {})
    lag = g.get("total_lag", "")
    worst_partition = g.get("max_lag_partition") or {}
    if isinstance(lag, int | float) and (p.warning is not None or p.critical is not None):
        worst_by_count = severity_of(float(lag), p)
        if worst_by_count.rank > worst.rank:
            findings.append(_finding(p, worst_by_count, f"{p.group}: lag {lag:g}", thresholds_text(p, " message(s)")))
    return Observed(
        findings,
        {"group": p.group, "topic": worst_partition.get("topic", ""), "lag": lag, "status": g.get("status", "")},
    )


async def check_target(ctx: CheckContext, kh: KubeHandle, p: m.CheckProbe) -> Observed:
    from commands.catalogue import current
    from commands.report import Report

    spec = current().checks.get(p.target)
    if spec is None:  # lint refuses it; a reload may have removed a target since
        return Observed([_finding(p, Severity.UNKNOWN, f"no check target `{p.target}`: nothing run")])
    result = await spec.func(ctx, spec.params.model_validate(p.options))
    report = Report(target=p.target, started_at=datetime.now(UTC), duration_s=0, findings=result.findings)
    findings = [f.model_copy(update={"probe": p.id}) for f in result.findings]
    return Observed(findings, {"severity": report.severity.value, "headline": report.headline})
