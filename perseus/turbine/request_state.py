"""Request state (and amalgamation): pages rendered on every request, never stored.

Also every other page of an app with ``request_global_state``: its view must see the
request's global state, so it is rendered from its build state for every request.

How a template's state functions run: async ones are awaited on the loop; sync ones
run in the request pool (one hop for state, merge and render), or inline on the loop
for templates declared ``blocking=False``. Only the body asked for is rendered. All of it
runs under ``PERSEUS_REQUEST_TIMEOUT`` (504 past it), except the inline kind, which
cannot be interrupted.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from typing import Any

import orjson

from ..http.bodies import HTML_TYPE, JSON_TYPE, PER_REQUEST_CACHE
from ..http.caching import CACHE_STATUS
from ..http.on_the_fly import compressed_answer
from ..http.response import BYPASS, Response
from ..request import Request
from ..tags import plain_state
from ..template import Template
from .calls import call_user
from .pages import JSON, PageRequest
from .regeneration import PageRef
from .runtime import Runtime

PER_REQUEST_HTML_HEADERS = [("content-type", HTML_TYPE), ("cache-control", PER_REQUEST_CACHE),
                            (CACHE_STATUS, BYPASS)]
PER_REQUEST_JSON_HEADERS = [("content-type", JSON_TYPE), ("cache-control", PER_REQUEST_CACHE),
                            (CACHE_STATUS, BYPASS)]
ON_LOOP, IN_POOL, INLINE = 0, 1, 2
MaybeResponse = Response | Awaitable[Response]
# Marks "the build state the page was built with" (None is a valid state).
_PAGE_STATE: Any = object()


def state_request(request: PageRequest) -> Request:
    """The ``Request`` state functions see: the page's own URL path, also for its JSON endpoint."""
    return Request(request.method, request.page.url, request.query, request.headers.items)


def _state_mode(template: Template) -> int:
    if template.request_state is None:
        # NOTE: rendered per request only for the app's request_global_state: no state
        # function to run, so the view is rendered on the loop, as an async-state page's is.
        return INLINE
    functions = (template.request_state, template.amalgamate_states)
    if any(f is not None and inspect.iscoroutinefunction(f) for f in functions):
        return ON_LOOP
    return IN_POOL if template.blocking else INLINE


