"""`alp health` vs the runbook's manual way: the same probes one after another.

(a) in-process: the health check's probes concurrently (what alp does) vs awaited one by one;
(b) whole commands: the `alp health` process vs the runbook's commands run in sequence
    (psql -c 'SELECT 1', redis-cli ping, kafka-topics --list, curl each /health, and the
    API server's pod list with curl where kubectl would be used).
Each service's /health is served by a local fake that answers after DELAY seconds.
Run: scripts/testbed up && .venv/bin/python -m bench.health_vs_sequential [DELAY] [RUNS]
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

import yaml

from bench.common import ROOT, testbed_env
from commands.checks.health import health_probes
from commands.checks.kube_probes import KubeHandle
from commands.config import ChecksConfig, PlatformSettings, ServiceSpec
from commands.probes import run_probes
from commands.registry import CheckContext
from tests.support.fakes import FakePlatform
from tests.support.k8s_world import SERVICES


async def in_process(cfg: ChecksConfig) -> tuple[float, float]:
    ctx = CheckContext(cfg)
    kh = KubeHandle(ctx)
    try:
        t0 = time.perf_counter()
        await run_probes(ctx, health_probes(ctx, kh))
        concurrent = time.perf_counter() - t0
        t0 = time.perf_counter()
        for probe in health_probes(ctx, kh).values():
            await probe()
        sequential = time.perf_counter() - t0
    finally:
        kh.close()
    return concurrent, sequential


def runbook_commands(tb: dict[str, str], platform: FakePlatform) -> list[list[str]]:
    kube = yaml.safe_load(open(tb["KUBECONFIG"]))
    server = kube["clusters"][0]["cluster"]["server"]
    token = kube["users"][0]["user"]["token"]
    cmds = [
        ["curl", "-sk", "-H", f"Authorization: Bearer {token}", f"{server}/api/v1/pods"],
        *(["curl", "-sf", f"{platform.base}/svc/{n}/health"] for n in SERVICES),
        ["psql", tb["ALP_POSTGRES_DSN"], "-c", "SELECT 1;"],
        ["redis-cli", "-u", tb["ALP_REDIS_URL"], "ping"],
        [
            "java",
            "-cp",
            f"{tb['ALP_KAFKA_HOME']}/libs/*",
            "org.apache.kafka.tools.TopicCommand",
            "--bootstrap-server",
            tb["ALP_KAFKA_BOOTSTRAP"],
            "--list",
        ],
    ]
    return cmds


def main() -> None:
    delay = float(sys.argv[1]) if len(sys.argv) > 1 else 0.1
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    tb = testbed_env()
    os.environ["KUBECONFIG"] = tb["KUBECONFIG"]
    platform = FakePlatform().start()
    platform.delay_s = delay
    services = [ServiceSpec(name=n, port=p, url=f"{platform.base}/svc/{n}") for n, p in SERVICES.items()]
    cfg = ChecksConfig(
        postgres_dsn=tb["ALP_POSTGRES_DSN"],
        redis_url=tb["ALP_REDIS_URL"],
        kafka_bootstrap=tb["ALP_KAFKA_BOOTSTRAP"],
        platform=PlatformSettings(services=services),
    )
    try:
        pairs = [asyncio.run(in_process(cfg)) for _ in range(runs)]
        conc, seq = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
        print(f"health probes, /health answering after {delay * 1000:.0f}ms, median of {runs}:")
        print(
            f"  (a) concurrent (alp health): {conc * 1000:7.0f}ms   one after another: {seq * 1000:7.0f}ms"
            f"   ratio {seq / conc:.1f}x"
        )

        env = {**os.environ, **tb, "ALP_PLATFORM__SERVICES": json.dumps([s.model_dump() for s in services])}
        alp_times, manual_times = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "bot.cli", "health"], env=env, capture_output=True, cwd=ROOT)
            alp_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for cmd in runbook_commands(tb, platform):
                subprocess.run(cmd, env=env, capture_output=True)
            manual_times.append(time.perf_counter() - t0)
        a, m = statistics.median(alp_times), statistics.median(manual_times)
        print(f"  (b) `alp health` process: {a:.2f}s   runbook commands in sequence: {m:.2f}s   ratio {m / a:.1f}x")
    finally:
        platform.stop()


if __name__ == "__main__":
    main()
