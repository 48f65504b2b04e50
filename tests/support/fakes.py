"""Fakes for the platform's own services, in the test process.

- FakePlatform: the services' /health endpoints, the OAuth provider's discovery document
  and MLflow's /health, with answers a test can change, plus the pager webhook and the
  services' admin endpoints, which it records.

Pod logs and metrics.k8s.io come from the test bed's stand-ins (scripts/world/standins.py,
loaded through scripts/world/client.py: the `kubelet` fixture).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from typing import Any

from aiohttp import web


class _Server:
    """An aiohttp app on 127.0.0.1 in its own thread and loop."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def start(self) -> Any:
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            app = web.Application()
            self.routes(app)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
            self._loop.run_until_complete(site.start())
            self.port = self._runner.addresses[0][1]
            ready.set()
            self._loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        assert ready.wait(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)


class FakePlatform(_Server):
    def __init__(self) -> None:
        super().__init__()
        self.health: dict[str, int] = {}
        self.discovery: Any = {"issuer": "https://alp-test.auth0.com/", "authorization_endpoint": "x"}
        self.mlflow_status = 200
        self.oauth_status = 200  # the OAuth provider's base URL (check external)
        self.delay_s = 0.0  # how long each /health takes to answer (benchmarks)
        self.pager_events: list[dict[str, Any]] = []  # PagerDuty Events API v2 compatible sink (accepted ones)
        self.pager_failures = 0  # the next this many events are answered 500 (and not kept)
        self.admin_posts: list[tuple[str, Any]] = []  # the services' admin endpoints
        self.admin_delay_s = 0.0  # how long an admin endpoint takes to answer (an action caught mid-run)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/svc/{name}/health", self._health)
        app.router.add_get("/oauth/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/oauth", self._oauth)
        app.router.add_get("/mlflow/health", self._mlflow)
        app.router.add_post("/pager/v2/enqueue", self._pager)
        app.router.add_post("/svc/{name}/{path:.*}", self._admin)

    async def _health(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay_s)
        status = self.health.get(request.match_info["name"], 200)
        return web.json_response({"status": "ok" if status == 200 else "down"}, status=status)

    async def _discovery(self, _: web.Request) -> web.Response:
        if isinstance(self.discovery, str):
            return web.Response(text=self.discovery, content_type="text/html")
        return web.Response(text=json.dumps(self.discovery), content_type="application/json")

    async def _oauth(self, _: web.Request) -> web.Response:
        return web.Response(text="ok" if self.oauth_status < 400 else "unavailable", status=self.oauth_status)

    async def _admin(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.admin_posts.append(
            (f"{request.match_info['name']}/{request.match_info['path']}", json.loads(body) if body else None)
        )
        waited = 0.0
        while waited < self.admin_delay_s:  # setting it back to 0 ends the wait of requests in flight
            await asyncio.sleep(0.05)
            waited += 0.05
        return web.json_response({"status": "accepted"}, status=202)

    async def _pager(self, request: web.Request) -> web.Response:
        event = await request.json()
        if self.pager_failures > 0:
            self.pager_failures -= 1
            return web.json_response({"status": "error", "message": "try again"}, status=500)
        self.pager_events.append(event)
        return web.json_response({"status": "success", "message": "Event processed"}, status=202)

    async def _mlflow(self, _: web.Request) -> web.Response:
        return web.Response(text="OK", status=self.mlflow_status)
