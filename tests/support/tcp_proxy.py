"""A TCP proxy between a bot process and PostgreSQL that can cut a connection the way a network
partition does: after it forwarded a chosen statement to the server, the bot's side is dropped
and the server's side is kept open and silent, so PostgreSQL sees a client that has vanished
mid-transaction (the backend stays `idle in transaction`, holding its row locks), and new
connections from the bot are refused until `heal()`. Runs its own asyncio loop in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from urllib.parse import urlsplit, urlunsplit


class PgProxy:
    def __init__(self, dsn: str) -> None:
        parts = urlsplit(dsn)
        self._dsn = parts
        self.target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._cut_on: bytes | None = None
        self._then: bytes | None = None  # cut_after(..., then=): the marked connection is cut at this
        self.cut_done = threading.Event()
        self.partitioned = False
        self._silent: list[asyncio.StreamWriter] = []  # server sides kept open after a cut
        self._live: set[tuple[asyncio.Event, asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.most = 0  # the most connections open through the proxy at once
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def dsn(self) -> str:
        """The DSN the bot uses: the proxy's port instead of PostgreSQL's."""
        netloc = self._dsn.netloc.rsplit(":", 1)[0] + f":{self.port}"
        return urlunsplit(self._dsn._replace(netloc=netloc))

    def start(self) -> PgProxy:
        self._thread.start()
        self._ready.wait(5)
        return self

    def cut_after(self, marker: bytes, then: bytes | None = None) -> None:
        """Cut the next connection that sends `marker` (e.g. b"UPDATE alp_leases") right after
        forwarding it, and refuse new connections from then on. `then` (e.g. b"COMMIT"): cut that
        connection only after it next sends `then`, so the server has done it and the bot never hears."""
        self.cut_done.clear()
        self._then = then
        self._cut_on = marker

    def partition(self) -> None:
        """Cut every connection now and refuse new ones (until `heal()`), like a network partition."""
        self._loop.call_soon_threadsafe(self._partition)

    def heal(self) -> None:
        self.partitioned = False

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port))
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self.partitioned:
            _abort(client_w)
            return
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            _abort(client_w)
            return
        cut = asyncio.Event()
        link = (cut, client_w, server_w)
        self._live.add(link)
        self.most = max(self.most, len(self._live))

        async def upstream() -> None:
            marked = False
            while not cut.is_set():
                data = await client_r.read(65536)
                if not data:
                    break
                server_w.write(data)
                await server_w.drain()
                if marked and self._then is not None and self._then in data:
                    self._partition()
                    return
                if self._cut_on is not None and self._cut_on in data:
                    if self._then is None:
                        self._partition()
                        return
                    marked = True
                    self._cut_on = None
            if not cut.is_set():
                server_w.close()

        async def downstream() -> None:
            while not cut.is_set():
                data = await server_r.read(65536)
                if not data or cut.is_set():
                    break
                client_w.write(data)
                with contextlib.suppress(ConnectionError):
                    await client_w.drain()
            if not cut.is_set():
                _abort(client_w)

        up = asyncio.ensure_future(upstream())
        down = asyncio.ensure_future(downstream())
        with contextlib.suppress(Exception):
            await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
        self._live.discard(link)
        if cut.is_set():
            for task in (up, down):
                task.cancel()  # the server side stays open: nobody reads it, nobody closes it
            return
        for task in (up, down):
            task.cancel()
        server_w.close()
        _abort(client_w)

    def _partition(self) -> None:
        """Every connection of the bot is cut at once; PostgreSQL never hears that the client went away."""
        self._cut_on = self._then = None
        self.partitioned = True
        for cut, client_w, server_w in list(self._live):
            cut.set()
            self._silent.append(server_w)
            _abort(client_w)
        self.cut_done.set()


def _abort(writer: asyncio.StreamWriter) -> None:
    transport = writer.transport
    if not transport.is_closing():
        transport.abort()
