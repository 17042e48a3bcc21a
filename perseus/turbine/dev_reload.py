"""Browser reload for ``perseus serve --watch``: the script pages get and the stream it listens to.

Only in watch mode (``Settings.dev_reload``: ``PERSEUS_DEV_RELOAD``, set by the dev server
for its build and server processes) does a page carry a small script that opens ``/.perseus/dev/events``, a
Server-Sent Events stream announcing the build id the server serves, and reloads the page
when that id differs from the one the page was built with, and shows the overlay of a
build that failed (``perseus.dev_overlay``) over the page until then. A rebuild replaces the server
process: the stream drops, ``EventSource`` reconnects by itself, and the new server
announces the new build. A production build never has the script, and a production server
answers the events path with 404 like any unknown ``/.perseus/`` path.
"""

from __future__ import annotations

import orjson

from perseus_core._escape import escape_script_json

from ..dev_overlay import OVERLAY_ID, request_overlay
from ..http.bodies import HTML_TYPE, PER_REQUEST_CACHE
from ..http.response import Response
from ..http.urls import DEV_EVENTS_PATH

# How soon a browser reconnects after the stream drops (the server is being replaced).
RECONNECT_MS = 300


def reload_script(base_path: str, build_id: str) -> str:
    """The inline script that reloads the page once the server serves another build."""
    events = base_path + DEV_EVENTS_PATH
    config = escape_script_json(orjson.dumps({"build": build_id, "events": events})).decode()
    return (
        "<script>(()=>{const c=" + config + ";const s=new EventSource(c.events);"
        "s.onmessage=(e)=>{if(e.data!==c.build){s.close();location.reload();}};"
        # A failed build: its overlay (HTML the server escaped) over the page, until a good
        # build reloads it.
        "s.addEventListener('failure',(e)=>{document.getElementById('" + OVERLAY_ID + "')?.remove();"
        "document.body.insertAdjacentHTML('beforeend',JSON.parse(e.data));});})();</script>"
    )


def overlay_answer(page: str, error: BaseException, method: str, base_path: str, build_id: str) -> Response:
    """The 500 answer of a request whose user code raised, in watch mode only: the overlay
    (the exception, the user's line and frames) instead of the site's error page."""
    body = request_overlay(page, error, reload_script(base_path, build_id)).encode()
    headers = [("content-type", HTML_TYPE), ("cache-control", PER_REQUEST_CACHE)]
    return Response(500, headers, body if method != "HEAD" else b"")

