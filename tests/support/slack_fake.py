"""A local fake of Slack's Web API that records what the bot sends and answers like Slack.

It serves `/api/<method>` (auth.test, chat.postMessage, chat.update, chat.postEphemeral,
files.getUploadURLExternal, files.completeUploadExternal, conversations.open, conversations.history (the
channel's top-level messages, their metadata with `include_all_metadata`), usergroups.list,
usergroups.users.list/update, users.info, users.list, users.lookupByEmail), the file upload URL it hands
out, and `/response/<id>` as a `response_url`. It runs in its own thread and event loop on
an ephemeral port, so both sync and async tests can use it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web


@dataclass
class Call:
    """One request the bot made: the API method (or `response_url`/`upload`) and its args."""

    method: str
    args: dict[str, Any]
    response: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.uploaded: dict[str, bytes] = {}  # file id -> the bytes uploaded
        self.not_in_channel: set[str] = set()
        # method (or "response_url") -> failures to answer with, first first: see `fail`
        self.failures: dict[str, list[dict[str, Any]]] = {}
        self.usergroups: dict[str, list[str]] = {}
        # the workspace's people: id -> {"tz": IANA zone, "email": ..., "deleted": bool, "name": ...}
        self.users: dict[str, dict[str, Any]] = {}
        # usergroups.users.update refused with this error ("missing_scope", "permission_denied", ...)
        self.refuse_group_writes: str | None = None
        self.fail_text: dict[str, int] = {}
        self.delay_text: dict[
            str, float
        ] = {}  # a thread post with this in its text is answered this late  # chat.postMessage with this in its text fails this many times more
        self.delay_top_text: dict[str, float] = {}  # a top-level post (no thread) with this text: answered late
        self.hold: dict[str, float] = {}  # method -> seconds its calls wait before Slack does anything
        self.socket_received: list[dict[str, Any]] = []  # what the bot sent back over Socket Mode
        self._sockets: list[web.WebSocketResponse] = []
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeSlack:
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        if not ready.wait(10):
            raise RuntimeError("fake Slack did not start")
        return self

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # some Web API methods are GETs
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{rid}", self._response_url)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, rid: str) -> str:
        return f"{self.base}/response/{rid}"

    # ------------------------------------------------------------------ inspection
    def reset(self) -> None:
        """Forget the calls and every configured behaviour, user groups included (run before each test)."""
        with self._lock:
            self.calls.clear()
        self.usergroups.clear()
        self.not_in_channel.clear()
        self.failures.clear()
        self.fail_text.clear()
        self.delay_text.clear()
        self.users.clear()
        self.refuse_group_writes = None
        self.delay_top_text.clear()
        self.hold.clear()

    def called(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, pred: Callable[[Call], bool] = lambda c: True, timeout: float = 30) -> Call:
        """The first recorded call of `method` that satisfies `pred`, waiting up to `timeout`."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for c in self.called(method):
                if pred(c):
                    return c
            time.sleep(0.05)
        raise AssertionError(f"no {method} call matched within {timeout}s; got {self.calls!r}")

    def fail(
        self,
        method: str,
        error: str | None = None,
        *,
        status: int = 200,
        retry_after: int | None = None,
        body: str | None = None,
        times: int = 1,
        when: Callable[[dict[str, Any]], bool] = lambda args: True,
    ) -> None:
        """Answer the next `times` calls of `method` (matching `when`) with a failure, as Slack
        can: `fail("chat.update", "ratelimited", status=429, retry_after=1)`, `fail(m, "invalid_blocks")`,
        `fail(m, "msg_too_long")`, `fail(m, status=500, body="<html>")` (not JSON), or
        `fail("response_url", status=500)`."""
        entry = {"error": error, "status": status, "retry_after": retry_after, "body": body, "when": when}
        with self._lock:
            self.failures.setdefault(method, []).extend(dict(entry) for _ in range(times))

    def _failure(self, method: str, args: dict[str, Any]) -> web.Response | None:
        if not self.failures.get(method):  # no lock when nothing is planned: keep the usual timing
            return None
        with self._lock:
            queue = self.failures.get(method, [])
            entry = next((f for f in queue if f["when"](args)), None)
            if entry is None:
                return None
            queue.remove(entry)
        headers = {"Retry-After": str(entry["retry_after"])} if entry["retry_after"] is not None else None
        self._record(method, args, {"ok": False, "error": entry["error"] or f"HTTP {entry['status']}", "failed": True})
        if entry["body"] is not None:
            return web.Response(status=entry["status"], text=entry["body"], headers=headers)
        return web.json_response({"ok": False, "error": entry["error"]}, status=entry["status"], headers=headers)

    # ------------------------------------------------------------------ handlers
    def _record(self, method: str, args: dict[str, Any], response: dict[str, Any] | None = None) -> None:
        with self._lock:
            self.calls.append(Call(method, args, response or {}))

    @staticmethod
    async def _args(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if request.content_type == "application/json":
            args: dict[str, Any] = json.loads(raw or b"{}")
        else:
            args = dict(parse_qsl(raw.decode()))
        args.update(request.query)  # some SDK methods send their arguments as query params
        for key in ("blocks", "attachments", "files", "metadata"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        return args

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        auth = request.headers.get("Authorization", "")
        token_kind = "Bearer xapp-" if method == "apps.connections.open" else "Bearer xoxb-"
        if not auth.startswith(token_kind):
            return web.json_response({"ok": False, "error": "not_authed"})
        if self.hold.get(method):  # held before it is done: a bot killed meanwhile never did it
            await asyncio.sleep(self.hold[method])
        failure = self._failure(method, args)
        if failure is not None:
            return failure
        answer = self._answer(method, args)
        self._record(method, args, answer)
        for part, delay in list(self.delay_top_text.items()):  # posted at the top level, the answer late
            if method == "chat.postMessage" and not args.get("thread_ts") and part in str(args.get("text", "")):
                await asyncio.sleep(delay)
        for part, delay in list(self.delay_text.items()):  # posted, but the answer is late
            if method == "chat.postMessage" and args.get("thread_ts") and part in str(args.get("text", "")):
                await asyncio.sleep(delay)
        return web.json_response(answer)

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://alp-test.slack.com/",
                "team": "alp",
                "user": "alp",
                "team_id": "T0001",
                "user_id": "UBOT",
                "bot_id": "B0001",
            }
        if method in ("chat.postMessage", "chat.postEphemeral"):
            channel = args.get("channel", "")
            if channel in self.not_in_channel:
                return {"ok": False, "error": "not_in_channel"}
            for part, left in list(self.fail_text.items()):
                if left > 0 and part in str(args.get("text", "")):
                    self.fail_text[part] = left - 1
                    return {"ok": False, "error": "fatal_error"}
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            return {"ok": True, "channel": channel, "ts": ts, "message": {"text": args.get("text")}}
        if method == "conversations.replies":  # the thread, from what was posted into it
            posted = [
                c
                for c in self.called("chat.postMessage")
                if c.args.get("channel") == args.get("channel")
                and c.args.get("thread_ts") == args.get("ts")
                and c.response.get("ok")
            ]
            return {"ok": True, "messages": [{"text": c.args.get("text"), "ts": c.response.get("ts")} for c in posted]}
        if method == "conversations.history":  # the channel's top-level messages, as last updated
            posted = [
                c
                for c in self.called("chat.postMessage")
                if c.args.get("channel") == args.get("channel") and not c.args.get("thread_ts") and c.response.get("ok")
            ]
            latest = {str(c.args.get("ts")): c for c in self.called("chat.update") if c.response.get("ok")}
            shown = [latest.get(str(c.response.get("ts")), c) for c in posted]
            # a message's metadata (chat.postMessage's, kept by chat.update
            # unless it sends its own) only with include_all_metadata
            metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
            messages = []
            for c, s in zip(posted, shown, strict=True):
                m = {"text": s.args.get("text"), "ts": c.response.get("ts"), "blocks": s.args.get("blocks") or []}
                if metadata and (s.args.get("metadata") or c.args.get("metadata")):
                    m["metadata"] = s.args.get("metadata") or c.args.get("metadata")
                messages.append(m)
            return {"ok": True, "messages": messages}
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.usergroups.get(str(args.get("usergroup")), [])}
        if method == "usergroups.users.update":
            if self.refuse_group_writes:
                answer: dict[str, Any] = {"ok": False, "error": self.refuse_group_writes}
                if self.refuse_group_writes == "missing_scope":
                    answer["needed"] = "usergroups:write"
                return answer
            group = str(args.get("usergroup"))
            if group not in self.usergroups:
                return {"ok": False, "error": "no_such_subteam"}
            self.usergroups[group] = [u for u in str(args.get("users", "")).split(",") if u]
            return {"ok": True, "usergroup": {"id": group, "users": self.usergroups[group]}}
        if method == "usergroups.list":
            return {"ok": True, "usergroups": [{"id": g, "users": u} for g, u in self.usergroups.items()]}
        if method == "users.info":
            found = self.users.get(str(args.get("user")))
            if found is None:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": self._user(str(args.get("user")), found)}
        if method == "users.list":
            return {"ok": True, "members": [self._user(uid, u) for uid, u in self.users.items()]}
        if method == "users.lookupByEmail":
            email = str(args.get("email", "")).lower()
            for uid, found in self.users.items():
                if str(found.get("email", "")).lower() == email:
                    return {"ok": True, "user": self._user(uid, found)}
            return {"ok": False, "error": "users_not_found"}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(args.get("users", "")).split(",")[0]}}
        if method in ("views.open", "views.update"):
            return {"ok": True, "view": {"id": f"V{next(self._ts):06d}"}}
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "chat.getPermalink":
            ts = str(args.get("message_ts", ""))
            return {
                "ok": True,
                "permalink": f"https://alp-test.slack.com/archives/{args.get('channel')}/p{ts.replace('.', '')}",
            }
        if method == "files.getUploadURLExternal":
            fid = f"F{next(self._ts):06d}"
            return {"ok": True, "upload_url": f"{self.base}/upload/{fid}", "file_id": fid}
        if method == "files.completeUploadExternal":
            files = args.get("files") or []
            return {"ok": True, "files": [{"id": f.get("id"), "title": f.get("title")} for f in files]}
        return {"ok": False, "error": "unknown_method"}

    @staticmethod
    def _user(uid: str, found: dict[str, Any]) -> dict[str, Any]:
        tz = found.get("tz")
        return {
            "id": uid,
            "name": found.get("name", uid.lower()),
            "deleted": bool(found.get("deleted", False)),
            "tz": tz,
            "is_bot": False,
            "profile": {"email": found.get("email"), "real_name": found.get("name", uid)},
        }

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Slack's Socket Mode: say hello, then relay envelopes; record the bot's acks."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "connection_info": {"app_id": "A0ALP"},
                "debug_info": {"host": "fake", "approximate_connection_time": 3600},
            }
        )
        async for msg in ws:
            if msg.type == web.WSMsgType.TEXT:
                self.socket_received.append(json.loads(msg.data))
        self._sockets.remove(ws)
        return ws

    @property
    def socket_connected(self) -> bool:
        return bool(self._sockets)

    def socket_send(self, envelope: dict[str, Any]) -> None:
        """Deliver an envelope to the connected bot, as Slack does over Socket Mode."""
        ws = self._sockets[-1]
        asyncio.run_coroutine_threadsafe(ws.send_json(envelope), self._loop).result(5)

    async def _upload(self, request: web.Request) -> web.Response:
        body = await request.read()
        content = body.decode(errors="replace")  # a report is text; a chart is PNG bytes
        head = body[:8].hex()  # JSON-friendly: a PNG starts 89504e470d0a1a0a
        self.uploaded[request.match_info["file_id"]] = body  # the bytes as sent (a chart to decode)
        self._record("upload", {"file_id": request.match_info["file_id"], "content": content, "head": head})
        return web.Response(text="OK")

    async def _response_url(self, request: web.Request) -> web.Response:
        args = {"rid": request.match_info["rid"], **json.loads(await request.read())}
        failure = self._failure("response_url", args)
        if failure is not None:
            return failure
        self._record("response_url", args)
        return web.Response(text="ok")
