"""Slack people for imported calendars: an e-mail through `users.lookupByEmail`, a handle through
`users.list` (name, display name or real name, case-insensitive). Answers are cached per process."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient


class SlackPeople:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._emails: dict[str, str | None] = {}
        self._handles: dict[str, str] | None = None

    async def by_email(self, email: str) -> str | None:
        key = email.lower()
        if key not in self._emails:
            try:
                resp = await self.client.users_lookupByEmail(email=email)
                self._emails[key] = str((resp.get("user") or {}).get("id") or "") or None
            except SlackApiError as err:
                if err.response.get("error") != "users_not_found":
                    raise
                self._emails[key] = None
        return self._emails[key]

    async def by_handle(self, handle: str) -> str | None:
        if self._handles is None:
            handles: dict[str, str] = {}
            cursor = None
            while True:
                resp = await self.client.users_list(cursor=cursor, limit=200)
                for u in resp.get("members") or []:
                    if u.get("deleted"):
                        continue
                    profile: dict[str, Any] = u.get("profile") or {}
                    for name in (u.get("name"), profile.get("display_name"), profile.get("real_name")):
                        if name:
                            handles.setdefault(str(name).lower(), str(u["id"]))
                cursor = (resp.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
            self._handles = handles
        return self._handles.get(handle.lower())
