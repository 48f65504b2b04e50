"""The recovery checklist's "Check monitoring dashboards" and "Clear any alerts", judged for an
alert-born incident (the runbook's "Service Recovery Checklist").

- "Check monitoring dashboards": each of the incident's alert expressions read from Prometheus now
  and judged against its threshold (commands/graph/alert_graph.py): back under since HH:MM -> done,
  still over -> not done; Prometheus not configured or not read, no sample -> unknown.
- "Clear any alerts": the incident's alerts (by fingerprint) in Alertmanager now: none firing ->
  done, any firing (silenced or not) -> not done; Alertmanager not read -> unknown.

The result is a `Report` (target `recovery`, probes `alert-expressions` and `alertmanager`) whose
`data["checklist"]` is {item: {"state": "done" | "not done" | "unknown", "evidence": [line, ...]}}:
recorded as the resolve's re-check verdict, ticked where done and shown on the checklist.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Literal

from commands.backends.alertmanager import Alertmanager, AlertmanagerError
from commands.config import PrometheusSettings
from commands.graph.alert_graph import alert_graphs, recovery_findings
from commands.masking.redact import redact
from commands.report import Finding, Report, Severity

TARGET = "recovery"
DASHBOARDS = "Check monitoring dashboards"
ALERTS = "Clear any alerts"
PROBES = {"alert-expressions": DASHBOARDS, "alertmanager": ALERTS}
ItemState = Literal["done", "not done", "unknown"]
_STATE: dict[Severity, ItemState] = {
    Severity.OK: "done",
    Severity.WARNING: "not done",
    Severity.CRITICAL: "not done",
    Severity.UNKNOWN: "unknown",
}


def _name(labels: dict[str, Any]) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname", "severity"))
    return str(labels.get("alertname", "alert")) + "{" + shown[:150] + "}"


async def _dashboards(settings: PrometheusSettings, alerts: list[dict[str, Any]], now: datetime) -> list[Finding]:
    if not settings.url:
        return [
            Finding(
                severity=Severity.UNKNOWN,
                title="alert expressions not read: Prometheus is not configured (ALP_PROMETHEUS__URL)",
                probe="alert-expressions",
            )
        ]
    found = recovery_findings(await alert_graphs(settings, alerts, now))
    return found or [
        Finding(severity=Severity.UNKNOWN, title="alert expressions: nothing to judge", probe="alert-expressions")
    ]


async def _alertmanager(am: Alertmanager, alerts: list[dict[str, Any]], labels: dict[str, str]) -> list[Finding]:
    """The incident's alerts still firing in Alertmanager (matched by fingerprint among those with the
    group's common labels)."""
    mine = {str(a.get("fingerprint", "")) for a in alerts} - {""}
    try:
        active = await am.firing(labels)
    except AlertmanagerError as err:
        return [Finding(severity=Severity.UNKNOWN, title=f"alerts not read: {err}", probe="alertmanager")]
    firing = [a for a in active if str(a.get("fingerprint", "")) in mine]
    if not firing:
        return [
            Finding(
                severity=Severity.OK,
                title=f"none of the incident's {len(mine)} alert(s) is firing in Alertmanager (resolved)",
                probe="alertmanager",
            )
        ]
    out = []
    for a in firing[:10]:
        since = str(a.get("startsAt") or "")[11:16]
        silenced = (
            " (silenced: still firing behind the silence)" if a.get("status", {}).get("state") == "suppressed" else ""
        )
        out.append(
            Finding(
                severity=Severity.WARNING,
                title=f"{_name(a.get('labels') or {})}: still firing in Alertmanager"
                + (f" (since {since} UTC)" if since else "")
                + silenced,
                probe="alertmanager",
            )
        )
    if len(firing) > 10:
        out.append(
            Finding(severity=Severity.WARNING, title=f"and {len(firing) - 10} more still firing", probe="alertmanager")
        )
    return out


def checklist_of(findings: list[Finding]) -> dict[str, dict[str, Any]]:
    """{item: {"state", "evidence"}} from the findings of `PROBES`: an item is as bad as its worst finding."""
    out: dict[str, dict[str, Any]] = {}
    for probe, item in PROBES.items():
        mine = [f for f in findings if f.probe == probe]
        if not mine:
            continue
        worst = max((f.severity for f in mine), key=lambda s: s.rank)
        ordered = sorted(mine, key=lambda f: -f.severity.rank)
        out[item] = {"state": _STATE[worst], "evidence": [redact(f.title) for f in ordered][:6]}
    return out


async def recovery_report(
    prometheus: PrometheusSettings,
    alertmanager: Alertmanager,
    alerts: list[dict[str, Any]],
    labels: dict[str, str],
    now: datetime | None = None,
) -> Report:
    """The two items judged from the incident's `alerts` (webhook dicts with `fingerprint` and
    `generatorURL`) and its group's common `labels`; each backend call within its own timeout."""
    started, t0 = now or datetime.now(UTC), time.monotonic()
    findings = await _dashboards(prometheus, alerts, started) + await _alertmanager(alertmanager, alerts, labels)
    return Report(
        target=TARGET,
        started_at=started,
        duration_s=time.monotonic() - t0,
        findings=findings,
        data={"checklist": checklist_of(findings)},
    )


def not_judged(why: str, now: datetime | None = None) -> Report:
    """Both items unknown, saying why (the judgement did not finish within its bound)."""
    findings = [Finding(severity=Severity.UNKNOWN, title=why, probe=p) for p in PROBES]
    return Report(
        target=TARGET,
        started_at=now or datetime.now(UTC),
        duration_s=0.0,
        findings=findings,
        data={"checklist": checklist_of(findings)},
    )
