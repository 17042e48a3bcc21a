"""The peer users would otherwise pick: Starlette on the same granian (ASGI).

``BENCH_STATIC_DIR`` is mounted with ``StaticFiles`` at ``/static``; each ``<name>.html`` in
``BENCH_TEMPLATE_DIR`` is rendered by Jinja2 per request at ``/jinja/<name>`` with the
context stored beside it in ``<name>.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

TEMPLATE_DIR = Path(os.environ["BENCH_TEMPLATE_DIR"])
templates = Jinja2Templates(directory=TEMPLATE_DIR)
contexts: dict[str, dict[str, Any]] = {
    path.stem: json.loads(path.read_text()) for path in TEMPLATE_DIR.glob("*.json")
}


async def render(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in contexts:
        return Response("Not Found", status_code=404)
    return templates.TemplateResponse(request, f"{name}.html", contexts[name])


app = Starlette(routes=[
    Route("/jinja/{name}", render),
    Mount("/static", StaticFiles(directory=os.environ["BENCH_STATIC_DIR"])),
])