class RequestState:
    """The strategy of pages rendered per request (``request_state``, or the app's
    ``request_global_state``): state per request, rendered, never kept."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        app = runtime.app
        self.modes = {t.name: _state_mode(t) for t in app.templates}
        self.async_states = {t.name: inspect.iscoroutinefunction(t.request_state) for t in app.templates}
        self.global_from_request = app.request_global_state is not None

    def answer(self, request: PageRequest, build_state: Any = _PAGE_STATE,
               web_request: Request | None = None) -> MaybeResponse:
        """Answer ``request`` from fresh request state merged over ``build_state``.

        ``build_state`` is the build half: the page's own unless given (a stored
        version's); ``web_request`` the ``Request`` if the caller made it already. An
        answer is returned at once for quick sync state (``blocking=False``), else an
        awaitable of one.
        """
        ref = request.page.ref
        if build_state is _PAGE_STATE:
            build_state = request.page.build_state
        if web_request is None:
            web_request = state_request(request)
        if self.modes[ref.template.name] == INLINE and not self.global_from_request:
            # PERF: quick sync state answered at once: no coroutine, no task, no thread hop.
            try:
                return self._run_sync(request, build_state, web_request, self.runtime.dist.global_state)
            except Exception as error:
                return self.runtime.failed(error, request)
        return self._run(request, build_state, web_request)

    async def answer_with_state(self, request: PageRequest, state_json: bytes) -> Response:
        """Answer ``request`` over the build state of a version just generated."""
        answer = self.answer(request, orjson.loads(state_json))
        return answer if isinstance(answer, Response) else await answer

    async def _run(self, request: PageRequest, build_state: Any, web_request: Request) -> Response:
        runtime = self.runtime
        # Past the timeout async user code is cancelled and a sync call's thread is left
        # to finish (counted by the pool); the answer is 504 either way.
        task = runtime.deadlines.watch()
        try:
            return await self._state_then_render(request, build_state, web_request)
        except asyncio.CancelledError:
            if not runtime.deadlines.expired(task):
                raise  # the server cancelled the request: not ours to answer
            return runtime.failed(TimeoutError("request timeout"), request)
        except Exception as error:
            return runtime.failed(error, request)
        finally:
            runtime.deadlines.forget(task)

    async def _state_then_render(self, request: PageRequest, build_state: Any,
                                 web_request: Request) -> Response:
        runtime = self.runtime
        ref = request.page.ref
        template = ref.template
        global_state = runtime.dist.global_state
        if self.global_from_request:
            global_state = await self._global_state(web_request)
        mode = self.modes[template.name]
        if mode == IN_POOL:
            # PERF: sync user code runs in the pool in one hop: state, merge and render.
            answer: Response = await runtime.pool.run(self._run_sync, request, build_state, web_request,
                                                      global_state)
            return answer
        if mode == INLINE:
            return self._run_sync(request, build_state, web_request, global_state)
        assert template.request_state is not None
        if self.async_states[template.name]:  # PERF: skips call_user's inspection
            state = plain_state(await template.request_state(ref.info, web_request))
        else:
            state = plain_state(await call_user(template.request_state, ref.info, web_request,
                                                pool=runtime.pool))
        if build_state is not None and state is not None and template.amalgamate_states:
            state = plain_state(await call_user(template.amalgamate_states, ref.info, build_state, state,
                                                pool=runtime.pool))
        return self._render(request, state if state is not None else build_state, global_state)

    def _run_sync(self, request: PageRequest, build_state: Any, web_request: Request,
                  global_state: Any) -> Response:
        ref = request.page.ref
        template = ref.template
        if template.request_state is None:  # rendered per request for its global state only
            return self._render(request, build_state, global_state)
        state = plain_state(template.request_state(ref.info, web_request))
        if build_state is not None and state is not None and template.amalgamate_states:
            state = plain_state(template.amalgamate_states(ref.info, build_state, state))
        return self._render(request, state if state is not None else build_state, global_state)

    def _render(self, request: PageRequest, state: Any, global_state: Any) -> Response:
        """Render the page from per-request state: only the body asked for, never stored."""
        renderer = self.runtime.renderer
        ref: PageRef = request.page.ref
        template = ref.template
        # PERF: an HTML page that does not embed its state never encodes it (10 µs of a 9 KB state).
        encode = request.form is JSON or template.embeds_state
        if global_state is renderer.global_state:
            if ref.context is None:
                ref.context = renderer.context(template.name, ref.full, ref.locale)
            parts = renderer.parts(template, ref.path, ref.locale, state, ctx=ref.context, encode=encode)
        else:
            parts = renderer.parts(template, ref.path, ref.locale, state, global_state, encode=encode)
        head, content, state_json, headers = parts
        if request.form is JSON:
            body = renderer.json(head, content, state_json, template)
            headers = PER_REQUEST_JSON_HEADERS
        else:
            body = renderer.html(ref.locale, head, content, state_json, template)
            if template.set_headers is None:
                headers = PER_REQUEST_HTML_HEADERS
            else:
                headers = [(k, v) for k, v in headers if k != "cache-control"]
                headers += [("cache-control", PER_REQUEST_CACHE), (CACHE_STATUS, BYPASS)]
        return compressed_answer(200, headers, body, request.headers.get("accept-encoding"), BYPASS,
                                 request.method != "GET")

    async def _global_state(self, request: Request) -> Any:
        app = self.runtime.app
        built = self.runtime.dist.global_state
        if app.request_global_state is None:
            return built
        pool = self.runtime.pool
        from_request = await call_user(app.request_global_state, request, pool=pool)
        if from_request is None:
            return built
        if built is not None and app.amalgamate_global_states is not None:
            return await call_user(app.amalgamate_global_states, built, from_request, pool=pool)
        return from_request
