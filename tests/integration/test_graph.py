"""`alp graph` against the bed's real Prometheus (built from its Go module, basic auth, scraping the
platform stand-in's metrics): RED of a service, PromQL as typed, a chart that decodes with the
series drawn, and every failure a clear finding or usage error within the timeout."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.world.client import StandIns
from tests.support.processes import alp


@pytest.fixture
def standins(testbed) -> Iterator[StandIns]:  # type: ignore[no-untyped-def]
    s = StandIns.from_env(testbed)
    yield s
    s.reset_traffic()


def graph(testbed: dict[str, str], *args: str, **env: str) -> tuple[int, dict[str, Any], str]:
    out = alp("--json", "graph", *args, env={**testbed, **env})
    return out.returncode, (json.loads(out.stdout) if out.stdout.strip() else {}), out.stderr


def wait_for(pred, timeout: float = 60) -> Any:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(1)
    raise AssertionError("not in time")


def test_a_services_red_figures_follow_its_traffic(testbed, standins, tmp_path: Path) -> None:
    standins.set_traffic("auth-service", rps=20, latency_ms=800, error_ratio=0.0)

    def slow_now() -> dict[str, Any] | None:
        _, report, _ = graph(testbed, "auth-service", "--since", "5m")
        titles = [f["title"] for f in report.get("findings", [])]
        return report if any("p95 duration: 800ms now" in t or "p95 duration: 9" in t for t in titles) else None

    report = wait_for(slow_now)
    p95 = next(f for f in report["findings"] if "p95 duration" in f["title"])
    assert p95["severity"] == "warning", p95  # 800 ms: over the 500 ms warning, under the 2 s critical
    assert "last 5m" in p95["detail"]
    rate = next(f for f in report["findings"] if "requests/s" in f["title"])
    assert rate["severity"] == "ok"
    series = report["data"]["series"]
    assert series and all({"labels", "points", "last"} <= set(s) for s in series)
    out = alp("graph", "auth-service", "--since", "5m", "--out", str(tmp_path / "g.png"), env=testbed)
    assert "chart:" in out.stderr, out.stderr
    import matplotlib.image

    img = matplotlib.image.imread(io.BytesIO((tmp_path / "g.png").read_bytes()), format="png")
    assert img.shape[0] > 300 and img.shape[1] > 600
    assert img[..., :3].std() > 0.05  # lines drawn, not a blank canvas


def test_promql_is_taken_as_typed_and_nan_and_inf_are_said(testbed) -> None:
    code, report, _ = graph(testbed, 'sum(rate(http_requests_total{code=~"5.."}[1m])) or vector(0)', "--since", "10m")
    assert code == 0, report
    assert report["findings"][0]["title"].endswith("now (shown, not judged)")  # a typed query has no threshold
    _, nan, _ = graph(testbed, "0/0", "--since", "5m")
    assert nan["findings"][0]["severity"] == "unknown" and "nan" in nan["findings"][0]["title"].lower()
    _, inf, _ = graph(testbed, "1/0", "--since", "5m")
    assert "inf" in inf["findings"][0]["title"].lower()
    assert json.dumps(inf["data"]["series"]).count('"inf"') >= 1  # JSON has no Infinity: a string


def test_a_bad_query_is_prometheus_own_error_not_a_traceback(testbed) -> None:
    code, report, err = graph(testbed, "rate(http_requests_total[5m]", "--since", "5m")
    assert code == 64 and "Traceback" not in err and not report, (code, report, err)  # a usage error
    assert err.startswith("alp: Prometheus refused the query:"), err
    assert "parse error" in err or "unclosed" in err, err


def test_wrong_password_down_and_hanging_prometheus_are_findings_in_time(testbed) -> None:
    _, refused, _ = graph(testbed, "up", ALP_PROMETHEUS__PASSWORD="wrong")
    assert refused["findings"][0]["title"] == "The bot cannot log in to Prometheus as alp", refused
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    t0 = time.monotonic()
    _, down, _ = graph(testbed, "up", ALP_PROMETHEUS__URL=f"http://127.0.0.1:{closed}")
    refused_s = time.monotonic() - t0  # a whole terminal run whose Prometheus refuses at once: this machine's pace
    assert down["findings"][0]["title"].startswith("Prometheus unreachable"), down
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True).start()
    t0 = time.monotonic()
    _, hung, _ = graph(
        testbed,
        "up",
        ALP_PROMETHEUS__URL=f"http://127.0.0.1:{listener.getsockname()[1]}",
        ALP_PROMETHEUS__TIMEOUT_S="2",
    )
    # The same run, waiting out its one 2 s timeout: a hang costs the timeout, not more (sized from
    # this machine's own pace: a terminal run takes 3 s idle and over 15 s at load 17)
    assert time.monotonic() - t0 < 2 * refused_s + 2 + 10, (time.monotonic() - t0, refused_s)
    assert "no answer within 2s" in json.dumps(hung["findings"]), hung
    listener.close()


def test_an_answer_of_50000_series_is_refused_not_decoded_on_the_loop(testbed, standins) -> None:
    standins.set_cardinality(50_000)
    try:
        _, report, _ = wait_for(
            lambda: (
                (r := graph(testbed, "alp_testbed_series", "--since", "2m"))[1].get("findings")
                and "50000 series" in json.dumps(r[1])
                and r
            ),
            timeout=90,
        )
    finally:
        standins.set_cardinality(0)
    assert "narrow the query" in report["findings"][0]["title"] + report["findings"][0]["detail"], report


def test_now_on_a_long_window_is_an_instant_read_not_the_steps_average(testbed, standins) -> None:
    """`--since 1d` draws a point every 6 min, each a 6-min average; "now" is read apart, over the last
    minute at the end time: traffic that stopped a minute ago is 0/s now, not the step's 20/s."""
    standins.set_traffic("scheduler-service", rps=20, latency_ms=40, error_ratio=0.0)
    wait_for(
        lambda: any(
            "requests/s:" in f["title"]
            and "now" in f["title"]
            and not f["title"].startswith("scheduler-service requests/s: 0/s")
            for f in graph(testbed, "scheduler-service", "--since", "5m")[1].get("findings", [])
        ),
        timeout=90,
    )
    standins.set_traffic("scheduler-service", rps=0, latency_ms=40, error_ratio=0.0)
    wait_for(
        lambda: any(
            "stopped serving" in f["title"]
            for f in graph(testbed, "scheduler-service", "--since", "5m")[1].get("findings", [])
        ),
        timeout=120,
    )
    _, day, _ = graph(testbed, "scheduler-service", "--since", "1d")
    rate = next(f for f in day["findings"] if "requests/s" in f["title"])
    assert rate["severity"] == "critical" and "0/s now" in rate["title"], rate
    assert "average" in day["data"]["graph"]["window"], day["data"]["graph"]["window"]  # the chart says what it draws


