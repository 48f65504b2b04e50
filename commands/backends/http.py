"""The platform services' HTTP admin endpoints (`curl -X POST <service>/...`): one aiohttp
session per client, every request bounded by one total timeout.

A request that cannot be sent or gets no answer in time raises `BackendUnreachable` naming the
service; any HTTP answer, error statuses included, comes back as an `HttpReply` for the caller
to judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp

from commands.backends.errors import BackendError, BackendUnreachable

MAX_BODY = 500  # characters of a response kept for the record


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: str  # the first MAX_BODY characters

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class AdminClient:
    """POSTs to one service (`backend`, e.g. "auth-service") at `base_url`; use as `async with`."""

    def __init__(self, backend: str, base_url: str, timeout_s: float) -> None:
        self.backend, self.base_url, self.timeout_s = backend, base_url.rstrip("/"), timeout_s
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AdminClient:
        import aiohttp  # imported when used (a fifth of a CPU second)

        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, path: str, body: object | None = None) -> HttpReply:
        """POST `body` as JSON to `path`; the reply, or BackendUnreachable."""
        if self._session is None:
            raise BackendError(self.backend, f"POST {path}", "the client is not open")
        import aiohttp

        url = self.base_url + path
        try:
            async with self._session.post(url, json=body) as resp:
                return HttpReply(resp.status, (await resp.text(errors="replace"))[:MAX_BODY])
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            why = f"{type(err).__name__}: {err}"
            raise BackendUnreachable(self.backend, f"POST {path}", why, f"POST {url} failed: {why}") from err
