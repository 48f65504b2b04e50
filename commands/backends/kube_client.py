"""One Kubernetes API client per process (per configuration), not one per probe.

Loading a kubeconfig runs its user's `exec` credential plugin (`aws eks get-token`,
`gke-gcloud-auth-plugin`, `kubelogin`: seconds each with a cloud provider), so every check and
action shares the client loaded once. The official client's refresh hook runs the plugin again
when the credential nears its `expirationTimestamp` (5 minutes before it); a 401 drops the client
so the next one loads the credentials afresh, as kubectl does for plugins without an expiry.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubernetes import client


def _config_source() -> tuple[str, float]:
    """Which configuration `load_configuration` would read, and the kubeconfig's modification time."""
    path = (os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")).split(os.pathsep)[0]
    try:
        return path, os.stat(path).st_mtime
    except OSError:
        return "in-cluster", 0.0


_SHARED: dict[tuple[str, float], client.ApiClient] = {}
_SHARED_LOCK = threading.Lock()


def shared_client(load: Callable[[], client.Configuration]) -> client.ApiClient:
    """The process's one API client for its Kubernetes configuration (`load`ed once) (a changed KUBECONFIG or file
    gets a new one). Credentials are loaded once: an `exec` plugin runs once, not once per probe,
    and the client's own refresh hook runs it again when its credential nears its
    `expirationTimestamp` (in a pod, the service account token file is re-read the same way)."""
    source = _config_source()
    with _SHARED_LOCK:
        api = _SHARED.get(source)
        if api is None:
            from kubernetes import client

            api = client.ApiClient(load())
            _SHARED.clear()  # an older configuration's client: its Kube instances keep their reference
            _SHARED[source] = api
        return api


def forget_credentials() -> None:
    """The API server refused the credentials (401): the next `Kube` loads them afresh (an `exec`
    plugin without an expiry is run again, as kubectl does)."""
    with _SHARED_LOCK:
        _SHARED.clear()
