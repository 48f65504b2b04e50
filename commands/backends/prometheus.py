"""Prometheus' HTTP API v1 (`/api/v1/query`, `/api/v1/query_range`), every call bounded.

Errors are the one `BackendError` family (commands/backends/errors.py):
- `PrometheusQueryError` (a `BackendRefused`): Prometheus refused the expression (`bad_data`, HTTP 400
  or 422) — the engineer's query is wrong, its message says where;
- `BackendLoginRefused`: HTTP 401/403 (the token or password);
- `BackendUnreachable`: no connection, no answer within `timeout_s`, Prometheus' own `timeout` or
  `canceled`, HTTP 5xx;
- `BackendRefused`: an answer larger than `max_bytes` or with more than `max_series` series (refused
  before it is decoded further: narrow the query).
The JSON is decoded in a worker thread: an answer of 50,000 series never holds the event loop.
Values are floats; Prometheus' "NaN", "+Inf" and "-Inf" become float('nan') / ±inf.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from commands.backends.errors import BackendError, BackendLoginRefused, BackendRefused, BackendUnreachable
from commands.config import PrometheusSettings

if TYPE_CHECKING:
    import aiohttp

BACKEND = "Prometheus"


class PrometheusQueryError(BackendRefused):
    """Prometheus refused the expression (bad_data): the message is Prometheus' own."""

    def __init__(self, query: str, message: str) -> None:
        super().__init__(BACKEND, "query", f"not a valid query: {message}")
        self.query = query


@dataclass
class Series:
    """One time series: its labels and [unix seconds, value] points, oldest first."""

    labels: dict[str, str]
    points: list[tuple[float, float]] = field(default_factory=list)

    @property
    def last(self) -> float | None:
        return self.points[-1][1] if self.points else None

    def name(self) -> str:
        """`metric{a="x"}` as Prometheus prints it (the metric name first)."""
        labels = {k: v for k, v in self.labels.items() if k != "__name__"}
        inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        return f"{self.labels.get('__name__', '')}{{{inner}}}" if inner else self.labels.get("__name__", "{}")


def _value(raw: Any) -> float:
    try:
        return float(raw)  # "NaN", "+Inf", "-Inf" parse as such
    except (TypeError, ValueError):
        return math.nan


def _decode(body: bytes, max_series: int) -> tuple[str, list[Series], list[str]]:
    """Prometheus' JSON envelope -> (resultType, series, warnings). Raises ValueError on junk."""
    doc = json.loads(body)
    if doc.get("status") != "success":
        raise _Failed(str(doc.get("errorType") or "error"), str(doc.get("error") or "no reason given"))
    data = doc.get("data") or {}
    kind = str(data.get("resultType", ""))
    result = data.get("result")
    warnings = [str(w) for w in doc.get("warnings") or []]
    if kind in ("scalar", "string"):
        t, v = result if isinstance(result, list) and len(result) == 2 else (0, "NaN")
        return kind, [Series({}, [(float(t), _value(v))])], warnings
    items = result or []
    if len(items) > max_series:
        raise _TooMany(len(items))
    out = []
    for item in items:
        labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
        if "values" in item:
            pts = [(float(t), _value(v)) for t, v in item["values"]]
        else:
            t, v = item.get("value", (0, "NaN"))
            pts = [(float(t), _value(v))]
        out.append(Series(labels, pts))
    return kind, out, warnings


