"""A graph's cost: Prometheus' range query and alp's chart of it, with 1, 10 and 100 series.

Against the test bed's real Prometheus (scripts/testbed up), over the platform stand-in's scraped
request histograms (1, 10 and 100 series of `rate(…[1m])`: a sum, bucket series, the buckets twice
and the +Inf buckets once more under a `copy` label), 240 points a series over `--window` (15 min
by default: a fresh bed has little more history) — what `alp graph` and an alert's message ask.
For each series count:

- baseline: `curl` of Prometheus' `/api/v1/query_range` (what an engineer without alp runs; the
  runbook's "Check monitoring dashboards" is Grafana, which asks the same API), wall time;
- alp query: `commands.backends.prometheus.Prometheus.query_range` (HTTP, the answer read whole,
  JSON decoded in a worker thread), wall and CPU seconds of this process;
- alp render: `commands.graph.chart.graph_png` (matplotlib, Agg), wall and CPU seconds.

Every chart must decode as a PNG with the series drawn (asserted), so a fast wrong chart cannot pass.
Wall time on a shared machine depends on its load (printed before and after); CPU seconds are alp's
own cost. Run: .venv/bin/python -m bench.graph [--reps 3]   (under a minute on a busy machine)
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import testbed_env

B = "rate(http_request_duration_seconds_bucket[1m])"
QUERIES = {  # series count -> PromQL over the stand-in's scraped history (4 services, 12 buckets each)
    1: "sum(rate(http_requests_total[1m]))",
    10: 'rate(http_request_duration_seconds_bucket{service=~"auth-service|ml-service",le=~"0.005|0.01|0.025|0.05|0.1"}[1m])',
    100: f'{B} or label_replace({B}, "copy", "2", "", "") or label_replace('
    'rate(http_request_duration_seconds_bucket{le="+Inf"}[1m]), "copy", "3", "", "")',
}


def curl_range(env: dict[str, str], expr: str, start: datetime, end: datetime, step: float) -> float:
    """Seconds `curl` takes for Prometheus' query_range of `expr` (the baseline of the graph benches)."""
    t0 = time.perf_counter()
    out = subprocess.run(
        [
            "curl", "-sf", "-u", f"{env['ALP_PROMETHEUS__USERNAME']}:{env['ALP_PROMETHEUS__PASSWORD']}",
            f"{env['ALP_PROMETHEUS__URL']}/api/v1/query_range",
            "--data-urlencode", f"query={expr}",
            "--data-urlencode", f"start={start.timestamp():.3f}",
            "--data-urlencode", f"end={end.timestamp():.3f}",
            "--data-urlencode", f"step={step:g}",
        ],
        capture_output=True,
        check=True,
    )  # fmt: skip
    took = time.perf_counter() - t0
    assert b'"status":"success"' in out.stdout
    return took


async def _alp_query(settings: Any, expr: str, start: datetime, end: datetime, step: float) -> tuple[Any, float, float]:
    from commands.backends.prometheus import Prometheus

    w0, c0 = time.perf_counter(), time.process_time()
    async with Prometheus(settings) as prom:
        answer = await prom.query_range(expr, start, end, step)
    return answer, time.perf_counter() - w0, time.process_time() - c0


def _render(answer: Any, n: int, start: datetime, end: datetime) -> tuple[bytes, float, float]:
    from commands.graph.chart import graph_png

    data = {
        "graph": {
            "title": f"{n} series",
            "window": "last 1 h",
            "start": start.timestamp(),
            "end": end.timestamp(),
            "panels": [
                {
                    "title": "alp_testbed_series",
                    "unit": "",
                    "expr": "alp_testbed_series",
                    "series": [{"labels": s.labels, "points": [[t, v] for t, v in s.points]} for s in answer.series],
                }
            ],
        }
    }
    w0, c0 = time.perf_counter(), time.process_time()
    png = graph_png(data)
    took, cpu = time.perf_counter() - w0, time.process_time() - c0
    assert png is not None and png.startswith(b"\x89PNG")
    return png, took, cpu


def _drawn(png: bytes) -> bool:
    import matplotlib.image

    img = matplotlib.image.imread(io.BytesIO(png), format="png")
    return bool(img[..., :3].std() > 0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--window", type=int, default=900, help="seconds back (the bed's Prometheus keeps a day)")
    args = parser.parse_args()
    env = testbed_env()
    os.environ.update(env)
    from commands.config import PrometheusSettings

    settings = PrometheusSettings(
        url=env["ALP_PROMETHEUS__URL"],
        username=env["ALP_PROMETHEUS__USERNAME"],
        password=env["ALP_PROMETHEUS__PASSWORD"],
    )
    load_before = os.getloadavg()[0]
    end = datetime.now(UTC)
    start = end - timedelta(seconds=args.window)
    step = args.window / 240
    import matplotlib  # the first import is a one-off cost (about a second), not a graph's

    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # noqa: F401

    rows = []
    for n in (1, 10, 100):
        expr = QUERIES[n]
        curl = [curl_range(env, expr, start, end, step) for _ in range(args.reps)]
        q_wall, q_cpu, r_wall, r_cpu = [], [], [], []
        for _ in range(args.reps):
            answer, w, c = asyncio.run(_alp_query(settings, expr, start, end, step))
            assert len(answer.series) == n, (n, len(answer.series))
            q_wall.append(w)
            q_cpu.append(c)
            png, w, c = _render(answer, n, start, end)
            r_wall.append(w)
            r_cpu.append(c)
        assert _drawn(png)
        points = sum(len(s.points) for s in answer.series)
        rows.append((n, points, min(curl), min(q_wall), min(q_cpu), min(r_wall), min(r_cpu), len(png)))
    load_after = os.getloadavg()[0]
    print(f"load (1-min average) {load_before:.1f} before, {load_after:.1f} after; best of {args.reps}")
    print(
        "| series | points | curl query_range wall s | alp query wall s | alp query CPU s | render wall s | render CPU s | PNG KiB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n, points, curl_s, qw, qc, rw, rc, size in rows:
        print(f"| {n} | {points} | {curl_s:.3f} | {qw:.3f} | {qc:.3f} | {rw:.3f} | {rc:.3f} | {size / 1024:.0f} |")


if __name__ == "__main__":
    main()
