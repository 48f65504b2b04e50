"""Redis through redis-py's asyncio client: one short-lived client per use, every call bounded.

Errors leave `connect`'s block as a `BackendError` (backend "Redis"), never a redis exception:
refused credentials `BackendLoginRefused`, a server that cannot be reached or does not answer in
time `BackendUnreachable`, a command the server refuses (ACL, wrong type, read-only) `BackendRefused`.
`str()` is redis-py's own text (with the exception's name for a refused command).

Redis Cluster: a server with `cluster_enabled:1` (asked once per URL and process) is talked to
through redis-py's cluster client, which follows the cluster's MOVED/ASK redirects for key
commands and scans every primary; `info_by_node` samples every primary, and `where` says plainly
whether it is a cluster and which node answered.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis import exceptions as rx
from redis.asyncio.cluster import RedisCluster

from commands.backends.errors import (
    BackendError,
    BackendLoginRefused,
    BackendNotPermitted,
    BackendRefused,
    BackendUnreachable,
)

BACKEND = "Redis"


def redis_user(url: str) -> str:
    """The user a Redis URL logs in as (`default` when it names none)."""
    return urlsplit(url).username or "default"


def backend_error(err: rx.RedisError, url: str, operation: str = "command") -> BackendError:
    """The BackendError for a redis-py exception met talking to the server at `url`."""
    text = str(err)
    if isinstance(err, rx.AuthenticationError) or (
        isinstance(err, rx.ResponseError) and text.startswith(("WRONGPASS", "NOAUTH"))
    ):
        return BackendLoginRefused(BACKEND, "log in", text, user=redis_user(url), message=text)
    if isinstance(err, rx.NoPermissionError):  # an ACL without this command: the user logs in, this one is refused
        command = re.search(r"run the '([\w|]+)' command", text)
        name = command.group(1).upper() if command else operation
        what = f"Redis user {redis_user(url)} may not run {name} (ACL: grant +{name.lower()})"
        return BackendNotPermitted(BACKEND, operation, f"NOPERM {text}", what)
    if isinstance(err, rx.ConnectionError | rx.TimeoutError):
        return BackendUnreachable(BACKEND, "connect", text, text)
    if isinstance(err, rx.ResponseError):  # the server answered: it refused the command
        why = f"{type(err).__name__}: {err}"
        return BackendRefused(BACKEND, operation, why, why)
    return BackendError(BACKEND, operation, f"{type(err).__name__}: {err}", f"{type(err).__name__}: {err}")


Client = aioredis.Redis | RedisCluster
_CLUSTER: dict[str, bool] = {}  # URL -> is it a Redis Cluster (asked once per process)


async def is_cluster(url: str, timeout_s: float) -> bool:
    """Whether the server at `url` runs in cluster mode (`INFO cluster`: cluster_enabled:1)."""
    known = _CLUSTER.get(url)
    if known is not None:
        return known
    probe = aioredis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=True)
    try:
        info = await probe.info("cluster")
    except rx.NoPermissionError:  # a user without INFO: the commands it may run go to this server as asked
        return False
    finally:
        try:
            await probe.aclose()
        except (rx.RedisError, OSError):
            pass
    _CLUSTER[url] = str(info.get("cluster_enabled", 0)) == "1"
    return _CLUSTER[url]


def _cluster_url(url: str) -> str:
    """A cluster has only database 0: a `/0` (or no path) is dropped, as redis-py's cluster client wants."""
    parts = urlsplit(url)
    return parts._replace(path="").geturl() if parts.path in ("", "/", "/0") else url


@asynccontextmanager
async def connect(url: str, timeout_s: float) -> AsyncIterator[Client]:
    """A Redis client (strings, not bytes) whose calls time out after `timeout_s`, closed after use:
    a cluster client when the server is a Redis Cluster node.

    redis exceptions leaving the block become BackendError (see the module docstring)."""
    client: Client
    try:
        if await is_cluster(url, timeout_s):
            client = RedisCluster.from_url(
                _cluster_url(url), socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=True
            )
        else:
            client = aioredis.from_url(
                url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=True
            )
    except rx.RedisError as err:
        raise backend_error(err, url) from err
    try:
        yield client
    except rx.RedisError as err:
        raise backend_error(err, url) from err
    finally:
        try:
            await client.aclose()
        except (rx.RedisError, OSError):  # closing a broken client must not hide the real error
            pass


async def info_by_node(client: Client) -> dict[str, dict[str, Any]]:
    """`INFO` of the server, or of every primary of a cluster: {"host:port": info}."""
    if isinstance(client, RedisCluster):
        by_node: dict[str, dict[str, Any]] = await client.info(target_nodes=RedisCluster.PRIMARIES)
        return dict(sorted(by_node.items()))
    pool = client.connection_pool.connection_kwargs
    return {f"{pool.get('host', 'localhost')}:{pool.get('port', 6379)}": await client.info()}


async def key_count(client: Client) -> int:
    """DBSIZE of the server, or summed over every primary of a cluster (redis-py asks one node by default)."""
    if isinstance(client, RedisCluster):
        return int(await client.dbsize(target_nodes=RedisCluster.PRIMARIES))
    return int(await client.dbsize())


def where(client: Client) -> str:
    """Which node answers by default: "Redis" for a single server, "Redis Cluster (node host:port of
    N primaries)" for a cluster."""
    if isinstance(client, RedisCluster):
        node = client.get_default_node()
        return f"Redis Cluster (node {node.name} of {len(client.get_primaries())} primaries)"
    return "Redis"
