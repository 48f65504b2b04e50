"""The recovery checklist's "Check monitoring dashboards" and "Clear any alerts", judged from the bed's
real Prometheus and Alertmanager (commands/graph/recovery.py): an alert expression back under its
threshold and the alert gone from Alertmanager -> done; still over or still firing -> not done;
Prometheus or Alertmanager not read -> unknown, never done."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import quote

import pytest

from commands.backends.alertmanager import Alertmanager
from commands.config import PrometheusSettings
from commands.graph.recovery import ALERTS, DASHBOARDS, recovery_report
from tests.support import alertmanager as am
from tests.support.processes import wait_until


def prom(testbed: dict[str, str], **over: Any) -> PrometheusSettings:
    given: dict[str, Any] = {
        "url": testbed["ALP_PROMETHEUS__URL"],
        "username": testbed["ALP_PROMETHEUS__USERNAME"],
        "password": testbed["ALP_PROMETHEUS__PASSWORD"],
        "timeout_s": 3,
    }
    return PrometheusSettings(**(given | over))


def alert(testbed: dict[str, str], name: str, expr: str) -> dict[str, Any]:
    url = f"{testbed['ALP_PROMETHEUS__URL']}/graph?g0.expr={quote(expr)}&g0.tab=1"
    return {"labels": {"alertname": name, "group": "recovery"}, "generatorURL": url}


def in_am(am_url: str, name: str) -> list[dict[str, Any]]:
    """The alert as Alertmanager holds it (its fingerprint), as the webhook gave it to the bot."""
    found = [a for a in am.call(am_url, "GET", "/alerts") if a["labels"].get("alertname") == name]
    return [{**a, "status": "firing"} for a in found]


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def am_url(testbed) -> str:  # type: ignore[no-untyped-def]
    if not testbed.get("ALP_PROMETHEUS__URL"):
        pytest.fail("no Prometheus in the test bed: run `scripts/testbed up`")
    return str(testbed["ALP_ALERTMANAGER__URL"])


async def test_still_over_and_still_firing_are_not_done_then_both_done(testbed, am_url, unique) -> None:  # type: ignore[no-untyped-def]
    over = alert(testbed, f"Over{unique}", "sum(up) > 0")  # the stand-in is scraped: 1 > 0 holds
    am.fire(am_url, [over])
    alerts = wait_until(lambda: in_am(am_url, f"Over{unique}"), timeout=15)
    report = await recovery_report(prom(testbed), Alertmanager(am_url, 3), alerts, over["labels"])
    items = report.data["checklist"]
    assert items[DASHBOARDS]["state"] == "not done", items
    assert "still firing: 1 now, threshold > 0" in items[DASHBOARDS]["evidence"][0]
    assert items[ALERTS]["state"] == "not done", items
    assert f"Over{unique}{{group=recovery}}: still firing in Alertmanager (since " in items[ALERTS]["evidence"][0]

    am.resolve(am_url, [over])  # gone from Alertmanager; an expression that does not hold
    wait_until(lambda: not in_am(am_url, f"Over{unique}"), timeout=15)
    under = [{**a, "generatorURL": alert(testbed, "x", "sum(up) > 5")["generatorURL"]} for a in alerts]
    report = await recovery_report(prom(testbed), Alertmanager(am_url, 3), under, over["labels"])
    items = report.data["checklist"]
    assert items[DASHBOARDS]["state"] == "done", items
    assert "threshold > 5" in items[DASHBOARDS]["evidence"][0]
    assert items[ALERTS] == {
        "state": "done",
        "evidence": ["none of the incident's 1 alert(s) is firing in Alertmanager (resolved)"],
    }


async def test_prometheus_or_alertmanager_not_read_is_unknown_never_done(testbed, am_url, unique) -> None:  # type: ignore[no-untyped-def]
    a = {**alert(testbed, f"Down{unique}", "sum(up) > 5"), "fingerprint": "0123456789abcdef", "status": "resolved"}
    down = closed_port()
    report = await recovery_report(
        prom(testbed, url=down, external_urls=[testbed["ALP_PROMETHEUS__URL"]]), Alertmanager(down, 3), [a], a["labels"]
    )
    items = report.data["checklist"]
    assert items[DASHBOARDS]["state"] == "unknown" and "could not be graphed" in items[DASHBOARDS]["evidence"][0], items
    assert items[ALERTS]["state"] == "unknown" and "not reachable" in items[ALERTS]["evidence"][0], items
    off = await recovery_report(PrometheusSettings(), Alertmanager(None, 3), [a], a["labels"])
    items = off.data["checklist"]
    assert items[DASHBOARDS]["state"] == "unknown" and "ALP_PROMETHEUS__URL" in items[DASHBOARDS]["evidence"][0]
    assert items[ALERTS]["state"] == "unknown" and "ALP_ALERTMANAGER__URL" in items[ALERTS]["evidence"][0]
