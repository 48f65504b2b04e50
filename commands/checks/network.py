"""`network` (Service-to-Service Communication Failures) and `external` (External API Failures)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from commands.backends import net
from commands.checks.endpoint_probes import host_port, tcp_probe
from commands.checks.kube_probes import KubeHandle, pods_probe
from commands.probes import Probe, availability, run_probes
from commands.registry import CheckContext, CheckResult, NoParams, check
from commands.report import Finding, Severity, Suggestion, Table


def empty_endpoints_probe(kh: KubeHandle, namespace: str) -> Probe:
    """`kubectl get endpoints`: services with no ready address."""

    async def probe() -> list[Finding]:
        eps = await kh.get().list_endpoints(namespace)
        if not eps:
            return [
                Finding(
                    severity=Severity.UNKNOWN,
                    title=f"No services (endpoints) in {namespace}, nothing to judge",
                    detail="looked for the endpoints of every service in the namespace",
                )
            ]
        empty = [e.metadata.name for e in eps if not any(s.addresses for s in (e.subsets or []))]
        if not empty:
            return [Finding(severity=Severity.OK, title=f"All {len(eps)} service(s) have ready endpoints")]
        return [
            Finding(
                severity=Severity.CRITICAL,
                title=f"{len(empty)} service(s) with no ready endpoint: {', '.join(sorted(empty))}",
                detail="traffic to these services has nowhere to go",
            )
        ]

    return probe


def _selects_all(p: Any) -> bool:
    sel = p.spec.pod_selector
    return sel is None or not (sel.match_labels or sel.match_expressions)


def _ingress_typed(p: Any) -> bool:
    types = p.spec.policy_types
    return "Ingress" in types if types else True  # no policyTypes: Ingress is implied (Kubernetes API docs)


def _egress_typed(p: Any) -> bool:
    types = p.spec.policy_types
    # no policyTypes: Egress is implied only when the policy has egress rules (Kubernetes API docs)
    return "Egress" in types if types else bool(p.spec.egress)


def denies_all(pols: list[Any], direction: str) -> list[str]:
    """Policies that select every pod, are typed `direction` ("ingress"/"egress") and allow none
    of it, when no policy allows any of it (the usual "default deny, then allow" pattern is fine):
    every pod is cut off that way."""
    typed = _ingress_typed if direction == "ingress" else _egress_typed
    deny = [p.metadata.name for p in pols if _selects_all(p) and typed(p) and not getattr(p.spec, direction)]
    allows = [p.metadata.name for p in pols if typed(p) and getattr(p.spec, direction)]
    return deny if not allows else []


def selects(selector: Any, labels: dict[str, str]) -> bool:
    """Whether a LabelSelector (matchLabels and matchExpressions: In, NotIn, Exists, DoesNotExist)
    selects a pod with `labels`; an empty selector selects every pod (Kubernetes API docs)."""
    if selector is None:
        return True
    if any(labels.get(k) != v for k, v in (selector.match_labels or {}).items()):
        return False
    for e in selector.match_expressions or []:
        has, value, values = e.key in labels, labels.get(e.key), e.values or []
        if {
            "In": has and value in values,
            "NotIn": not has or value not in values,
            "Exists": has,
            "DoesNotExist": not has,
        }.get(e.operator, False) is False:
            return False
    return True


def _selector_text(selector: Any) -> str:
    return ",".join(f"{k}={v}" for k, v in (selector.match_labels or {}).items()) or "its selector"


def isolated(pols: list[Any], pods: list[Any]) -> list[tuple[str, list[str], str]]:
    """(policy, the apps of the pods it cuts off, its selector) for each policy that selects some
    pods (not every pod: `denies_all`), types Ingress and allows none, where no policy allows
    those pods any ingress: the runbook's Service-to-Service Communication Failures, for one
    service. Pods are named by their `app` label."""
    allowing = [p for p in pols if _ingress_typed(p) and p.spec.ingress]
    out = []
    for p in pols:
        if _selects_all(p) or not _ingress_typed(p) or p.spec.ingress:
            continue
        cut = [
            x
            for x in pods
            if selects(p.spec.pod_selector, x.metadata.labels or {})
            and not any(selects(a.spec.pod_selector, x.metadata.labels or {}) for a in allowing)
        ]
        apps = sorted({(x.metadata.labels or {}).get("app") or x.metadata.name for x in cut})
        matched = any(selects(p.spec.pod_selector, x.metadata.labels or {}) for x in pods)
        if cut or not matched:  # no pod now: the service is cut off as soon as one starts
            out.append((p.metadata.name, apps, _selector_text(p.spec.pod_selector)))
    return out


def policies_probe(kh: KubeHandle, namespace: str) -> Probe:
    """Network policies, judged: one that selects every pod, types Ingress (Egress) and allows
    nothing that way isolates every pod; unless another policy allows some of it (the usual
    "default deny, then allow" pattern), no service can reach another (no pod can reach
    anything, DNS included). CRITICAL, naming it (`denies_all`)."""

    async def probe() -> list[Finding]:
        pols = await kh.get().list_network_policies(namespace)
        rows = [
            [p.metadata.name, ",".join(p.spec.policy_types or []), str(p.spec.pod_selector.match_labels or "all pods")]
            for p in pols
        ]
        evidence = [Table(columns=["policy", "types", "selects"], rows=rows)] if rows else []
        deny_all = [p.metadata.name for p in pols if _selects_all(p) and _ingress_typed(p) and not p.spec.ingress]
        allows = [p.metadata.name for p in pols if _ingress_typed(p) and p.spec.ingress]
        cut: list[Finding] = []
        if deny_in := denies_all(pols, "ingress"):
            cut.append(
                Finding(
                    severity=Severity.CRITICAL,
                    title=f"NetworkPolicy {', '.join(deny_in)} denies all ingress to every pod in {namespace}",
                    detail="no policy allows any ingress: services cannot reach one another "
                    "(kubectl describe networkpolicy; add an allow rule or remove the deny)",
                    evidence=evidence,
                )
            )
        if deny_out := denies_all(pols, "egress"):
            cut.append(
                Finding(
                    severity=Severity.CRITICAL,
                    title=f"NetworkPolicy {', '.join(deny_out)} denies all egress from every pod in {namespace}",
                    detail="no policy allows any egress: no pod reaches PostgreSQL, Redis, Kafka, another "
                    "service or even DNS (kubectl describe networkpolicy; allow egress to them, and to "
                    "kube-dns on port 53, or remove the deny)",
                    evidence=evidence,
                )
            )
        if not cut:
            pods = await kh.get().list_pods(namespace)
            for name, apps, selector in isolated(pols, pods):
                cut.append(
                    Finding(
                        severity=Severity.WARNING,
                        title=f"NetworkPolicy {name} denies all ingress to {', '.join(apps) or selector}"
                        + ("" if apps else " (no pod of it running now)"),
                        detail=f"it selects {selector}, types Ingress and allows none, and no policy allows "
                        "those pods any ingress: no other service can reach them (kubectl describe "
                        "networkpolicy; add an allow rule for the callers, or remove the policy). The bot's "
                        "own TCP probes do not pass through policies between pods: their reachability is no "
                        "proof",
                        evidence=evidence,
                    )
                )
        if cut:
            return cut
        return [
            Finding(
                severity=Severity.OK,
                title=f"{len(pols)} network policy(ies) in {namespace}"
                + (f" (default deny {', '.join(deny_all)}, allowed by {', '.join(allows)})" if deny_all else ""),
                evidence=evidence,
            )
        ]

    return probe


# The bot connects from where it runs: NetworkPolicies between the platform's pods do not apply
# to that connection, so its reachability proves nothing about them (the policies probe judges those).
FROM_THE_BOT = (
    "from the bot: NetworkPolicies between pods do not apply to this connection, so it is no proof that "
    "services reach one another (the policies finding judges those)"
)


@check(
    "network",
    summary="istio-system pods, network policies, empty endpoints, service-to-service TCP",
    runbook="Network and Connectivity Issues — Service-to-Service Communication Failures",
    probes=lambda cfg: ("istio", "policies", "endpoints", *(f"tcp {s.name}" for s in cfg.platform.services)),
)
async def network(ctx: CheckContext, params: NoParams) -> CheckResult:
    cfg = ctx.config
    with KubeHandle(ctx) as kh:

        def restart_istiod() -> list[Suggestion]:
            return [
                Suggestion(
                    action="restart",
                    params={
                        "namespace": "istio-system",
                        "deployment": "istiod",
                    },
                    why="runbook: restart Istio components",
                )
            ]

        probes: dict[str, Probe] = {
            "istio": pods_probe(kh, "istio-system", None, "istio-system", restart_istiod),
            "policies": policies_probe(kh, cfg.namespace),
            "endpoints": empty_endpoints_probe(kh, cfg.namespace),
        }
        for s in cfg.platform.services:
            host, port = host_port(cfg, s.name)
            probes[f"tcp {s.name}"] = tcp_probe(host, port, s.name, cfg.timeouts.probe_s, note=FROM_THE_BOT)
        findings = await run_probes(ctx, probes)
    return CheckResult(findings)


@check(
    "external",
    summary="DNS resolution and HTTPS reachability of the OAuth provider",
    runbook="Network and Connectivity Issues — External API Failures",
    probes=("dns", "https"),
)
async def external(ctx: CheckContext, params: NoParams) -> CheckResult:
    cfg = ctx.config
    url = cfg.endpoints.oauth_url
    host = urlsplit(url).hostname or url
    alternative = Suggestion(
        action="set-config",
        params={"configmap": "auth-config", "oauth_endpoint": "https://backup-auth0.com"},
        why="runbook: use the alternative endpoint",
    )

    async def dns() -> list[Finding]:
        try:
            addrs = await net.resolve(host, cfg.timeouts.probe_s)
        except (OSError, TimeoutError) as err:
            return [
                Finding(
                    severity=Severity.CRITICAL,
                    title=f"DNS: {host} does not resolve",
                    detail=str(err),
                    suggestions=[alternative],
                )
            ]
        return [Finding(severity=Severity.OK, title=f"DNS: {host} -> {', '.join(addrs[:4])}")]

    async def https() -> list[Finding]:
        res = await net.http_get(url, cfg.timeouts.probe_s)
        if res.status is None or res.status >= 500:
            return [
                Finding(
                    severity=Severity.CRITICAL,
                    title=f"{url} unreachable" if res.status is None else f"{url} answers HTTP {res.status}",
                    detail=res.error or f"HTTP {res.status}",
                    suggestions=[alternative],
                )
            ]
        return [Finding(severity=Severity.OK, title=f"{url}: HTTP {res.status} in {res.ms:.0f}ms")]

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return CheckResult(
            [
                Finding(
                    severity=Severity.UNKNOWN,
                    title=f"OAuth provider URL {url!r} is not an http(s) URL: nothing to check",
                    detail="set ALP_ENDPOINTS__OAUTH_URL to the provider's base URL, e.g. https://auth0.com",
                    probe="dns",
                )
            ]
        )
    findings = await run_probes(ctx, {"dns": availability(dns), "https": availability(https)})
    return CheckResult(findings)
