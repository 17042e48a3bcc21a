"""``/.perseus/health`` and ``/.perseus/ready``, for load balancers and Kubernetes probes.

health: 200 whenever the worker runs its event loop (no I/O at all). ready: 200 once the
site is open (an engine exists only then) and its mutable store, if it has one, answers
a count of its pages within ``READY_SECONDS``; else 503 with a JSON reason. The reason
names the kind of store only: never its URL, which may hold a password.
"""

from __future__ import annotations

import asyncio

import orjson

from ..errors import StoreError
from ..http.bodies import JSON_TYPE
from ..http.response import Response
from .runtime import Runtime

# NOTE: well under the period of common probes (Kubernetes: 10 s, with a 1 s timeout), so
# a Redis that hangs answers 503 before the probe itself gives up.
READY_SECONDS = 0.8
PROBE_HEADERS = [("content-type", JSON_TYPE), ("cache-control", "no-store")]


def json_answer(status: int, fields: dict[str, object], method: str) -> Response:
    return Response(status, PROBE_HEADERS, orjson.dumps(fields) if method == "GET" else b"")


class Probes:
    """The answers of the two probe URLs for one served site."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.store_kind = "redis" if runtime.store_pool is not None else "lmdb"
        self.timeout = min(READY_SECONDS, runtime.request_timeout)
        self._healthy = json_answer(200, {"status": "ok"}, "GET")
        self._healthy_head = json_answer(200, {}, "HEAD")

    def health(self, method: str) -> Response:
        return self._healthy if method == "GET" else self._healthy_head

    async def ready(self, method: str) -> Response:
        reason = await self.unready_reason()
        if reason is None:
            return json_answer(200, {"status": "ready"}, method)
        return json_answer(503, {"status": "unavailable", "reason": reason}, method)

    async def unready_reason(self) -> str | None:
        """None when the store answers (or there is none), else why not, for the client."""
        records = self.runtime.records
        if records is None:
            return None
        try:
            await asyncio.wait_for(self.runtime.store_call(records.store.count), self.timeout)
        except TimeoutError:
            return f"the mutable store ({self.store_kind}) did not answer within {self.timeout:g}s"
        except StoreError as error:
            self.runtime.store_trouble.report("the readiness check", error)
            return f"the mutable store ({self.store_kind}) is failing"
        return None

    async def stored_pages(self) -> int | None:
        """How many pages the mutable store holds (None: no store, or it does not answer)."""
        records = self.runtime.records
        if records is None:
            return None
        try:
            count: int = await asyncio.wait_for(self.runtime.store_call(records.store.count), self.timeout)
        except (TimeoutError, StoreError):
            return None
        return count
