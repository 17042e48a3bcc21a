"""Revalidation: built pages served from their stored version, regenerated in the background when due.

The store is read on every request (so another worker's, or ``perseus revalidate``'s,
newer version is seen at once); ``plan`` decides from that version's metadata and the
clock. Stale pages are answered at once while one regeneration runs
(``regeneration.Revalidator``); a store that cannot be read leaves the build's copy as
the last good version (``Runtime.with_stored``).
"""

from __future__ import annotations

import time

from perseus_core.plan import BUILT_PAGE, PER_REQUEST, REVALIDATE, SOURCE, STORED, plan

from ..http.response import HIT, STALE, Response
from ..request import Request
from ..stores.records import PageVersion
from .pages import PageRequest, version_answer
from .request_state import MaybeResponse, RequestState, state_request
from .runtime import Runtime


def send_version(runtime: Runtime, request: PageRequest, version: PageVersion, cache: str = HIT) -> Response:
    """The answer with a stored version as ``cache`` (HIT, STALE, GENERATED, MISS): a
    compressed copy where the client takes one, 304 where the client has it."""
    control = runtime.stored_cache_control[request.page.template.name]
    return runtime.bodies.send(request.method, version_answer(version, request.form, cache, control),
                               request.headers)


class Revalidation:
    """The strategy of built pages of templates with ``revalidate_after`` or ``should_revalidate``."""

    def __init__(self, runtime: Runtime, request_state: RequestState) -> None:
        self.runtime = runtime
        self.request_state = request_state

    def answer(self, request: PageRequest) -> MaybeResponse:
        return self.runtime.with_stored(request.page.ref, lambda version: self._answer(request, version))

    def _answer(self, request: PageRequest, version: PageVersion | None) -> MaybeResponse:
        page = request.page
        # No stored version (or the store away): the build's copy is the last good one.
        meta = page.built_meta if version is None else version.meta
        decision = plan(BUILT_PAGE, page.flags, meta, time.time())
        web_request = None
        if decision & REVALIDATE and meta is not None:  # PERF: no call for a page that is not due
            web_request = self.schedule(request, decision, meta.generated_at)
        if decision & PER_REQUEST:
            if version is None:
                return self.request_state.answer(request, web_request=web_request)
            return self.request_state.answer(request, version.build_state(), web_request)
        if decision & SOURCE == STORED and version is not None:
            return send_version(self.runtime, request, version, STALE if decision & REVALIDATE else HIT)
        # The build's copy (its headers say MISS): no stored version, or none readable.
        served = page.served
        assert served is not None  # a built revalidating page without state per request
        return self.runtime.bodies.send(request.method, served[request.form.index], request.headers)

    def schedule(self, request: PageRequest, decision: int, generated_at: float) -> Request | None:
        """Start the page's regeneration if ``decision`` says it is due (GET only: HEAD is
        answered from what there is). Returns the ``Request`` made for ``should_revalidate``."""
        if not decision & REVALIDATE or request.method != "GET":
            return None
        web_request = None
        if request.page.template.should_revalidate is not None:
            web_request = state_request(request)
        revalidator = self.runtime.revalidator
        assert revalidator is not None
        revalidator.schedule(request.page.ref, web_request, generated_at, time.time())
        return web_request
