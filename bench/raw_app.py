"""The baseline: a bare granian RSGI app answering with bytes held in memory.

``BENCH_RAW_SPEC`` names a JSON file: ``{"routes": {path: [status, headers, body_b64]},
"missing": [status, headers, body_b64]}`` — the very bytes and headers perseus answers with.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

Answer = tuple[int, list[tuple[str, str]], bytes]


def _answer(entry: list[Any]) -> Answer:
    status, headers, body = entry
    return status, [(name, value) for name, value in headers], base64.b64decode(body)


class RawApp:
    """One dict lookup, then ``response_bytes``: the least any RSGI app can do per request."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.routes = {path: _answer(entry) for path, entry in spec["routes"].items()}
        self.missing = _answer(spec["missing"])

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        status, headers, body = self.routes.get(scope.path, self.missing)
        proto.response_bytes(status, headers, body)


with open(os.environ["BENCH_RAW_SPEC"], "rb") as spec_file:
    app = RawApp(json.load(spec_file))
