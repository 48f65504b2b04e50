"""An alert's expression judged against the bed's real Prometheus: state and value from the rule's
plain expression at its latest sample, whatever the chart's step (a long window draws each step's
extreme, which is no "now")."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from commands.config import PrometheusSettings
from commands.graph.alert_graph import alert_graphs


def _settings(testbed: dict[str, str]) -> PrometheusSettings:
    return PrometheusSettings(
        url=testbed["ALP_PROMETHEUS__URL"],
        username=testbed["ALP_PROMETHEUS__USERNAME"],
        password=testbed["ALP_PROMETHEUS__PASSWORD"],
    )


def _alert(expr: str, started: datetime, host: str, **labels: str) -> dict[str, object]:
    return {
        "labels": {"alertname": "SlowThing", **labels},
        "startsAt": started.isoformat(),
        "generatorURL": f"{host}/graph?g0.expr={quote(expr)}&g0.tab=1",
        "fingerprint": "f1",
    }


def test_a_long_firing_alert_that_recovered_minutes_ago_is_back_under(testbed) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    cut = int(now.timestamp()) - 120  # 0.975 until two minutes ago, 0.05 since: within the chart's last step
    expr = f"vector(0.925 * (time() < bool {cut}) + 0.05) > 0.5"
    started = now - timedelta(hours=20)
    [g] = asyncio.run(alert_graphs(_settings(testbed), [_alert(expr, started, testbed["ALP_PROMETHEUS__URL"])], now))
    assert g.judged and g.judged[0][0] == "under", g.lines
    assert "0.05 now" in g.judged[0][1] and "still firing" not in g.judged[0][1], g.lines
    assert g.graph is not None and g.graph["window"].startswith("last 20 h"), g.graph and g.graph["window"]
