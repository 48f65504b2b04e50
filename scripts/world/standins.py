"""The test bed's stand-ins for what the control plane alone cannot serve (standard library only,
so `scripts/testbed up` can start them before any virtualenv exists).

    python3 scripts/world/standins.py kubelet  --port P --cert C --key K   (HTTPS)
    python3 scripts/world/standins.py metrics  --port P --cert C --key K   (HTTPS)
    python3 scripts/world/standins.py platform --port 0 --port-file F      (HTTP)

- kubelet: `GET /containerLogs/{ns}/{pod}/{container}` (the text loaded for `pod/container`, else for
  `pod`; `tailLines`, `sinceSeconds`, `previous`:
  the container before its last restart, `timestamps`: each line prefixed with an RFC 3339 time), which the
  real kube-apiserver proxies `pods/log` to through a Node whose kubelet endpoint is this port.
- metrics: `metrics.k8s.io/v1beta1` pod metrics, which the API server serves through an
  APIService pointing here.
- platform: the services' `/svc/{name}/health`, the OAuth provider's OpenID discovery document
  (`/oauth/.well-known/openid-configuration`) and MLflow's `/mlflow/health`; and `/metrics`, the
  services' request counters and duration histograms in Prometheus' text format (the bed's Prometheus
  scrapes it), moved by each service's traffic: requests per second, latency, error ratio.

What they serve is loaded over HTTP under `/testbed/` (scripts.world.client does it):
    PUT    /testbed/logs/{ns}/{pod}         body: the log text       GET /testbed/logs: [[ns, pod], ...]
                                            ({pod} may be `pod/container`, %2F-quoted: one container's text)
    PUT    /testbed/previous-logs/{ns}/{pod}  body: the previous container's log text (`previous=true`)
    GET    /testbed/log-requests            the containerLogs requests seen (pod and query), JSON
    DELETE /testbed/log-requests
    PUT    /testbed/metrics/{ns}            body: JSON list of PodMetrics items; GET the same
    PUT    /testbed/health/{service}        body: the HTTP status its /health answers (default 200)
    PUT    /testbed/traffic/{service}       body: {"rps": 10, "latency_ms": 40, "error_ratio": 0} (the default)
    DELETE /testbed/traffic                 every service back to the default traffic
    PUT    /testbed/cardinality             body: N extra series alp_testbed_series{id=…} in /metrics
    PUT    /testbed/container-memory/{ns}/{pod}/{container}  body: {"bytes": N, "limit": M}: the container's
           container_memory_working_set_bytes and kube_pod_container_resource_limits in /metrics
    DELETE /testbed/container-memory        none of those series
State is in memory: a restarted stand-in serves nothing until `scripts/testbed demo` (or a test) loads it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.logs: dict[tuple[str, str], str] = {}
        self.previous_logs: dict[tuple[str, str], str] = {}
        self.log_requests: list[dict[str, str]] = []
        self.metrics: dict[str, list[dict[str, Any]]] = {}
        self.health: dict[str, int] = {}
        self.traffic: dict[str, dict[str, float]] = {}
        self.cardinality = 0  # extra series `alp_testbed_series{id=…}` in /metrics (a query of many series)
        # (namespace, pod, container) -> {"bytes": working set, "limit": memory limit}: cAdvisor's and
        # kube-state-metrics' series in /metrics, as Prometheus scrapes them in a cluster
        self.containers: dict[tuple[str, str, str], dict[str, float]] = {}
        self.totals: dict[str, dict[str, float]] = {}  # service -> requests, errors, sum, bucket counts
        self.counted_at = time.monotonic()


SERVICES = ("auth-service", "user-service", "scheduler-service", "ml-service")
DEFAULT_TRAFFIC = {"rps": 10.0, "latency_ms": 40.0, "error_ratio": 0.0}
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def label_value(v: str) -> str:
    """A label value as the text exposition format writes it: `\\`, `"` and newline escaped."""
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def exposition(st: State) -> str:
    """The services' metrics as Prometheus text, counters advanced by the traffic since the last scrape."""
    now = time.monotonic()
    dt, st.counted_at = now - st.counted_at, now
    lines = [
        "# HELP http_requests_total Requests served, by service and status code.",
        "# TYPE http_requests_total counter",
    ]
    hist = [
        "# HELP http_request_duration_seconds Request duration, by service.",
        "# TYPE http_request_duration_seconds histogram",
    ]
    for name in sorted(set(SERVICES) | set(st.traffic)):
        t = {**DEFAULT_TRAFFIC, **st.traffic.get(name, {})}
        tot = st.totals.setdefault(name, {"requests": 0.0, "errors": 0.0, "sum": 0.0})
        svc = label_value(name)
        n = t["rps"] * dt
        tot["requests"] += n
        tot["errors"] += n * t["error_ratio"]
        tot["sum"] += n * t["latency_ms"] / 1000
        for le in BUCKETS:
            if t["latency_ms"] / 1000 <= le:
                tot[f"le{le}"] = tot.get(f"le{le}", 0.0) + n
        ok = tot["requests"] - tot["errors"]
        lines.append(f'http_requests_total{{service="{svc}",code="200"}} {ok:.3f}')
        lines.append(f'http_requests_total{{service="{svc}",code="500"}} {tot["errors"]:.3f}')
        for le in BUCKETS:
            hist.append(
                f'http_request_duration_seconds_bucket{{service="{svc}",le="{le}"}} {tot.get(f"le{le}", 0.0):.3f}'
            )
        hist.append(f'http_request_duration_seconds_bucket{{service="{svc}",le="+Inf"}} {tot["requests"]:.3f}')
        hist.append(f'http_request_duration_seconds_sum{{service="{svc}"}} {tot["sum"]:.3f}')
        hist.append(f'http_request_duration_seconds_count{{service="{svc}"}} {tot["requests"]:.3f}')
    many = [f'alp_testbed_series{{id="{i}"}} 1' for i in range(st.cardinality)]
    mem = ["# TYPE container_memory_working_set_bytes gauge", "# TYPE kube_pod_container_resource_limits gauge"]
    for (ns, pod, container), c in sorted(st.containers.items()):
        who = f'namespace="{label_value(ns)}",pod="{label_value(pod)}",container="{label_value(container)}"'
        mem.append(f"container_memory_working_set_bytes{{{who}}} {c['bytes']:.0f}")
        if c.get("limit"):
            mem.append(f'kube_pod_container_resource_limits{{{who},resource="memory",unit="byte"}} {c["limit"]:.0f}')
    return "\n".join(lines + hist + many + mem) + "\n"


