"""The port of ``perseus serve --watch``: held by the session itself, relayed to its server.

The session listens on the port for its whole life and relays each connection, byte for
byte, to the server of the last good build (a ``perseus serve --no-build`` child on a
loopback port of its own). After a good build the new server starts beside the old one;
once it answers ``/.perseus/ready``, new connections go to it and the old server drains
(its connections finish) and stops. So no connection is ever refused or reset while
servers are swapped, and a request made while none can answer (the first build running)
waits for one. Until a build succeeds, every request is answered with the session's
notice instead (the first build's failure overlay, 503).

NOTE: why not ``--reuse-port`` on the same port: while both servers listen the kernel
splits connections between two builds at random, and closing the old server's listener
resets the connections queued on it (a few per swap under load); nor could anything
answer before the first good build.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
from contextlib import suppress

from .errors import PerseusError
from .server.ports import port_in_use_message

# A request made while no server can answer yet (the first build, a swap) waits this long.
WAIT_FOR_SERVER_SECONDS = 60.0
WAIT_STEP_SECONDS = 0.05
CHUNK = 65_536
MAX_REQUEST_HEAD = 65_536
READ_HEAD_SECONDS = 10.0
NOTICE_HEADER = "x-perseus-dev-notice"
# The notice page asks again until the session answers otherwise (a server, or another
# notice), then loads the page anew.
_NOTICE_POLL = (
    "<script>(()=>{const n=%s;setInterval(async()=>{try{const r=await fetch(location.href,"
    "{method:'HEAD',cache:'no-store'});if(r.headers.get('" + NOTICE_HEADER + "')!==n)location.reload();}"
    "catch(e){}},500);})();</script>"
)


def listen(host: str, port: int) -> socket.socket:
    """The session's listening socket, or a ``PerseusError`` saying the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=512)
    except OSError as error:
        raise PerseusError(port_in_use_message(host, port) if error.errno == errno.EADDRINUSE else
                           f"cannot listen on {host}:{port}: {error.strerror}") from None


class Front:
    """Relays connections to ``backend`` (a loopback port), or answers with the notice."""

    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.backend: int | None = None
        self.notice: tuple[str, bytes] | None = None  # (its stamp, a whole HTML page)
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.Server | None = None
        # NOTE: asyncio holds a connection's task only weakly while both its sockets wait:
        # without this set, the collector could destroy a relay mid-answer.
        self.relays: set[asyncio.Task[None]] = set()
        self.thread = threading.Thread(target=self._run, name="perseus-dev-front", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def point_at(self, port: int) -> None:
        """Send new connections to the server on ``port``; no notice any more."""
        self.backend = port
        self.notice = None

    def show(self, stamp: str, page: str) -> None:
        """Answer every request with ``page`` until ``point_at`` (no server can answer)."""
        self.backend = None
        self.notice = (stamp, page.encode())

    def stop(self) -> None:
        """Close the port and every relayed connection."""
        if self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._stop(), self.loop)
            self.thread.join(5)
        self.listener.close()

    async def _stop(self) -> None:
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        asyncio.get_running_loop().stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.loop.run_forever()
        self.loop.close()

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._relay, sock=self.listener, limit=CHUNK)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.relays.add(task)
        try:
            upstream = await self._connect()
            if upstream is None:
                await self._answer_notice(reader, writer)
                return
            up_reader, up_writer = upstream
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            self.relays.discard(task)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A connection to the current server, waiting while there is none and no notice;
        None: answer with the notice."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_FOR_SERVER_SECONDS
        while loop.time() < deadline:
            port = self.backend
            if port is not None:
                with suppress(OSError):  # a server just retired: the next try finds its successor
                    return await asyncio.open_connection("127.0.0.1", port, limit=CHUNK)
            elif self.notice is not None:
                return None
            await asyncio.sleep(WAIT_STEP_SECONDS)
        return None

    async def _answer_notice(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_HEAD_SECONDS)
        stamp, page = self.notice or ("waiting", _waiting_page())
        body = page.replace(b"</body>", (_NOTICE_POLL % _js_string(stamp)).encode() + b"</body>", 1)
        head_only = head.startswith(b"HEAD ")
        writer.write(
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/html; charset=utf-8\r\n"
            b"cache-control: no-store\r\nconnection: close\r\nretry-after: 1\r\n"
            + f"{NOTICE_HEADER}: {stamp}\r\ncontent-length: {len(body)}\r\n\r\n".encode()
            + (b"" if head_only else body))
        await writer.drain()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until the end, then pass the end on (a half close: the other way may go on)."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()  # one side went away: so does the other


def _js_string(text: str) -> str:
    return '"' + "".join(c for c in text if c.isalnum() or c in "-_.") + '"'


def _waiting_page() -> bytes:
    return (b"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Building</title></head>"
            b"<body><main><p>perseus is still building the site.</p></main></body></html>")
