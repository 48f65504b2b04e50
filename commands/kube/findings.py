"""Findings for Kubernetes answers that are not data: refusals, missing APIs, no API server."""

from __future__ import annotations

from commands.backends.kube_errors import KubeError, KubeForbidden, KubeNotFound, KubeUnavailable
from commands.report import Finding, Severity


def refusal_finding(err: KubeForbidden) -> Finding:
    """RBAC said no: say what the bot could not do and where the grant lives."""
    text = str(err)
    return Finding(
        severity=Severity.CRITICAL,
        title=text[0].upper() + text[1:],
        detail=(
            "The Kubernetes API refused the bot (HTTP 403). If this is part of its job, "
            "grant the verb in deploy/rbac.yaml; otherwise someone tried something outside it."
        ),
        probe="kubernetes",
    )


def kube_error_finding(err: KubeError, what: str) -> Finding:
    """The finding for any KubeError met while gathering `what`."""
    if isinstance(err, KubeForbidden):
        return refusal_finding(err)
    if isinstance(err, KubeUnavailable):
        return Finding(
            severity=Severity.CRITICAL, title="Kubernetes API unreachable", detail=str(err), probe="kubernetes"
        )
    if isinstance(err, KubeNotFound):
        return Finding(severity=Severity.WARNING, title=f"{what}: {err}", probe="kubernetes")
    return Finding(severity=Severity.UNKNOWN, title=f"Could not read {what}", detail=str(err), probe="kubernetes")
