"""Plain network probes: TCP connect, HTTP GET, DNS lookup; each bounded by a timeout."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass


@dataclass
class HttpResult:
    url: str
    status: int | None
    ms: float
    body: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


async def tcp_connect_ms(host: str, port: int, timeout_s: float) -> float:
    """`nc -zv host port`: milliseconds to connect, or an OSError/TimeoutError."""
    t0 = time.monotonic()
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return (time.monotonic() - t0) * 1000


async def http_get(url: str, timeout_s: float, max_body: int = 65536) -> HttpResult:
    """`curl -f url`, never raising: errors come back in the result. Like curl, it goes through
    HTTP(S)_PROXY and honours NO_PROXY from the environment (aiohttp's `trust_env`)."""
    import aiohttp  # imported when used (a fifth of a CPU second)

    t0 = time.monotonic()
    try:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with aiohttp.ClientSession(timeout=timeout, trust_env=True) as session, session.get(url) as resp:
            body = (await resp.content.read(max_body)).decode(errors="replace")
            return HttpResult(url, resp.status, (time.monotonic() - t0) * 1000, body)
    except TimeoutError:
        return HttpResult(url, None, (time.monotonic() - t0) * 1000, error=f"no answer within {timeout_s:g}s")
    except (aiohttp.ClientError, OSError) as err:
        return HttpResult(url, None, (time.monotonic() - t0) * 1000, error=f"{type(err).__name__}: {err}")


async def resolve(host: str, timeout_s: float) -> list[str]:
    """`nslookup host`: the addresses it resolves to."""
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), timeout_s)
    return sorted({str(info[4][0]) for info in infos})
