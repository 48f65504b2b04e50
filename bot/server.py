"""`alp-bot`: the Bolt app over HTTP (or Socket Mode), with health, readiness and metrics.

HTTP on ALP_HTTP_PORT: POST /slack/events (Slack-signed), GET /healthz, GET /readyz,
GET /metrics, POST /alertmanager (Alertmanager's webhook, see bot/alerts/intake.py). With SLACK_APP_TOKEN set, Slack events arrive over Socket Mode instead and
the HTTP server keeps serving the three operational endpoints.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier

from bot.alerts.intake import AlertIntake
from bot.alerts.silences import AlertNotifier, alert_intake
from bot.metrics import Metrics
from bot.settings import ConfigError, Settings, load_settings
from bot.slack.app import build_app, register_fallbacks
from bot.slack.client import make_client
from commands.changes.audit import use_audit_reader
from commands.readiness import readiness
from commands.redact import RedactingFilter, redact, redact_data
from escalation.ladder.engine import Escalator
from escalation.state.alert_groups import AlertGroups
from escalation.state.audit import changes_since
from escalation.state.db import Database, StateStoreError

use_audit_reader(changes_since)  # `alp changes` reads alp's own actions from the state store

log = logging.getLogger("alp.bot")

READINESS_CACHE_S = 5.0
MAX_TIMESTAMP_DIGITS = 12


def signed(verifier: SignatureVerifier | None, body: bytes, headers: Any) -> bool:
    """Slack's v0 signature over the raw body, checked before anything parses it. A missing,
    non-numeric (`²`, `1e9`) or stale timestamp, or a wrong signature, is False, never an error."""
    if verifier is None:
        return False
    ts = headers.get("X-Slack-Request-Timestamp", "")
    sig = headers.get("X-Slack-Signature", "")
    if not (ts.isascii() and ts.isdigit() and len(ts) <= MAX_TIMESTAMP_DIGITS) or not sig.isascii():
        return False
    return verifier.is_valid(body=body, timestamp=ts, signature=sig)


def build_web(
    settings: Settings, app: AsyncApp, metrics: Metrics, escalator: Escalator, intake: AlertIntake
) -> web.Application:
    """The aiohttp application serving Slack's requests and the operational endpoints."""
    cache: dict[str, Any] = {"at": 0.0, "body": None}
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    verifier = SignatureVerifier(secret) if secret else None

    async def slack_events(request: web.Request) -> web.Response:
        body = await request.read()
        if not signed(verifier, body, request.headers):
            # The body is not logged: it is unauthenticated and may be large or hostile.
            log.warning("refused a request to /slack/events: bad or stale signature (%d bytes)", len(body))
            return web.json_response({"error": "invalid signature"}, status=401)
        try:
            bolt_request = await to_bolt_request(request)
        except (ValueError, UnicodeDecodeError) as err:  # signed, but not a form Slack sends
            log.warning("refused a signed request to /slack/events: unreadable body (%s)", type(err).__name__)
            return web.json_response({"error": "unreadable body"}, status=400)
        bolt_response = await app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        if cache["body"] is None or time.monotonic() - cache["at"] > READINESS_CACHE_S:
            backends = redact_data(await readiness(settings, timeout=settings.timeouts.probe_s))
            state = await escalator.ping(settings.timeouts.probe_s)
            # Ready while the bot can keep its own records: a down backend is something to report,
            # not a reason to stop serving Slack. Without its state store it cannot run incidents.
            cache["body"] = {
                "ready": state is None,
                "state_store": state or "ok",
                "escalation_leader": escalator.leading,
                "backends": backends,
            }
            cache["at"] = time.monotonic()
        return web.json_response(cache["body"], status=200 if cache["body"]["ready"] else 503)

    async def metrics_endpoint(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), content_type="text/plain", charset="utf-8")

    web_app = web.Application()
    web_app.add_routes(
        [
            web.post("/slack/events", slack_events),
            web.get("/healthz", healthz),
            web.get("/readyz", readyz),
            web.get("/metrics", metrics_endpoint),
            web.post("/alertmanager", intake.endpoint),
        ]
    )
    return web_app


async def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT."""
    import commands.checks  # noqa: F401  (registers the check targets)
    from commands.backends.kube import preload

    preload()  # a second of imports now, instead of a blocked event loop in the first check
    redact("x")  # likewise the secret detectors
    metrics = Metrics()
    db = Database(settings.state_url)  # migrated to the newest schema here, before serving
    client = make_client(
        settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None, settings.slack_api_url
    )
    groups = AlertGroups(db)
    notifier = AlertNotifier(client, settings, groups)
    escalator = Escalator.connect(db, settings.escalation, notifier, on_event=metrics.escalation_event)
    from commands.changes import incident_changes_hook
    from commands.runner import check_runner

    escalator.recent_changes = incident_changes_hook(settings)
    escalator.run_check = check_runner(settings)
    await escalator.start()
    watcher = None
    if settings.kafka_lag.watch_interval_s > 0:
        from commands.checks.kafka_lag import LagWatcher

        watcher = asyncio.create_task(LagWatcher(settings).run())
    app = build_app(settings, metrics, escalator)
    intake = alert_intake(settings, app, escalator, groups, metrics)
    register_fallbacks(app, settings.state_url)  # last: Bolt runs the first listener that matches
    runner = web.AppRunner(build_web(settings, app, metrics, escalator, intake), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.http_host, settings.http_port)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else settings.http_port
    mode = "socket mode" if settings.slack_app_token else "HTTP"
    print(json.dumps({"event": "listening", "port": port, "mode": mode}), flush=True)

    socket_handler = None
    if settings.slack_app_token:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        socket_handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
        await socket_handler.connect_async()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if socket_handler is not None:
        await socket_handler.close_async()
    await escalator.stop()
    if watcher is not None:
        watcher.cancel()
    await runner.cleanup()
    await escalator.close()


def main() -> None:
    """Console script `alp-bot`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        settings = load_settings()
    except ConfigError as err:
        print(err, file=sys.stderr)
        sys.exit(2)
    missing = [
        name
        for name, value in (
            ("SLACK_BOT_TOKEN", settings.slack_bot_token),
            ("SLACK_SIGNING_SECRET", settings.slack_signing_secret),
        )
        if value is None
    ]
    if missing:
        print(f"alp-bot: set {', '.join(missing)} (see README: Configuration)", file=sys.stderr)
        sys.exit(2)
    try:
        asyncio.run(serve(settings))
    except StateStoreError as err:  # at start-up: ALP_STATE_URL wrong, or the database down
        print(f"alp-bot: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
