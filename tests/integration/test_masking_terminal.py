"""Secrets masked by kind on the terminal's paths (`alp audit`, `alp --json`, `alp changes`) against
the test bed's real servers; the kinds themselves: tests/unit/test_masking.py."""

from __future__ import annotations

import asyncio
import json
import os

from kubernetes import client

from commands.masking.redact import MASK
from escalation.state.audit import AuditLog
from tests.support.processes import alp

APP_TOKEN = "xapp-1-A07QWERTY12-7712345678901-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def configmap(api, ns: str, name: str, data: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    client.CoreV1Api(api).create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data=data)
    )


def test_alp_audit_and_json_mask_the_new_shapes(testbed, tmp_path):  # type: ignore[no-untyped-def]
    state = f"sqlite:///{tmp_path}/state.db"
    result = "ran: redis-cli -h r -a Aud1tRedis ping; mysql -u x -pAud1tMy; " + APP_TOKEN

    async def record() -> None:
        store = AuditLog(state)
        await store.record("U0ALICE", "outcome", "flush-cache", {"note": "AUTH Aud1tAuth"}, result)
        await store.close()

    asyncio.run(record())
    for args in (("audit", "5"), ("--json", "audit", "5")):
        out = alp(*args, env={**testbed, "ALP_STATE_URL": state})
        assert out.returncode == 0, out.stderr
        assert "flush-cache" in out.stdout
        for secret in ("Aud1tRedis", "Aud1tMy", "Aud1tAuth", "9f8e7d6c5b4a"):
            assert secret not in out.stdout, (args, secret)


def test_alp_changes_shows_a_url_under_an_auth_key_and_masks_the_secret_beside_it(testbed, kube_admin, ns, tmp_path):  # type: ignore[no-untyped-def]
    """#29 item 7: the runbook's switch to the backup OAuth endpoint must be readable in `changes`."""

    configmap(kube_admin, ns, "auth-config", {"cache_ttl": "60"})
    backup = "https://oauth-backup.auth.example.com/oauth2/authorize"
    client.CoreV1Api(kube_admin).patch_namespaced_config_map(
        "auth-config",
        ns,
        {"data": {"oauth_endpoint": backup, "oauth_client_secret": "Cl13ntS3cr3t", "auth_enabled": "true"}},
        field_manager="kubectl-edit",
    )
    env = {**os.environ, **testbed, "ALP_NAMESPACE": ns, "ALP_PLATFORM__INFRA_NAMESPACE": ns}
    env["ALP_STATE_URL"] = f"sqlite:///{tmp_path}/state.db"
    out = alp("--json", "changes", "--since", "10m", env=env)
    assert out.returncode == 0, out.stderr
    edit = next(c for c in json.loads(out.stdout)["data"]["changes"] if c["by"] == "kubectl-edit")
    assert edit["after"]["oauth_endpoint"] == backup and edit["after"]["auth_enabled"] == "true"
    assert edit["after"]["oauth_client_secret"] == MASK
    assert "Cl13ntS3cr3t" not in out.stdout and backup in alp("changes", "--since", "10m", env=env).stdout
