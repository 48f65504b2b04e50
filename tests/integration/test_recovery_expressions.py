"""Recovery judged from the alerts' own expressions: after a remedy, the flow's re-check carries each
alert expression's value now against its threshold, read from the bed's real Prometheus (the rule
HighResponseTime over the platform stand-in's histograms), and from the incident's stored alert group."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest

from commands.actions.flow import RemediationFlow
from commands.actions.registry import ActionSpec, Outcome, Preview, Risk
from commands.actions.request import ActionRequest
from commands.config import ChecksConfig, PrometheusSettings
from commands.report import Report, Severity
from escalation.state.alert_groups import AlertGroups
from escalation.state.db import Database
from escalation.state.request_log import StateRequestLog
from scripts.world.client import StandIns
from tests.support.checks_env import config_for
from tests.support.k8s_world import PLATFORM

RULE = "histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket[30s]))) > 0.5"  # testbed.d/prometheus/rules.yml, as Prometheus puts it in generatorURL


class Anyone:
    two_person = False

    async def allowed(self, user: str, risk: Risk) -> bool:
        return True


@dataclass
class Reports:
    seen: list[Report] = field(default_factory=list)

    async def previewed(self, spec: ActionSpec, params: dict[str, Any], pre: Preview) -> None: ...
    async def requested(self, spec: ActionSpec, req: ActionRequest) -> str | None:
        return f"1700000000.{req.id:06d}"

    async def posted(self, spec: ActionSpec, req: ActionRequest) -> None: ...
    async def awaiting_approval(self, spec: ActionSpec, req: ActionRequest) -> None: ...
    async def closed(self, spec: ActionSpec, req: ActionRequest, how: Any, by: str) -> None: ...
    async def finished(self, spec: ActionSpec, req: ActionRequest, outcome: Outcome) -> None: ...
    async def verified(self, spec: ActionSpec, req: ActionRequest, report: Report) -> None:
        self.seen.append(report)

    async def interrupted(self, spec: ActionSpec, req: ActionRequest) -> None: ...


@pytest.fixture
def standins(testbed) -> Iterator[StandIns]:  # type: ignore[no-untyped-def]
    if not testbed.get("ALP_PROMETHEUS__URL"):
        pytest.fail("no Prometheus in the test bed: run `scripts/testbed up`")
    s = StandIns.from_env(testbed)
    yield s
    s.reset_traffic()


@pytest.fixture
def cfg(testbed, platform) -> ChecksConfig:  # type: ignore[no-untyped-def]
    return config_for(
        testbed,
        platform,
        PLATFORM,
        prometheus=PrometheusSettings(
            url=testbed["ALP_PROMETHEUS__URL"],
            username=testbed["ALP_PROMETHEUS__USERNAME"],
            password=testbed["ALP_PROMETHEUS__PASSWORD"],
        ),
    )


async def _remedy_then_recheck(flow: RemediationFlow, seen: Reports) -> Report:
    req = await flow.request("warm-cache", {}, "U0ALICE", "C0INC")
    assert isinstance(req, ActionRequest), req
    done = await flow.confirm(req.id, "U0ALICE")
    assert isinstance(done, ActionRequest), done
    return seen.seen[-1]


async def test_a_remedys_recheck_judges_the_incidents_alert_expressions(cfg, standins, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path}/state.db"
    log = StateRequestLog.connect(url)
    db = Database(url)
    try:
        groups = AlertGroups(db)
        group, _ = await groups.start('{}:{alertname="HighResponseTime"}', "C0INC", None)
        group.incident_id = 7
        group.alerts = {
            "fp1": {
                "status": "firing",
                "labels": {"alertname": "HighResponseTime", "service": "auth-service", "severity": "warning"},
                "startsAt": datetime.now(UTC).isoformat(),
                "generatorURL": f"{cfg.prometheus.url}/graph?g0.expr={quote(RULE)}&g0.tab=1",
            }
        }
        await groups.save(group)

        async def alerts_of(channel: str) -> list[dict[str, Any]]:
            return await groups.alerts_of_incident(7) if channel == "C0INC" else []

        seen = Reports()
        flow = RemediationFlow(cfg, log, Anyone(), seen, alerts_of=alerts_of)

        standins.set_traffic("auth-service", rps=20, latency_ms=900)
        deadline = time.monotonic() + 90
        while True:  # the rule's 30 s rate fills with 900 ms requests
            report = await _remedy_then_recheck(flow, seen)
            line = [f for f in report.findings if f.probe == "alert-expressions"]
            if (line and "still firing" in line[0].title) or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        assert line and line[0].severity is Severity.WARNING, [f.title for f in report.findings]
        assert re.search(r"HighResponseTime\{service=auth-service\}: still firing: [5-9]\d\dms now", line[0].title)
        assert "threshold > 500ms" in line[0].title and RULE[:40] in line[0].detail
        assert report.severity is not Severity.OK  # not recovered while the expression is over

        standins.reset_traffic()
        deadline = time.monotonic() + 90
        while True:
            report = await _remedy_then_recheck(flow, seen)
            line = [f for f in report.findings if f.probe == "alert-expressions"]
            if (line and "back under" in line[0].title) or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        assert line[0].severity is Severity.OK, line[0].title
        assert "back under the threshold since" in line[0].title and "ms now, threshold > 500ms" in line[0].title

        elsewhere = await flow.request("warm-cache", {}, "U0ALICE", "C0OPS")  # no incident there: no such line
        assert isinstance(elsewhere, ActionRequest)
        await flow.confirm(elsewhere.id, "U0ALICE")
        assert not [f for f in seen.seen[-1].findings if f.probe == "alert-expressions"]
    finally:
        await log.close()
        await db.close()
