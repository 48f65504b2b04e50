"""Redis through redis-py's asyncio client: one short-lived client per use, every call bounded.

Errors leave `connect`'s block as a `BackendError` (backend "Redis"), never a redis exception:
refused credentials `BackendLoginRefused`, a server that cannot be reached or does not answer in
time `BackendUnreachable`, a command the server refuses (ACL, wrong type, read-only) `BackendRefused`.
`str()` is redis-py's own text (with the exception's name for a refused command).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis import exceptions as rx

from commands.backends.errors import BackendError, BackendLoginRefused, BackendRefused, BackendUnreachable

BACKEND = "Redis"


def redis_user(url: str) -> str:
    """The user a Redis URL logs in as (`default` when it names none)."""
    return urlsplit(url).username or "default"


def backend_error(err: rx.RedisError, url: str, operation: str = "command") -> BackendError:
    """The BackendError for a redis-py exception met talking to the server at `url`."""
    text = str(err)
    if isinstance(err, rx.AuthenticationError) or (
        isinstance(err, rx.ResponseError) and text.startswith(("WRONGPASS", "NOAUTH", "NOPERM"))
    ):
        return BackendLoginRefused(BACKEND, "log in", text, user=redis_user(url), message=text)
    if isinstance(err, rx.ConnectionError | rx.TimeoutError):
        return BackendUnreachable(BACKEND, "connect", text, text)
    if isinstance(err, rx.ResponseError):  # the server answered: it refused the command
        why = f"{type(err).__name__}: {err}"
        return BackendRefused(BACKEND, operation, why, why)
    return BackendError(BACKEND, operation, f"{type(err).__name__}: {err}", f"{type(err).__name__}: {err}")


@asynccontextmanager
async def connect(url: str, timeout_s: float) -> AsyncIterator[aioredis.Redis]:
    """A Redis client (strings, not bytes) whose calls time out after `timeout_s`, closed after use.

    redis exceptions leaving the block become BackendError (see the module docstring)."""
    client = aioredis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=True)
    try:
        yield client
    except rx.RedisError as err:
        raise backend_error(err, url) from err
    finally:
        try:
            await client.aclose()
        except (rx.RedisError, OSError):  # closing a broken client must not hide the real error
            pass
