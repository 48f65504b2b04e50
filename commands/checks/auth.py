"""`auth` (Users Cannot Log In) and `auth-latency` (High Authentication Latency)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from commands.backends import net
from commands.backends.kube import KubeNotFound
from commands.backends.postgres import connect
from commands.checks.db import connections_by_state
from commands.checks.endpoint_probes import health_probe, postgres_host_port, tcp_probe
from commands.checks.kube_probes import KubeHandle, log_metric_probe, pods_probe, restart
from commands.checks.log_errors import log_errors_probe
from commands.checks.prom_figures import beside, p95_duration
from commands.checks.rates import slow_statements
from commands.checks.runbook_objects import objects_probe, withdraw_for_missing
from commands.probes import Probe, availability, run_probes
from commands.registry import CheckContext, CheckResult, NoParams, check
from commands.report import Fields, Finding, Severity, Suggestion

APP = "auth-service"


def fallback() -> Suggestion:
    return Suggestion(
        action="set-config",
        params={"configmap": "auth-config", "fallback_enabled": "true"},
        why="log users in through the fallback while the provider is down",
    )


def oidc_probe(ctx: CheckContext) -> Probe:
    """The OAuth provider's OpenID discovery document: reachable, JSON, with an issuer."""
    ep = ctx.config.endpoints
    url = ep.oauth_url.rstrip("/") + ep.oidc_discovery_path

    async def probe() -> list[Finding]:
        res = await net.http_get(url, ctx.config.timeouts.probe_s)
        if not res.ok:
            return [
                Finding(
                    severity=Severity.CRITICAL,
                    title="OAuth provider discovery failing",
                    detail=f"{url}: {res.error or f'HTTP {res.status}'}",
                    suggestions=[fallback()],
                )
            ]
        try:
            doc = json.loads(res.body)
            issuer = doc["issuer"]
        except (ValueError, KeyError, TypeError):
            return [
                Finding(
                    severity=Severity.CRITICAL,
                    title="OAuth discovery document is not valid",
                    detail=f"{url} answered {res.status} but not JSON with an issuer field",
                    suggestions=[fallback()],
                )
            ]
        return [Finding(severity=Severity.OK, title=f"OAuth provider: issuer {issuer} ({res.ms:.0f}ms)")]

    return probe


JWT_SECRET = "jwt-signing-key"


def data_keys(meta: dict[str, Any]) -> set[str] | None:
    """The names of a Secret's data keys, from its metadata alone: every writer's managedFields
    record the fields it set (`f:data` → `f:<key>`), never their values. None when the metadata
    carries no managedFields (stripped by a proxy or an old server): then nothing is known."""
    managed = meta.get("managedFields")
    if not managed:
        return None
    keys: set[str] = set()
    for entry in managed:
        fields = (entry.get("fieldsV1") or {}).get("f:data") or {}
        keys |= {k.removeprefix("f:") for k in fields if k.startswith("f:")}
    return keys


def jwt_key_probe(kh: KubeHandle) -> Probe:
    """The JWT signing-key secret exists, holds data, and how old it is (metadata only, never its data).

    The secret must exist (auth-service signs every token with it): its absence, read as a 404
    from the API server, is the fault itself (CRITICAL, Vault regenerates it), not "could not
    see"; a refused read (RBAC) stays UNKNOWN. Its contents are never read: the names of its
    data keys come from managedFields (`data_keys`); none at all is CRITICAL (an empty secret
    signs nothing); no managedFields is UNKNOWN (present, contents not seen). An OK finding says
    what it rests on: keys present, values not read."""

    async def probe() -> list[Finding]:
        namespace = kh.ctx.config.namespace
        try:
            meta = await kh.get().secret_metadata(namespace, JWT_SECRET)
        except KubeNotFound:
            return [
                Finding(
                    severity=Severity.CRITICAL,
                    title=f"JWT signing key secret {JWT_SECRET} is missing in {namespace}",
                    detail="auth-service cannot sign or verify tokens without it: logins fail. Vault regenerates "
                    "it (see whether its secret sync runs); rotate-jwt-key, which deletes it, cannot help.",
                )
            ]
        created = datetime.fromisoformat(meta["creationTimestamp"].replace("Z", "+00:00"))
        days = (datetime.now(UTC) - created).total_seconds() / 86400
        keys = data_keys(meta)
        facts = {"created": meta["creationTimestamp"], "data keys": ", ".join(sorted(keys)) if keys else "none"}
        limit_note = "metadata only: key names from managedFields, contents not read"
        if keys is None:
            return [
                Finding(
                    severity=Severity.UNKNOWN,
                    title=f"JWT signing key secret {JWT_SECRET} present, {days:.1f} days old; contents not read",
                    detail="its metadata carries no managedFields, so whether it holds a key is not known "
                    "(alp reads secrets as metadata only)",
                    evidence=[Fields(items={"created": meta["creationTimestamp"]})],
                )
            ]
        if not keys:
            return [
                Finding(
                    severity=Severity.CRITICAL,
                    title=f"JWT signing key secret {JWT_SECRET} holds no data in {namespace}",
                    detail="no writer of the secret set any data key (managedFields): auth-service has no key to "
                    "sign tokens with. See whether Vault's secret sync runs.",
                    evidence=[Fields(items=facts)],
                )
            ]
        limit = kh.ctx.config.thresholds.jwt_key_max_age_days
        if days > limit:
            return [
                Finding(
                    severity=Severity.WARNING,
                    title=f"JWT signing key is {days:.0f} days old",
                    detail=f"older than {limit:.0f} days; {limit_note}",
                    evidence=[Fields(items=facts)],
                    suggestions=[Suggestion(action="rotate-jwt-key", why="Vault regenerates it")],
                )
            ]
        return [
            Finding(
                severity=Severity.OK,
                title=f"JWT signing key present with {len(keys)} data key(s), {days:.1f} days old (contents not read)",
                detail=limit_note,
                evidence=[Fields(items=facts)],
            )
        ]

    return probe


