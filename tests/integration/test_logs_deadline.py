"""`alp logs` over more lines than its time limit allows: the deadline ends the CPU work too."""

from __future__ import annotations

import time

import commands.logs  # noqa: F401  (registers the step)
from commands.logs.groups import digest
from commands.registry import FIRST_STEPS, CheckContext
from commands.report import Severity
from commands.runner import run_check
from commands.runtime.cpu import Cutoff
from tests.support.checks_env import config_for
from tests.support.k8s_world import make_pod
from tests.support.log_lines import varied_lines


async def test_the_deadline_ends_the_grouping_and_says_what_it_saw(testbed, platform, kube_admin, kubelet, ns):
    """A check's time limit ends its CPU work too: the newest lines are grouped, the rest are
    named as not examined (UNKNOWN), and the answer comes within the limit.

    The limit is set from this machine's own speed (a fast idle machine groups 100,000 lines in
    a few seconds, a loaded one takes many times that): first the whole read with time to spare,
    which examines every line, then a limit that leaves the grouping about a third of the time it took
    (the first run's reading also paid for starting the worker process)."""
    texts = []
    for i in range(10):
        make_pod(kube_admin, ns, f"late-{i}", "late-logs")
        kubelet.logs[(ns, f"late-{i}")] = text = varied_lines(100 + i, 10_000)
        texts.append((f"late-{i}", text))
    spec = FIRST_STEPS.get("logs")
    assert spec is not None
    params = spec.params.model_validate({"service": "late-logs", "tail": 10_000})

    cfg = config_for(testbed, platform, ns)
    cfg.timeouts.check_s = 600
    t0 = time.monotonic()
    whole = await run_check(spec, CheckContext(cfg), params)
    took_whole = time.monotonic() - t0
    assert not [f for f in whole.findings if "not examined" in f.title]
    assert whole.data["lines_examined"] == whole.data["lines_read"] == 100_000

    t0 = time.monotonic()
    digest(texts, None, Cutoff())
    grouping = time.monotonic() - t0
    reading = max(0.0, took_whole - grouping)

    cfg.timeouts.check_s = max(3, round(reading + grouping / 3 + 1.5))
    t0 = time.monotonic()
    report = await run_check(spec, CheckContext(cfg), params)
    took = time.monotonic() - t0

    assert took < cfg.timeouts.check_s + 1, took
    assert "did not finish" not in report.to_json()
    cut = next((f for f in report.findings if "not examined" in f.title), None)
    assert cut is not None, (cfg.timeouts.check_s, reading, grouping, report.data["lines_examined"])
    assert cut.severity is Severity.UNKNOWN and "of 100000" in cut.title
    examined = report.data["lines_examined"]
    assert 0 < examined < 100_000, (cfg.timeouts.check_s, reading, grouping, examined)
    assert report.data["lines_read"] == 100_000
    assert sum(t["count"] for t in report.data["templates"]) == examined == len(report.data["raw_lines"])
