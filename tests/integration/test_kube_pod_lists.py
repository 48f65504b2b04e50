"""Pod lists are decoded lean: the checks read a pod's status, spec and metadata, never its
`managedFields` (about 40 % of a pod's JSON), so `Kube.list_pods` drops them before the client's
models are built (less work beside the event loop; the soak showed the client's decoding at 8-9 %
of the GIL), and validates the list in one pass (pydantic's core) instead of the client's
`from_dict` per object. Everything else is what the client itself would have made."""

from __future__ import annotations

from kubernetes import client

from commands.backends.kube import Kube
from tests.support.k8s_world import make_pod


async def test_listed_pods_are_the_clients_own_models_without_managed_fields(kube_admin, ns) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        make_pod(kube_admin, ns, f"lean-{i}", "lean-service", restarts=i)
    theirs = client.CoreV1Api(kube_admin).list_namespaced_pod(ns).items
    assert all(p.metadata.managed_fields for p in theirs)  # the API server keeps them on every pod

    kube = Kube(10, kube_admin.configuration)
    try:
        ours = await kube.list_pods(ns)
        selected = await kube.list_pods(ns, "app=lean-service")
        everywhere = [p for p in await kube.list_pods(None) if p.metadata.namespace == ns]
    finally:
        kube.close()
    for got in (ours, selected, everywhere):
        assert [type(p) for p in got] == [client.V1Pod] * 3
        assert all(p.metadata.managed_fields is None for p in got)
        lean = [
            p.model_copy(update={"metadata": p.metadata.model_copy(update={"managed_fields": None})}) for p in theirs
        ]
        assert sorted(got, key=lambda p: p.metadata.name) == sorted(lean, key=lambda p: p.metadata.name)
    assert [p.status.container_statuses[0].restart_count for p in sorted(ours, key=lambda p: p.metadata.name)] == [
        0,
        1,
        2,
    ]


async def test_listed_events_are_the_clients_own_models_without_managed_fields(kube_admin, ns) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    core = client.CoreV1Api(kube_admin)
    for i in range(3):
        at = dt.datetime(2026, 12, 8, 0, i, tzinfo=dt.UTC)
        core.create_namespaced_event(
            ns,
            client.CoreV1Event(
                metadata=client.V1ObjectMeta(name=f"lean-{i}"),
                involved_object=client.V1ObjectReference(kind="Pod", name=f"lean-{i}", namespace=ns),
                reason="BackOff",
                message=f"Back-off restarting failed container {i}",
                type="Warning",
                last_timestamp=at,
                first_timestamp=at,
            ),
        )
    theirs = core.list_namespaced_event(ns).items
    assert all(e.metadata.managed_fields for e in theirs)
    kube = Kube(10, kube_admin.configuration)
    try:
        ours = await kube.list_events(ns)
    finally:
        kube.close()
    assert [e.metadata.name for e in ours] == ["lean-2", "lean-1", "lean-0"]  # newest first
    assert all(type(e) is client.CoreV1Event and e.metadata.managed_fields is None for e in ours)
    lean = {
        e.metadata.name: e.model_copy(update={"metadata": e.metadata.model_copy(update={"managed_fields": None})})
        for e in theirs
    }
    assert all(e == lean[e.metadata.name] for e in ours)
