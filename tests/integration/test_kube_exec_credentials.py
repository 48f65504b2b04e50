"""A kubeconfig whose user is an `exec` credential plugin (cloud providers' `aws eks get-token`,
`gke-gcloud-auth-plugin`, `kubelogin`): one API client per process, so the plugin runs once, not once
per probe (issue #24, observation 6: 40 runs for two checks), and again only when its credential expires.

The plugin here is a script that counts its runs and hands out the test bed's admin token."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support.checks_env import config_for, run
from tests.support.k8s_world import PLATFORM

PLUGIN = """\
import json, sys
from datetime import datetime, timedelta, timezone
with open(sys.argv[1], "a") as f:
    f.write("run\\n")
expires = datetime.now(timezone.utc) + timedelta(seconds=float(sys.argv[3]))
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"token": sys.argv[2], "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}}))
"""


def exec_kubeconfig(tmp_path: Path, testbed: dict[str, str], lifetime_s: float) -> tuple[Path, Path]:
    """A kubeconfig for the test bed's API server whose credentials come from the counting plugin."""
    bed = yaml.safe_load(Path(testbed["KUBECONFIG"]).read_text())
    token = bed["users"][0]["user"]["token"]
    runs, plugin, path = tmp_path / "runs", tmp_path / "plugin.py", tmp_path / "kubeconfig"
    plugin.write_text(PLUGIN)
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(plugin), str(runs), token, str(lifetime_s)],
            "interactiveMode": "Never",
        }
    }
    cluster = bed["clusters"][0]["cluster"]
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "plugin",
                "clusters": [{"name": "bed", "cluster": cluster}],
                "users": [{"name": "plugin", "user": user}],
                "contexts": [{"name": "plugin", "context": {"cluster": "bed", "user": "plugin"}}],
            }
        )
    )
    return path, runs


def runs_of(runs: Path) -> int:
    return len(runs.read_text().splitlines()) if runs.exists() else 0


async def kube_findings(cfg: Any) -> list[str]:
    titles = []
    for target in ("health", "latency"):
        report = await run(target, cfg)
        titles += [f.title for f in report.findings]
    return titles


async def test_an_exec_plugin_runs_once_for_two_checks(testbed, platform, kube_admin, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path, runs = exec_kubeconfig(tmp_path, testbed, lifetime_s=3600)
    monkeypatch.setenv("KUBECONFIG", str(path))
    cfg = config_for(testbed, platform, PLATFORM)
    titles = await kube_findings(cfg)
    assert any("pod" in t.lower() for t in titles), titles  # the checks did read Kubernetes
    assert not any("unreachable" in t.lower() or "credentials" in t.lower() for t in titles), titles
    assert runs_of(runs) == 1, f"the credential plugin ran {runs_of(runs)} times for two checks"


async def test_an_expiring_credential_is_refreshed_not_reused(
    testbed, platform, kube_admin, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A credential within the client's 5-minute expiry margin is taken as expired: the plugin runs
    again for the next call, and the call succeeds with the fresh one."""
    path, runs = exec_kubeconfig(tmp_path, testbed, lifetime_s=60)
    monkeypatch.setenv("KUBECONFIG", str(path))
    cfg = config_for(testbed, platform, PLATFORM)
    await run("health", cfg)
    first = runs_of(runs)
    report = await run("health", cfg)
    assert runs_of(runs) > first >= 1
    assert not any("unreachable" in f.title.lower() for f in report.findings)