DISCOVERY = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": "metrics.k8s.io/v1beta1",
    "resources": [
        {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics", "verbs": ["get", "list"]},
        {"name": "nodes", "singularName": "", "namespaced": False, "kind": "NodeMetrics", "verbs": ["get", "list"]},
    ],
}
OPENID = {"issuer": "https://alp-testbed.auth0.example/", "authorization_endpoint": "https://alp-testbed/authorize"}


class Handler(BaseHTTPRequestHandler):
    state: State
    role: str
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the API server polls discovery
        pass

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _parts(self) -> tuple[list[str], dict[str, str]]:
        url = urlsplit(self.path)
        return [unquote(p) for p in url.path.strip("/").split("/")], dict(parse_qsl(url.query))

    def do_GET(self) -> None:
        parts, query = self._parts()
        st = self.state
        with st.lock:
            if parts[:2] == ["testbed", "logs"]:
                return self._send(200, [list(k) for k in st.logs])
            if parts[:2] == ["testbed", "previous-logs"]:
                return self._send(200, [list(k) for k in st.previous_logs])
            if parts[:2] == ["testbed", "log-requests"]:
                return self._send(200, st.log_requests)
            if parts[:2] == ["testbed", "metrics"] and len(parts) == 3:
                return self._send(200, st.metrics.get(parts[2], []))
            if self.role == "kubelet" and parts[0] == "containerLogs" and len(parts) == 4:
                st.log_requests.append({"pod": parts[2], **query})
                # per container ("ns", "pod/container") first, else the pod's one text for any container
                keys = [(parts[1], f"{parts[2]}/{parts[3]}"), (parts[1], parts[2])]
                store = st.previous_logs if query.get("previous") == "true" else st.logs
                key = next((k for k in keys if k in store), None)
                if query.get("previous") == "true" and key is None:
                    return self._send(400, f'previous terminated container "{parts[3]}" not found', "text/plain")
                text = store[key] if key else ""
                lines = text.splitlines(keepends=True)
                tail = int(query.get("tailLines", "0") or 0)
                lines = lines[-tail:] if tail else lines
                if query.get("timestamps") == "true":  # as the kubelet does: RFC 3339 with nanoseconds
                    start = time.time() - len(lines)
                    lines = [
                        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start + i)) + f".{i:09d}Z {line}"
                        for i, line in enumerate(lines)
                    ]
                return self._send(200, "".join(lines), "text/plain")
            if self.role == "metrics" and parts[:3] == ["apis", "metrics.k8s.io", "v1beta1"]:
                if len(parts) == 3:
                    return self._send(200, DISCOVERY)
                if len(parts) == 6 and parts[3] == "namespaces" and parts[5] == "pods":
                    items = st.metrics.get(parts[4], [])
                    return self._send(
                        200,
                        {
                            "kind": "PodMetricsList",
                            "apiVersion": "metrics.k8s.io/v1beta1",
                            "metadata": {},
                            "items": items,
                        },
                    )
                if parts[3:] in (["pods"], ["nodes"]):
                    items = [m for ms in st.metrics.values() for m in ms] if parts[3] == "pods" else []
                    kind = "PodMetricsList" if parts[3] == "pods" else "NodeMetricsList"
                    return self._send(
                        200, {"kind": kind, "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}
                    )
            if self.role == "platform":
                if parts[0] == "svc" and len(parts) == 3 and parts[2] == "health":
                    status = st.health.get(parts[1], 200)
                    return self._send(status, {"status": "ok" if status == 200 else "down"})
                if parts == ["oauth", ".well-known", "openid-configuration"]:
                    return self._send(200, OPENID)
                if parts == ["oauth"]:
                    return self._send(200, "ok", "text/plain")
                if parts == ["mlflow", "health"]:
                    return self._send(200, "OK", "text/plain")
                if parts == ["metrics"]:
                    return self._send(200, exposition(st), "text/plain; version=0.0.4")
                if parts[:2] == ["testbed", "traffic"]:
                    return self._send(200, st.traffic)
        self._send(404, {"kind": "Status", "status": "Failure", "code": 404})

    def do_PUT(self) -> None:
        parts, _ = self._parts()
        body = self._body()
        st = self.state
        with st.lock:
            if parts[:2] == ["testbed", "logs"] and len(parts) == 4:
                st.logs[(parts[2], parts[3])] = body.decode()
            elif parts[:2] == ["testbed", "previous-logs"] and len(parts) == 4:
                st.previous_logs[(parts[2], parts[3])] = body.decode()
            elif parts[:2] == ["testbed", "metrics"] and len(parts) == 3:
                st.metrics[parts[2]] = json.loads(body)
            elif parts[:2] == ["testbed", "health"] and len(parts) == 3:
                st.health[parts[2]] = int(body)
            elif parts == ["testbed", "cardinality"]:
                st.cardinality = int(body)
            elif parts[:2] == ["testbed", "container-memory"] and len(parts) == 5:
                st.containers[(parts[2], parts[3], parts[4])] = {k: float(v) for k, v in json.loads(body).items()}
            elif parts[:2] == ["testbed", "traffic"] and len(parts) == 3:
                exposition(st)  # count what the old traffic served up to now
                st.traffic[parts[2]] = {k: float(v) for k, v in json.loads(body).items()}
            else:
                return self._send(404, {"error": "unknown path"})
        self._send(200, {"ok": True})

    def do_DELETE(self) -> None:
        parts, _ = self._parts()
        with self.state.lock:
            if parts[:2] == ["testbed", "log-requests"]:
                self.state.log_requests.clear()
            elif parts[:2] == ["testbed", "health"]:
                self.state.health.clear()
            elif parts[:2] == ["testbed", "container-memory"]:
                self.state.containers.clear()
            elif parts[:2] == ["testbed", "traffic"]:
                exposition(self.state)
                self.state.traffic.clear()
            else:
                return self._send(404, {"error": "unknown path"})
        self._send(200, {"ok": True})

    def do_POST(self) -> None:  # the services' admin endpoints: accepted, like the real ones
        self._body()
        parts, _ = self._parts()
        if self.role == "platform" and parts[0] == "svc":
            return self._send(202, {"status": "accepted"})
        self._send(404, {"error": "unknown path"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("role", choices=["kubelet", "metrics", "platform"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--port-file", help="write the port listened on here (for --port 0)")
    args = ap.parse_args()
    socket.setdefaulttimeout(10)  # a silent client (in the TLS handshake, or idle) lets go after 10 s
    handler = type("H", (Handler,), {"state": State(), "role": args.role})
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True
    if args.cert and args.key:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.replace(args.port_file + ".tmp", args.port_file)
    print(f"{args.role} stand-in on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
