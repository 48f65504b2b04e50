"""Load what the test bed's stand-ins (scripts/world/standins.py) serve: pod logs behind the
kubelet stand-in, pod metrics behind the metrics stand-in, the services' /health answers behind
the platform stand-in. Used by the tests (the `kubelet` fixture) and by `scripts/testbed demo`.

    kubelet = StandIns.from_env(env)          # env: `scripts/testbed env` (ALP_TESTBED_*_PORT)
    kubelet.logs[("ns", "pod")] = "line\\n"    # what `kubectl logs pod -n ns` then shows (any container)
    kubelet.logs[("ns", "pod/sidecar")] = "…"  # one container's own text (`kubectl logs pod -c sidecar`)
    kubelet.set_pod_metrics("ns", "pod", cpu="300m", memory="980Mi")
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

_INSECURE = ssl.create_default_context()
_INSECURE.check_hostname = False
_INSECURE.verify_mode = ssl.CERT_NONE  # the stand-ins' self-signed certificates, on loopback


def _call(base: str, method: str, path: str, body: bytes | None = None) -> Any:
    req = urllib.request.Request(base + path, data=body, method=method)
    with urllib.request.urlopen(req, timeout=10, context=_INSECURE if base.startswith("https") else None) as resp:
        return json.loads(resp.read() or b"null")


class _Logs:
    """(namespace, pod) -> log text, stored in the kubelet stand-in (`previous-logs`: the
    container before its last restart, what `kubectl logs --previous` shows)."""

    def __init__(self, base: str, kind: str = "logs") -> None:
        self._base = base
        self._kind = kind

    def __setitem__(self, key: tuple[str, str], text: str) -> None:
        path = f"/testbed/{self._kind}/{quote(key[0], safe='')}/{quote(key[1], safe='')}"
        _call(self._base, "PUT", path, text.encode())

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter([(ns, pod) for ns, pod in _call(self._base, "GET", f"/testbed/{self._kind}")])


class _LogRequests:
    """The containerLogs requests the kubelet stand-in has seen: {"pod": ..., **query}."""

    def __init__(self, base: str) -> None:
        self._base = base

    def __iter__(self) -> Iterator[dict[str, str]]:
        return iter(_call(self._base, "GET", "/testbed/log-requests"))

    def clear(self) -> None:
        _call(self._base, "DELETE", "/testbed/log-requests")


class _Metrics:
    """namespace -> list of PodMetrics items, stored in the metrics stand-in."""

    def __init__(self, base: str) -> None:
        self._base = base

    def __getitem__(self, namespace: str) -> list[dict[str, Any]]:
        return list(_call(self._base, "GET", f"/testbed/metrics/{quote(namespace, safe='')}"))

    def __setitem__(self, namespace: str, items: list[dict[str, Any]]) -> None:
        _call(self._base, "PUT", f"/testbed/metrics/{quote(namespace, safe='')}", json.dumps(items).encode())


class StandIns:
    """The three stand-ins of one test bed, by port."""

    def __init__(self, kubelet_port: int, metrics_port: int, platform_port: int) -> None:
        self.port = kubelet_port  # the Node's kubelet endpoint
        self.metrics_port = metrics_port  # the metrics.k8s.io APIService's backend
        self.platform_port = platform_port
        self.logs = _Logs(f"https://127.0.0.1:{kubelet_port}")
        self.previous_logs = _Logs(f"https://127.0.0.1:{kubelet_port}", "previous-logs")
        self.log_requests = _LogRequests(f"https://127.0.0.1:{kubelet_port}")
        self.metrics = _Metrics(f"https://127.0.0.1:{metrics_port}")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StandIns:
        """From `scripts/testbed env`'s ALP_TESTBED_KUBELET_PORT / _METRICS_PORT / _PLATFORM_PORT."""
        try:
            ports = [int(env[f"ALP_TESTBED_{k}_PORT"]) for k in ("KUBELET", "METRICS")]
        except KeyError as err:
            raise RuntimeError(f'{err.args[0]} is not set: eval "$(scripts/testbed env)" first') from None
        return cls(*ports, int(env.get("ALP_TESTBED_PLATFORM_PORT") or 0))

    @property
    def platform_base(self) -> str:
        """Base URL of the platform stand-in: /svc/<name>/health, /oauth, /mlflow/health."""
        return f"http://127.0.0.1:{self.platform_port}"

    def set_pod_metrics(self, namespace: str, pod: str, cpu: str, memory: str, container: str = "app") -> None:
        """`kubectl top pod` for one pod: cpu like "300m", memory like "980Mi"."""
        items = [m for m in self.metrics[namespace] if m["metadata"]["name"] != pod]
        items.append(
            {
                "metadata": {"name": pod, "namespace": namespace},
                "timestamp": "2026-11-28T03:00:00Z",
                "window": "30s",
                "containers": [{"name": container, "usage": {"cpu": cpu, "memory": memory}}],
            }
        )
        self.metrics[namespace] = items

    def set_health(self, service: str, status: int) -> None:
        """The HTTP status the platform stand-in's /svc/<service>/health answers."""
        _call(self.platform_base, "PUT", f"/testbed/health/{quote(service, safe='')}", str(status).encode())

    def set_traffic(self, service: str, rps: float = 10, latency_ms: float = 40, error_ratio: float = 0) -> None:
        """What the platform stand-in's /metrics counts for `service` from now on (Prometheus scrapes it)."""
        body = json.dumps({"rps": rps, "latency_ms": latency_ms, "error_ratio": error_ratio}).encode()
        _call(self.platform_base, "PUT", f"/testbed/traffic/{quote(service, safe='')}", body)

    def set_cardinality(self, n: int) -> None:
        """N extra series `alp_testbed_series{id=…}` in the platform stand-in's /metrics (0: none)."""
        _call(self.platform_base, "PUT", "/testbed/cardinality", str(n).encode())

    def set_container_memory(self, namespace: str, pod: str, container: str, used: int, limit: int) -> None:
        """The container's memory working set and limit (bytes) in the platform stand-in's /metrics
        (cAdvisor's and kube-state-metrics' series, as Prometheus scrapes them)."""
        path = "/".join(quote(x, safe="") for x in (namespace, pod, container))
        _call(
            self.platform_base,
            "PUT",
            f"/testbed/container-memory/{path}",
            json.dumps({"bytes": used, "limit": limit}).encode(),
        )

    def clear_container_memory(self) -> None:
        _call(self.platform_base, "DELETE", "/testbed/container-memory")

    def reset_traffic(self) -> None:
        """Every service back to the default traffic (10 requests/s, 40 ms, no errors)."""
        _call(self.platform_base, "DELETE", "/testbed/traffic")

    def reachable(self) -> bool:
        try:
            _call(f"https://127.0.0.1:{self.port}", "GET", "/testbed/logs")
            return True
        except OSError:
            return False
