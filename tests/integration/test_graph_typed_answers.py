"""`alp graph` of typed PromQL against the bed's real Prometheus: what a fresh tester typed. Every
series is the answer (shown, not judged), never a count of OKs; a count is a number, not seconds; a
series that ended inside the window is said as ended, not UNKNOWN; a label-less series is named by
its expression; a query Prometheus refuses as malformed is a usage error (64) with its own message."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from tests.support.processes import alp


def graph(testbed: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    out = alp("--json", "graph", *args, env=testbed)
    return out.returncode, (json.loads(out.stdout) if out.stdout.strip() else {}), out.stderr


def test_more_than_ten_typed_series_are_shown_not_counted_as_checks_and_counts_are_numbers(
    testbed: dict[str, str],
) -> None:
    # the bed's four services each have a dozen buckets: well over the ten the chart draws
    code, report, err = graph(testbed, "http_request_duration_seconds_bucket", "--since", "5m")
    assert code == 0, (code, report, err)
    assert report["headline"].startswith("graph: shown, not judged"), report["headline"]
    assert "checks OK" not in report["headline"], report["headline"]
    more = [f for f in report["findings"] if "more series" in f["title"]]
    assert more and not more[0]["judged"], more  # a note about the chart, not a check
    titles = [f["title"] for f in report["findings"]]
    assert not any("e+" in t for t in titles), titles
    inf = next(t for t in titles if 'le="+Inf"' in t)
    assert not inf.split("}: ")[1].split(" now")[0].endswith("s"), inf  # a count of requests, not seconds
    text = alp("graph", "http_request_duration_seconds_bucket", "--since", "5m", env=testbed).stdout
    assert "[ OK ]" not in text and "checks OK" not in text, text


def test_a_series_that_ended_inside_the_window_is_said_ended_not_unknown(testbed: dict[str, str]) -> None:
    ended_at = int(time.time()) - 120  # a real series whose samples stop two minutes ago
    query = f'up or label_replace(vector(time()) < {ended_at}, "job", "gone", "", "")'
    code, report, err = graph(testbed, query, "--since", "10m")
    assert code == 0, (code, report, err)
    assert not report["headline"].startswith("graph: UNKNOWN"), report["headline"]
    gone = next(f for f in report["findings"] if 'job="gone"' in f["title"])
    hhmm = datetime.fromtimestamp(ended_at - ended_at % 15, UTC).strftime("%H:%M")
    assert "ended" in gone["title"] and gone["severity"] != "unknown" and not gone["judged"], gone
    assert hhmm in gone["title"] or "ended at" in gone["title"], (hhmm, gone)
    live = [f for f in report["findings"] if "up{" in f["title"]]
    assert live and all("now" in f["title"] for f in live), live


def test_a_label_less_series_is_named_by_its_expression(testbed: dict[str, str]) -> None:
    _, report, _ = graph(testbed, "1/0", "--since", "5m")
    title = report["findings"][0]["title"]
    assert not title.startswith("{}") and "1/0" in title, title


def test_a_malformed_query_is_a_usage_error_with_prometheus_own_message(testbed: dict[str, str]) -> None:
    out = alp("graph", "rate(http_requests_total[5m]", "--since", "5m", env=testbed)
    assert out.returncode == 64, (out.returncode, out.stdout, out.stderr)
    assert "parse error" in out.stderr and "Traceback" not in out.stderr, out.stderr
    code, _, err = graph(testbed, "sum(", "--since", "5m")
    assert code == 64 and "parse error" in err, (code, err)


def test_one_series_with_no_number_beside_others_is_shown_not_the_whole_answer_unknown(testbed: dict[str, str]) -> None:
    # an idle service's error ratio is 0/0 (NaN) beside the others' numbers: all were read
    query = 'label_replace(vector(0.5), "s", "busy", "", "") or label_replace(vector(0) / 0, "s", "idle", "", "")'
    code, report, err = graph(testbed, query, "--since", "5m")
    assert code == 0 and report["headline"].startswith("graph: shown, not judged"), (code, report, err)
    idle = next(f for f in report["findings"] if "idle" in f["title"])
    assert "nan" in idle["title"].lower() and not idle["judged"], idle
    code, alone, _ = graph(testbed, "0/0", "--since", "5m")  # nothing with a number read: could not see
    assert code == 3 and alone["findings"][0]["severity"] == "unknown", alone
