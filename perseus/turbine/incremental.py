"""Incremental generation: a path below an incremental template that the build did not
render is generated on its first request (once, see ``regeneration.IncrementalGenerator``),
stored, then served like a built page (and revalidated like one, if its template says so).
"""

from __future__ import annotations

import time

from perseus_core.plan import GENERATE, PER_REQUEST, REVALIDATE, SOURCE, UNBUILT_PAGE, plan

from ..http.response import HIT, STALE, Response
from ..stores.records import PageVersion
from .pages import PageRequest
from .request_state import MaybeResponse, RequestState
from .revalidation import Revalidation, send_version
from .runtime import Runtime


class Incremental:
    """The strategy of unbuilt paths below incremental templates: generated once, then stored."""

    def __init__(self, runtime: Runtime, request_state: RequestState, revalidation: Revalidation) -> None:
        self.runtime = runtime
        self.request_state = request_state
        self.revalidation = revalidation

    def answer(self, request: PageRequest) -> MaybeResponse:
        ref = request.page.ref
        if any(segment in (".", "..") for segment in ref.full.split("/")):
            return self.runtime.errors.answer(404, request.method, request.form, ref.locale,
                                              accept_encoding=request.headers.get("accept-encoding"))
        return self.runtime.with_stored(ref, lambda version: self._answer(request, version))

    def _answer(self, request: PageRequest, version: PageVersion | None) -> MaybeResponse:
        meta = version.meta if version is not None else None
        decision = plan(UNBUILT_PAGE, request.page.flags, meta, time.time())
        if version is None or decision & SOURCE == GENERATE:
            return self._generate_then_answer(request, decision)
        web_request = self.revalidation.schedule(request, decision, version.generated_at)
        if decision & PER_REQUEST:
            return self.request_state.answer(request, version.build_state(), web_request)
        return send_version(self.runtime, request, version, STALE if decision & REVALIDATE else HIT)

    async def _generate_then_answer(self, request: PageRequest, decision: int) -> Response:
        generator = self.runtime.generator
        assert generator is not None
        try:
            version, cache = await generator.page(request.page.ref)
        except Exception as error:
            return self.runtime.failed(error, request)
        if decision & PER_REQUEST:
            return await self.request_state.answer_with_state(request, version.state)
        return send_version(self.runtime, request, version, cache)