def connections_probe(ctx: CheckContext) -> Probe:
    async def probe() -> list[Finding]:
        async with connect(ctx.config.postgres_dsn, ctx.config.timeouts.probe_s) as conn:
            return [await connections_by_state(conn, ctx.config)]

    return probe


POOL_EXHAUSTED = re.compile(r"acquir\w* (a )?connection|connection pool|too many (clients|connections)", re.I)


def pool_remedy(lines: list[str]) -> list[Suggestion]:
    """The runbook's "Database Connection Issues": restart auth-service, where its logs show it
    waiting for a database connection."""
    if any(POOL_EXHAUSTED.search(line) for line in lines):
        return [restart(APP, "runbook: database connection issues (it waits for a pooled connection)")]
    return []


@check(
    "auth",
    summary="auth-service pods, logs, /health, DB reachability, OAuth provider, JWT key",
    runbook="Authentication Service Issues — Users Cannot Log In",
    probes=("pods", "errors", "health", "postgres-tcp", "oauth", "connections", "jwt-key", "objects"),
)
async def auth(ctx: CheckContext, params: NoParams) -> CheckResult:
    cfg = ctx.config
    with KubeHandle(ctx) as kh:
        restart_auth = lambda: [restart(APP, "the runbook's first remedy for login failures")]  # noqa: E731
        host, port = postgres_host_port(cfg)
        findings = await run_probes(
            ctx,
            {
                "pods": pods_probe(kh, cfg.namespace, f"app={APP}", APP, restart_auth),
                "errors": log_errors_probe(kh, cfg.namespace, APP, suggest=pool_remedy),
                "health": health_probe(cfg, APP, restart_auth),
                "postgres-tcp": tcp_probe(
                    host, port, "PostgreSQL from the bot", cfg.timeouts.probe_s, backend="PostgreSQL"
                ),
                "oauth": availability(oidc_probe(ctx)),
                "connections": connections_probe(ctx),
                "jwt-key": jwt_key_probe(kh),
                "objects": objects_probe(kh, "auth"),
            },
        )
    return CheckResult(withdraw_for_missing(findings))


@check(
    "auth-latency",
    summary="auth-service response_time percentiles and the slowest auth queries",
    runbook="Authentication Service Issues — High Authentication Latency",
    probes=("response-time", "slow-queries", "objects"),
)
async def auth_latency(ctx: CheckContext, params: NoParams) -> CheckResult:
    cfg, th = ctx.config, ctx.config.thresholds
    with KubeHandle(ctx) as kh:

        def remedies() -> list[Suggestion]:
            return [
                Suggestion(action="scale", params={"deployment": APP, "replicas": 5}, why="runbook: scale auth"),
                Suggestion(
                    action="set-config",
                    params={"configmap": "auth-config", "cache_enabled": "true"},
                    why="cache tokens in Redis",
                ),
                Suggestion(action="reindex", params={"table": "users"}, why="runbook: optimise the users table"),
            ]

        async def slow() -> list[Finding]:
            async with connect(cfg.postgres_dsn, cfg.timeouts.probe_s) as conn:
                return [await slow_statements(conn, cfg, like="%auth%", alt_like="%users%")]

        findings = await run_probes(
            ctx,
            {
                "response-time": beside(
                    cfg,
                    log_metric_probe(
                        kh, APP, "response_time", th.response_time_warn_ms, th.response_time_crit_ms, remedies
                    ),
                    p95_duration(cfg, APP, "response_time", th.response_time_warn_ms, th.response_time_crit_ms),
                ),
                "slow-queries": slow,
                "objects": objects_probe(kh, "auth-latency"),
            },
            timeout_s=cfg.timeouts.probe_s * 2 + th.rate_window_s,
        )
    slow_users = any(
        f.probe == "slow-queries" and re.search(r"\busers\b", " ".join(str(e) for e in f.evidence)) for f in findings
    )
    if not slow_users:  # REINDEX TABLE users rests on a slow statement on users, shown in this report
        for f in findings:
            f.suggestions = [s for s in f.suggestions if s.action != "reindex"]
    return CheckResult(withdraw_for_missing(findings))
