"""CPU of decoding a pod list, the client's way against alp's (`commands/backends/kube.py` `_lean_items`).

`python -m bench.kube_decode [PODS]` (the test bed up): reads the bed's pods once, repeats them to
PODS (200), then decodes that PodList JSON alternately with the client's own deserializer (what
`list_namespaced_pod` does) and lean (managedFields dropped, one pydantic validation), ten times
each; prints the median CPU milliseconds (this thread's clock) of each and the machine's load.
Both run in the thread that calls the API, beside the bot's event loop, holding the GIL.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

from bench.common import testbed_env


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    os.environ.setdefault("KUBECONFIG", testbed_env()["KUBECONFIG"])
    from commands.backends.kube import Kube, _lean_items

    kube = Kube(10)
    found = json.loads(kube.core.list_pod_for_all_namespaces(_preload_content=False).data)
    items = (found["items"] * (n // max(1, len(found["items"])) + 1))[:n]
    body = json.dumps({**found, "items": items}).encode()
    ways = {
        "client": lambda: kube.api.deserialize(body.decode(), "V1PodList", "application/json").items,
        "lean": lambda: _lean_items(body, "V1PodList"),
    }
    took: dict[str, list[float]] = {k: [] for k in ways}
    for _ in range(10):
        for name, way in ways.items():
            t0 = time.thread_time()
            way()
            took[name].append(time.thread_time() - t0)
    print(f"{n} pods, {len(body):,} bytes of JSON; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, values in took.items():
        print(f"{name:>6}: {statistics.median(values) * 1000:6.1f} ms CPU (median of 10)")
    print(f"ratio client / lean: {statistics.median(took['client']) / statistics.median(took['lean']):.2f}x")


if __name__ == "__main__":
    main()
