"""Kubernetes failures as alp's errors, without the Kubernetes client: what a finding needs to
word them, importable by a terminal run that never talks to Kubernetes (`commands.probes`)."""

from __future__ import annotations

from commands.backends.errors import BackendError, BackendRefused, BackendUnreachable


class KubeError(BackendError):
    """A Kubernetes call that did not succeed (backend "Kubernetes"); `str()` is fit to show an engineer."""

    def __init__(self, operation: str, reason: str, message: str | None = None) -> None:
        super().__init__("Kubernetes", operation, reason, message if message is not None else f"{operation}: {reason}")


class KubeForbidden(KubeError, BackendRefused):
    """RBAC refused the call: the bot's role does not allow it."""

    def __init__(self, verb: str, resource: str, namespace: str | None, name: str | None) -> None:
        where = f" in namespace {namespace}" if namespace else " cluster-wide"
        what = f"{resource}/{name}" if name else resource
        super().__init__(f"{verb} {what}", "forbidden", f"the bot's role does not allow `{verb} {what}`{where}")
        self.verb, self.resource, self.namespace, self.name = verb, resource, namespace, name


class KubeNotFound(KubeError, BackendRefused):
    """The object (or the whole API, e.g. metrics.k8s.io) does not exist."""


class KubeUnavailable(KubeError, BackendUnreachable):
    """The API server could not be reached or did not answer in time."""
