"""Alertmanager's API v2: silences (create, list, expire) and the alerts still firing.

Every call is bounded by a timeout. Errors raise AlertmanagerError (a `BackendError`, backend
"Alertmanager") with a message fit to show a person (status and Alertmanager's own words),
never a traceback.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from commands.backends.errors import BackendError


class AlertmanagerError(BackendError):
    """Alertmanager is not configured, not reachable, or refused the request."""

    def __init__(self, operation: str, reason: str, message: str) -> None:
        super().__init__("Alertmanager", operation, reason, message)


def matchers(labels: dict[str, str]) -> list[dict[str, Any]]:
    """API v2 matchers for these labels: each an exact, equal match."""
    return [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in sorted(labels.items())]


class Alertmanager:
    def __init__(self, url: str | None, timeout_s: float = 5.0) -> None:
        self.url = url.rstrip("/") if url else None
        self.timeout_s = timeout_s

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        if not self.url:
            why = "no Alertmanager URL configured (ALP_ALERTMANAGER__URL)"
            raise AlertmanagerError(f"{method} {path}", why, why)
        import aiohttp  # imported when used (a fifth of a CPU second)

        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as session,
                session.request(method, f"{self.url}/api/v2{path}", **kwargs) as resp,
            ):
                body = await resp.text()
                if resp.status >= 300:
                    why = f"HTTP {resp.status}: {body.strip()[:300]}"
                    raise AlertmanagerError(
                        f"{method} {path}", why, f"Alertmanager answered {resp.status}: {body.strip()[:300]}"
                    )
                return await resp.json(content_type=None) if body.strip() else None
        except (aiohttp.ClientError, TimeoutError) as err:
            why = f"{type(err).__name__} {err}"
            raise AlertmanagerError(
                f"{method} {path}", why, f"Alertmanager at {self.url} not reachable: {why}"
            ) from None

    async def create_silence(self, labels: dict[str, str], hours: float, created_by: str, comment: str) -> str:
        """POST /silences for exactly these labels from now for `hours`; returns the silence id."""
        start = datetime.now(UTC)
        body = {
            "matchers": matchers(labels),
            "startsAt": start.isoformat(),
            "endsAt": (start + timedelta(hours=hours)).isoformat(),
            "createdBy": created_by,
            "comment": comment,
        }
        out = await self._call("POST", "/silences", json=body)
        return str(out["silenceID"])

    async def silence(self, silence_id: str) -> dict[str, Any]:
        return dict(await self._call("GET", f"/silence/{silence_id}"))

    async def expire_silence(self, silence_id: str) -> None:
        await self._call("DELETE", f"/silence/{silence_id}")

    async def silences(self) -> list[dict[str, Any]]:
        """GET /silences: the silences whose `status.state` is active now (newest end last)."""
        found = [
            s for s in list(await self._call("GET", "/silences") or []) if s.get("status", {}).get("state") == "active"
        ]
        return sorted(found, key=lambda s: str(s.get("endsAt", "")))

    async def firing(self, labels: dict[str, str]) -> list[dict[str, Any]]:
        """Alerts still firing whose labels include `labels`, silenced or inhibited ones too
        (`status.state` says which: active or suppressed)."""
        params = [("active", "true"), ("silenced", "true"), ("inhibited", "true"), ("unprocessed", "true")]
        params += [("filter", f'{k}="{_quote(v)}"') for k, v in sorted(labels.items())]
        return list(await self._call("GET", "/alerts", params=params) or [])


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
