"""Which pods a NetworkPolicy cuts off (issue #25, round 4)."""

from __future__ import annotations

from kubernetes import client

from commands.checks.network import isolated, selects


def sel(**labels: str) -> client.V1LabelSelector:
    return client.V1LabelSelector(match_labels=labels)


def policy(name: str, selector: client.V1LabelSelector, allow: bool) -> client.V1NetworkPolicy:
    rules = [client.V1NetworkPolicyIngressRule()] if allow else None
    return client.V1NetworkPolicy(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1NetworkPolicySpec(pod_selector=selector, policy_types=["Ingress"], ingress=rules),
    )


def pod(app: str) -> client.V1Pod:
    return client.V1Pod(metadata=client.V1ObjectMeta(name=f"{app}-1", labels={"app": app, "tier": "api"}))


def test_selector_expressions():
    expr = client.V1LabelSelectorRequirement
    labels = {"app": "user-service", "tier": "api"}
    assert selects(client.V1LabelSelector(), labels)
    assert selects(
        client.V1LabelSelector(match_expressions=[expr(key="app", operator="In", values=["user-service"])]), labels
    )
    assert not selects(client.V1LabelSelector(match_expressions=[expr(key="tier", operator="DoesNotExist")]), labels)
    assert selects(
        client.V1LabelSelector(match_expressions=[expr(key="canary", operator="NotIn", values=["1"])]), labels
    )


def test_one_service_cut_off_unless_allowed():
    pods = [pod("user-service"), pod("auth-service")]
    deny = policy("isolate-user", sel(app="user-service"), allow=False)
    assert isolated([deny], pods) == [("isolate-user", ["user-service"], "app=user-service")]
    assert isolated([deny, policy("allow-user", sel(app="user-service"), allow=True)], pods) == []
    assert isolated([deny, policy("allow-auth", sel(app="auth-service"), allow=True)], pods)  # another's allow
    assert isolated([policy("isolate-api", sel(tier="api"), allow=False)], pods)[0][1] == [
        "auth-service",
        "user-service",
    ]
