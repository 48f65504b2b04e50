"""The Kubernetes objects a runbook section names, which must exist: each looked for, a missing
one a fault of its own.

The runbook's login section patches `auth-config` (fallback_enabled, cache_enabled) and reads
`jwt-signing-key`; a check that automates a section looks for every object it names, since a
missing one both breaks the service (a pod that reads it cannot start again) and makes the
section's own remedies impossible (set-config patches it). The JWT secret has its own probe
(commands/checks/auth.py: age and data keys); the configmaps are declared here, once per section.
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.backends.kube import KubeNotFound
from commands.checks.kube_probes import KubeHandle
from commands.probes import Probe
from commands.report import Finding, Severity


@dataclass(frozen=True)
class ConfigMapRef:
    """A configmap a runbook section names: in the platform's namespace unless `namespace` is given."""

    name: str
    used_for: str  # what the section does with it, for the finding
    namespace: str | None = None


AUTH_CONFIG = ConfigMapRef(
    "auth-config", "the runbook patches fallback_enabled and cache_enabled in it; auth-service reads its settings there"
)

# Runbook section (by check target) -> the configmaps it names.
SECTION_OBJECTS: dict[str, tuple[ConfigMapRef, ...]] = {
    "auth": (AUTH_CONFIG,),  # Users Cannot Log In: the OAuth fallback
    "auth-latency": (AUTH_CONFIG,),  # High Authentication Latency: token caching
}


def objects_probe(kh: KubeHandle, target: str) -> Probe:
    """Each configmap `target`'s section names (SECTION_OBJECTS) exists: OK naming them all; a
    missing one WARNING, by name and what the section does with it. A refused read is raised
    (UNKNOWN by `commands.probes`: not seen is not missing)."""

    async def probe() -> list[Finding]:
        cfg = kh.ctx.config
        refs = SECTION_OBJECTS.get(target, ())
        missing: list[tuple[ConfigMapRef, str]] = []
        for ref in refs:
            namespace = ref.namespace or cfg.namespace
            try:
                await kh.get().get_configmap(namespace, ref.name)
            except KubeNotFound:
                missing.append((ref, namespace))
        if not missing:
            names = ", ".join(f"configmap {r.name}" for r in refs)
            return [Finding(severity=Severity.OK, title=f"The runbook's objects for {target} exist: {names}")]
        return [
            Finding(
                severity=Severity.WARNING,
                title=f"configmap {ref.name}{MISSING}{namespace}",
                detail=f"{ref.used_for}. Its remedies (set-config) cannot run, and a pod that reads it will not "
                "start again (CreateContainerConfigError): restore it from the platform's manifests before "
                "restarting anything",
            )
            for ref, namespace in missing
        ]

    return probe


MISSING = " is missing in "


def withdraw_for_missing(findings: list[Finding]) -> list[Finding]:
    """No set-config on a configmap the same report shows missing (patching it fails)."""
    gone = {
        f.title.removeprefix("configmap ").split(MISSING)[0]
        for f in findings
        if f.probe == "objects" and MISSING in f.title
    }
    if gone:
        for f in findings:
            f.suggestions = [
                s for s in f.suggestions if not (s.action == "set-config" and s.params.get("configmap") in gone)
            ]
    return findings