def test_a_filter_that_never_held_is_said_so_not_a_wrong_name(testbed) -> None:
    _, never, _ = graph(testbed, "sum(rate(http_requests_total[1m])) > 1e9", "--since", "5m")
    [f] = never["findings"]
    assert "the condition never held" in f["title"] and "metric and label names" not in f["title"] + f["detail"], f
    _, wrong, _ = graph(testbed, "no_such_metric_total > 1", "--since", "5m")
    assert "check the metric and label names" in wrong["findings"][0]["detail"], wrong


def test_credentials_in_the_url_are_used_named_and_never_doubled(testbed) -> None:
    url = testbed["ALP_PROMETHEUS__URL"].replace("http://", "http://alp:S3cretWr0ng@")
    code, doubled, err = graph(testbed, "up", ALP_PROMETHEUS__URL=url)
    assert "Traceback" not in err and "ValueError" not in json.dumps(doubled) + err, (doubled, err)
    assert code == 64 or "both in ALP_PROMETHEUS__URL and" in err + json.dumps(doubled), (code, doubled, err)
    assert "S3cretWr0ng" not in err + json.dumps(doubled)
    _, refused, _ = graph(
        testbed, "up", ALP_PROMETHEUS__URL=url, ALP_PROMETHEUS__USERNAME="", ALP_PROMETHEUS__PASSWORD=""
    )
    assert refused["findings"][0]["title"] == "The bot cannot log in to Prometheus as alp (from ALP_PROMETHEUS__URL)", (
        refused
    )
    good = testbed["ALP_PROMETHEUS__URL"].replace("http://", f"http://alp:{testbed['ALP_PROMETHEUS__PASSWORD']}@")
    code, ok, _ = graph(
        testbed, "up", ALP_PROMETHEUS__URL=good, ALP_PROMETHEUS__USERNAME="", ALP_PROMETHEUS__PASSWORD=""
    )
    assert ok["findings"] and "cannot log in" not in json.dumps(ok), ok


def test_prometheus_not_seen_is_unknown_within_its_stated_timeout(testbed) -> None:
    """Down or hanging, Prometheus was not seen: UNKNOWN (exit 3) like a refused login, never CRITICAL,
    and a service's six reads cost the stated timeout once, not once each."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    code, down, _ = graph(testbed, "up", ALP_PROMETHEUS__URL=f"http://127.0.0.1:{closed}")
    assert code == 3 and down["findings"][0]["severity"] == "unknown", (code, down)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(20)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    for query in ("up", "auth-service"):
        code, hung, _ = graph(testbed, query, ALP_PROMETHEUS__URL=url, ALP_PROMETHEUS__TIMEOUT_S="2")
        assert code == 3 and "no answer within 2s" in json.dumps(hung["findings"]), hung
        assert hung["duration_s"] < 2 + 1.5, (query, hung["duration_s"])  # measured inside the run, not its start-up
    listener.close()


def test_the_shell_already_removed_its_quotes_the_query_keeps_its_own(testbed) -> None:
    code, _, said = graph(testbed, '"hello"', "--since", "5m")
    assert code == 64 and 'query: "hello"' in said and 'type "string"' in said, said  # Prometheus saw a string literal
