"""A raw HTTP/1.1 client for the fault scenarios: bytes out as given, every answer bounded in time.

No client library normalises what is sent (a fuzzed request line goes out byte for byte),
and each exchange ends one of four ways: a whole answer, the server closing without one,
a reset, or a hang (nothing complete within the bound).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

HOST = "127.0.0.1"
_READ = 65536


@dataclass
class Answer:
    """What one request got back."""

    request: bytes
    status: int | None = None  # None: no answer (closed, reset or hung)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    raw: bytes = b""
    seconds: float = 0.0
    hung: bool = False
    error: str | None = None  # "reset", "refused", "garbled: ..."

    @property
    def target(self) -> bytes:
        """The request target as sent (the second word of the request line)."""
        line = self.request.split(b"\n", 1)[0]
        parts = line.split(b" ")
        return parts[1] if len(parts) > 1 else b""


def request(method: str, target: str | bytes, headers: Iterable[tuple[str, str]] = (), *,
            body: bytes = b"", close: bool = True) -> bytes:
    """A well-formed HTTP/1.1 request."""
    raw_target = target.encode("latin-1") if isinstance(target, str) else target
    lines = [method.encode() + b" " + raw_target + b" HTTP/1.1", b"Host: " + HOST.encode()]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in headers]
    if body:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    if close:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def get(target: str | bytes, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    return request("GET", target, headers)


class _Incomplete(Exception):
    pass


def parse(raw: bytes, head_request: bool) -> tuple[int, dict[str, str], bytes]:
    """The first final answer in ``raw`` (1xx answers skipped) as (status, headers, body).

    Raises:
        _Incomplete: ``raw`` does not hold a whole answer yet.
        ValueError: ``raw`` is not HTTP.
    """
    while True:
        head, found, rest = raw.partition(b"\r\n\r\n")
        if not found:
            raise _Incomplete
        status_line, *lines = head.decode("latin-1").split("\r\n")
        words = status_line.split(" ", 2)
        if len(words) < 2 or not words[0].startswith("HTTP/1.") or not words[1].isdigit():
            raise ValueError(f"not an HTTP answer: {status_line[:80]!r}")
        status = int(words[1])
        if 100 <= status < 200:
            raw = rest
            continue
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if head_request or status in (204, 304):
            return status, headers, b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return status, headers, _dechunk(rest)
        if "content-length" in headers:
            length = int(headers["content-length"])
            if len(rest) < length:
                raise _Incomplete
            return status, headers, rest[:length]
        raise _Incomplete  # delimited by the end of the connection


def _dechunk(body: bytes) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line, found, body = body.partition(b"\r\n")
        if not found:
            raise _Incomplete
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return b"".join(chunks)
        if len(body) < size + 2:
            raise _Incomplete
        chunks.append(body[:size])
        body = body[size + 2:]


async def exchange(port: int, data: bytes, *, bound: float, half_close: bool = False) -> Answer:
    """Send ``data`` on a new connection and read one answer, giving up after ``bound`` seconds.

    ``half_close`` ends the sending side after ``data`` (for a request that is cut short, so
    the server sees the end of it); granian drops a whole request it sees that after.
    """
    answer = Answer(data)
    head_request = data[:5] == b"HEAD "
    start = time.monotonic()
    raw = b""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(bound):
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(data)
            if half_close:
                try:
                    writer.write_eof()
                except OSError:
                    pass  # the server closed the connection already: read what it sent
            await writer.drain()
            while True:
                chunk = await reader.read(_READ)
                raw += chunk
                try:
                    answer.status, answer.headers, answer.body = parse(raw, head_request)
                    break
                except _Incomplete:
                    if not chunk:
                        if raw:  # an answer delimited by the close, or cut short
                            answer.error = "truncated"
                            answer.status, answer.headers, _ = parse(raw, True)
                            answer.body = raw.partition(b"\r\n\r\n")[2]
                            framed = {"content-length", "transfer-encoding"} & answer.headers.keys()
                            answer.error = "truncated" if framed else None
                        break
    except TimeoutError:
        answer.hung = True
    except ConnectionRefusedError:
        answer.error = "refused"
    except (ConnectionResetError, BrokenPipeError):
        answer.error = "reset"
    except OSError as exc:
        answer.error = f"socket error: {exc.strerror}"
    except _Incomplete:
        pass  # the head was cut short: "truncated", set above
    except ValueError as exc:
        answer.error = f"garbled: {exc}"
    finally:
        if writer is not None:
            writer.close()
    answer.raw = raw
    answer.seconds = time.monotonic() - start
    return answer


class Outgoing(Protocol):
    """A request to send: its bytes, and whether to close the sending side after them."""

    @property
    def data(self) -> bytes: ...

    @property
    def half_close(self) -> bool: ...


R = TypeVar("R", bound=Outgoing)


async def run_all(port: int, requests: Iterable[R], *, concurrency: int, bound: float,
                  seen: Callable[[R, Answer], None]) -> None:
    """Send every request with ``concurrency`` connections at once; ``seen`` gets each request
    with its answer as it comes."""
    todo = iter(requests)

    async def worker() -> None:
        for outgoing in todo:
            seen(outgoing, await exchange(port, outgoing.data, bound=bound, half_close=outgoing.half_close))

    await asyncio.gather(*(worker() for _ in range(concurrency)))


K = TypeVar("K")


async def keep_sending(port: int, next_request: Callable[[], tuple[K, bytes]], *, seconds: float,
                       concurrency: int, bound: float, seen: Callable[[K, Answer], None]) -> None:
    """For ``seconds``, send ``next_request()`` from ``concurrency`` connections at once; each
    gives a label and the request's bytes, and ``seen`` gets the label with the answer."""
    stop = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < stop:
            label, data = next_request()
            seen(label, await exchange(port, data, bound=bound))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
