"""The probe catalogue of runbook files at run time: one function per kind, over the existing backends.

Each returns an `Observed` (findings + the evidence fields templates may name). The rules are the
built-in checks': nothing read is UNKNOWN with what was looked for, never OK; a value is judged
against the probe's thresholds in its stated unit and the finding names the window or source it
rests on; counters are rates over the rate window. Backend failures raise `BackendError`, which
`commands.probes.run_probes` turns into the one finding per cause. Pattern matching over log
lines runs in a worker thread (RE2, linear time).
"""

from __future__ import annotations

from commands.runbook.probes.base import Runner
from commands.runbook.probes.kube import endpoints, events, logs, pods, usage
from commands.runbook.probes.net import dns, http, tcp
from commands.runbook.probes.stores import check_target, kafka_lag, redis_info, redis_keys, sql

RUNNERS: dict[str, Runner] = {
    "pods": pods,
    "logs": logs,
    "events": events,
    "http": http,
    "tcp": tcp,
    "endpoints": endpoints,
    "dns": dns,
    "sql": sql,
    "redis_info": redis_info,
    "redis_keys": redis_keys,
    "kafka_lag": kafka_lag,
    "usage": usage,
    "check": check_target,
}