class _Failed(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message


class _TooMany(Exception):
    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.n = n


@dataclass
class Answer:
    kind: str  # matrix | vector | scalar | string
    series: list[Series]
    warnings: list[str] = field(default_factory=list)


class Prometheus:
    """A client for one Prometheus; `async with Prometheus(settings) as prom: await prom.query(...)`."""

    def __init__(self, settings: PrometheusSettings) -> None:
        if not settings.url:
            raise BackendRefused(BACKEND, "connect", "not configured (set ALP_PROMETHEUS__URL)")
        self.settings = settings
        parts = urlsplit(settings.url.strip())
        self.url_user = unquote(parts.username) if parts.username is not None else None
        self._url_password = unquote(parts.password or "")
        if self.url_user is not None and (settings.username or settings.bearer_token is not None):
            raise BackendRefused(
                BACKEND,
                "connect",
                "credentials both in ALP_PROMETHEUS__URL and in __USERNAME/__PASSWORD or __BEARER_TOKEN: keep one",
            )
        host = parts.hostname or ""
        netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
        self.base = urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")  # no credentials in it
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Prometheus:
        import aiohttp  # imported when used (a fifth of a CPU second)

        headers = {}
        if self.settings.bearer_token is not None:
            headers["Authorization"] = f"Bearer {self.settings.bearer_token.get_secret_value()}"
        elif self.settings.username:
            pw = self.settings.password.get_secret_value() if self.settings.password else ""
            # aiohttp.BasicAuth is deprecated (a DeprecationWarning on every session): the header itself
            headers["Authorization"] = aiohttp.encode_basic_auth(self.settings.username, pw)
        elif self.url_user is not None:  # `http://user:pass@host`: the same basic auth, from the URL
            headers["Authorization"] = aiohttp.encode_basic_auth(self.url_user, self._url_password)
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s)
        self._session = aiohttp.ClientSession(headers=headers, timeout=timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def _get(self, path: str, params: dict[str, str], query: str) -> Answer:
        import aiohttp

        assert self._session is not None, "use `async with Prometheus(...)`"
        url = f"{self.base}{path}"
        try:
            async with self._session.post(url, data=params) as resp:
                status = resp.status
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.content.iter_chunked(1 << 16):  # read() may return less than asked
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > self.settings.max_bytes:
                        break
                body = b"".join(chunks)
        except TimeoutError:
            raise BackendUnreachable(
                BACKEND, "query", f"no answer within {self.settings.timeout_s:g}s", address=self.base
            ) from None
        except (aiohttp.ClientError, OSError) as err:
            raise BackendUnreachable(BACKEND, "query", f"{type(err).__name__}: {err}", address=self.base) from None
        if status in (401, 403):
            who = (
                "the bearer token (ALP_PROMETHEUS__BEARER_TOKEN)"
                if self.settings.bearer_token is not None
                else self.settings.username
                or (f"{self.url_user} (from ALP_PROMETHEUS__URL)" if self.url_user is not None else None)
                or "no credentials (set ALP_PROMETHEUS__BEARER_TOKEN or __USERNAME)"
            )
            raise BackendLoginRefused(BACKEND, "query", f"HTTP {status}", user=who)
        if len(body) > self.settings.max_bytes:
            raise BackendRefused(
                BACKEND, "query", f"the answer is over {self.settings.max_bytes} bytes: narrow the query"
            )
        try:
            kind, series, warnings = await asyncio.to_thread(_decode, body, self.settings.max_series)
        except _TooMany as err:
            raise BackendRefused(
                BACKEND, "query", f"{err.n} series, more than {self.settings.max_series}: narrow the query"
            ) from None
        except _Failed as err:
            if err.kind == "bad_data":
                raise PrometheusQueryError(query, err.message) from None
            if err.kind in ("timeout", "canceled", "unavailable"):
                raise BackendUnreachable(BACKEND, "query", f"{err.kind}: {err.message}", address=self.base) from None
            if status >= 500:  # it answered: an error of its own, not an outage of the network
                raise BackendError(BACKEND, "query", f"answered HTTP {status}: {err.kind}: {err.message}") from None
            raise BackendRefused(BACKEND, "query", f"{err.kind}: {err.message}") from None
        except (ValueError, TypeError, KeyError):
            raise BackendError(BACKEND, "query", f"not a Prometheus answer (HTTP {status})") from None
        return Answer(kind, series, warnings)

    async def query(self, expr: str, at: datetime | None = None) -> Answer:
        """An instant query (`/api/v1/query`)."""
        params = {"query": expr, "timeout": f"{self.settings.timeout_s:g}s"}
        if at is not None:
            params["time"] = f"{at.timestamp():.3f}"
        return await self._get("/api/v1/query", params, expr)

    async def query_range(self, expr: str, start: datetime, end: datetime, step_s: float) -> Answer:
        """A range query (`/api/v1/query_range`): one point per `step_s` seconds."""
        params = {
            "query": expr,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{max(step_s, 1):g}",
            "timeout": f"{self.settings.timeout_s:g}s",
        }
        return await self._get("/api/v1/query_range", params, expr)
