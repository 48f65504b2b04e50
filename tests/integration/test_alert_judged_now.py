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


def test_an_alert_from_another_prometheus_or_cluster_is_not_judged_from_this_ones_data(testbed) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    expr = "vector(0.9) > 0.5"  # this Prometheus would say "still firing"
    [other] = asyncio.run(
        alert_graphs(_settings(testbed), [_alert(expr, now, "http://prometheus.eu-2.example:9090")], now)
    )
    assert other.judged and other.judged[0][0] == "unknown", other.lines
    assert "from another Prometheus (prometheus.eu-2.example:9090): not judged" in other.judged[0][1]
    mine = _settings(testbed).model_copy(update={"external_urls": ["http://vm:17090"]})
    [named] = asyncio.run(alert_graphs(mine, [_alert(expr, now, "http://vm:17090")], now))
    assert named.judged[0][0] == "firing", named.lines  # its --web.external-url, configured: this Prometheus
    [cluster] = asyncio.run(
        alert_graphs(_settings(testbed), [_alert(expr, now, testbed["ALP_PROMETHEUS__URL"], cluster="eu-2")], now)
    )
    assert cluster.judged[0][0] == "unknown" and "cluster=eu-2" in cluster.judged[0][1], cluster.lines
    assert "not matched" in cluster.judged[0][1]
    own = _settings(testbed).model_copy(update={"external_labels": {"cluster": "eu-2"}})
    [ours] = asyncio.run(alert_graphs(own, [_alert(expr, now, testbed["ALP_PROMETHEUS__URL"], cluster="eu-2")], now))
    assert ours.judged[0][0] == "firing", ours.lines  # this Prometheus' own external label
