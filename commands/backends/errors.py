"""The one error every backend wrapper raises in place of its client's exceptions.

redis, aiokafka, the Kubernetes client (ApiException, urllib3), psycopg and aiohttp each have
their own exception families; the wrappers in commands/backends/ turn all of them into
`BackendError`, so probes (`commands.probes`) and the actions' runner catch one type.

The kinds a caller tells apart are subclasses:
- `BackendUnreachable`: could not connect, or no answer in time (the backend may be down);
- `BackendLoginRefused`: the bot's credentials were refused (says nothing about the backend's health);
- `BackendRefused`: the backend answered and refused the request (a command, a permission, a name);
  `BackendNotPermitted` when it is the bot's user that may not run that command (naming the grant).
A plain `BackendError` is any other failure of the call.
"""

from __future__ import annotations


class BackendError(Exception):
    """A backend call that did not succeed.

    `backend` names it ("PostgreSQL", "Redis", "Kafka", "Kubernetes", or a service's name for an
    HTTP admin call), `operation` what was asked ("connect", "list pods", "POST /cache/warm"),
    `reason` why it failed, in the backend's own words. `str()` is fit to show an engineer:
    `message` when the wrapper gives one, else "<backend> <operation>: <reason>"."""

    def __init__(self, backend: str, operation: str, reason: str, message: str | None = None) -> None:
        super().__init__(message if message is not None else f"{backend} {operation}: {reason}")
        self.backend, self.operation, self.reason = backend, operation, reason


class BackendUnreachable(BackendError):
    """Could not connect, or the backend did not answer in time. `address` ("host:port") when known."""

    def __init__(
        self, backend: str, operation: str, reason: str, message: str | None = None, address: str | None = None
    ) -> None:
        super().__init__(backend, operation, reason, message)
        self.address = address


class BackendLoginRefused(BackendError):
    """The backend refused the bot's credentials; `user` is the one it tried to log in as."""

    def __init__(self, backend: str, operation: str, reason: str, user: str, message: str | None = None) -> None:
        super().__init__(backend, operation, reason, message)
        self.user = user


class BackendRefused(BackendError):
    """The backend answered and refused the request (a command, a permission, a missing object)."""


class BackendNotPermitted(BackendRefused):
    """The bot's user may not run this one command (a Redis ACL's NOPERM, a missing grant): `what`
    says who may not do what and the grant that would allow it. Only the probes that need that
    command are blind; the others run."""

    def __init__(self, backend: str, operation: str, reason: str, what: str) -> None:
        super().__init__(backend, operation, reason, f"{what} ({reason})")
        self.what = what
