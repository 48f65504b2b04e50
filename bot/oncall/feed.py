"""`GET /oncall/<name>.ics?token=$ALP_ONCALL__FEED_TOKEN`: a schedule's final shifts as an
iCalendar feed that calendar clients subscribe to (30 days back, 180 ahead).

403 without the right token (compared in constant time; the feed is off while no token is
configured), 404 for a schedule that is not configured, 503 with the reason while an imported
calendar's coverage is unknown. The shifts are computed off the event loop."""

from __future__ import annotations

import asyncio
import hmac
from datetime import timedelta

from aiohttp import web

from escalation.oncall.directory import CalendarUnavailable, Directory, UnknownSchedule
from escalation.oncall.ical import feed
from escalation.state.db import now

BACK, AHEAD = timedelta(days=30), timedelta(days=180)


def feed_route(directory: Directory) -> web.RouteDef:
    async def handler(request: web.Request) -> web.Response:
        token = directory.settings.feed_token
        given = request.query.get("token", "")
        if token is None or not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
            return web.Response(status=403, text="a feed token is needed (?token=…, ALP_ONCALL__FEED_TOKEN)\n")
        name = request.match_info["name"]
        try:
            schedule = directory.schedule(name)
            at = now()
            shifts, _ = await directory.shifts(name, at - BACK, at + AHEAD)
        except UnknownSchedule as err:
            return web.Response(status=404, text=f"{err}\n")
        except CalendarUnavailable as err:
            return web.Response(status=503, text=f"{err}\n")
        body = await asyncio.to_thread(feed, name, schedule.time_zone, shifts, at)
        return web.Response(
            body=body,
            content_type="text/calendar",
            charset="utf-8",
            headers={"Content-Disposition": f'inline; filename="{name}.ics"', "Cache-Control": "no-store"},
        )

    return web.get("/oncall/{name}.ics", handler)
