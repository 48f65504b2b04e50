"""The remediation flow's rules, tested once where they live (commands/actions/flow.py): no
Slack, the test bed's real Redis for the per-target lock and a real state store (SQLite, and
PostgreSQL where concurrency matters). The terminal's `alp do` goes through the same flow."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

from kubernetes import client

from tests.conftest import ROOT
from tests.k8s_world import PLATFORM


def _alp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_terminal_do_follows_the_rules_of_the_slack_flow(testbed, kube_admin, tmp_path):
    """The terminal's `alp do` used to keep its own copy of the flow, which missed rules the
    Slack flow keeps (README, "Remediation"): a refused request is audited, every request is
    stored and audited as requested, and the related check re-runs after the action."""
    env = {**os.environ, **testbed, "ALP_STATE_URL": f"sqlite:///{tmp_path}/t.db", "USER": "oncall-erin"}
    bad = _alp(env, "do", "scale", "user-service", "many", "--yes")
    assert bad.returncode == 64 and "replicas" in bad.stderr
    audit = _alp(env, "audit", "20").stdout
    assert "oncall-erin refused scale" in audit  # Slack audits a refused request; the copy did not

    core = client.CoreV1Api(kube_admin)
    applied = _alp(env, "do", "set-config", "auth-config", "cache_enabled=false", "--yes")
    try:
        assert applied.returncode == 0 and "done: patched configmap auth-config" in applied.stdout
        assert "after set-config:" in applied.stdout.lower()  # the verify check re-ran (health)
        audit = _alp(env, "audit", "20").stdout
        assert "oncall-erin requested set-config" in audit and "oncall-erin outcome set-config" in audit
        with sqlite3.connect(tmp_path / "t.db") as db:
            rows = db.execute("SELECT action, requester, confirmed_by, status FROM alp_action_requests").fetchall()
        assert rows == [("set-config", "oncall-erin", "oncall-erin", "done")]  # stored, moved to done
    finally:
        before = core.read_namespaced_config_map("auth-config", PLATFORM).data
        if before.get("cache_enabled") == "false":
            core.patch_namespaced_config_map("auth-config", PLATFORM, {"data": {"cache_enabled": "true"}})
