"""``perseus export --serve``: a local preview of the export, as a static host would serve it.

Python's ``http.server`` with a handler that adds what static hosts do: the site lives
under the base path, a folder is answered by its ``index.html`` (``/about`` redirects to
``/about/``), and anything missing gets ``404.html`` with status 404. For previews only.
"""

from __future__ import annotations

import mimetypes
import os
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from ..http.static import open_regular


class PreviewHandler(SimpleHTTPRequestHandler):
    """Serves one export directory below ``base_path``; never lists a folder."""

    def __init__(self, *args: Any, root: Path, base_path: str, **kwargs: Any) -> None:
        self.root = root
        self.base_path = base_path
        super().__init__(*args, directory=str(root), **kwargs)

    def send_head(self) -> Any:
        url_path = urlsplit(self.path).path
        if url_path != self.base_path and not url_path.startswith(self.base_path + "/"):
            return self._not_found()
        segments = [unquote(s) for s in url_path[len(self.base_path):].split("/") if s]
        # SECURITY: no segment may climb out of the export or name another root.
        if any(s in (".", "..") or "/" in s or "\\" in s or "\x00" in s for s in segments):
            return self._not_found()
        path = self.root.joinpath(*segments)
        if path.is_dir():
            if not url_path.endswith("/"):
                self.send_response(HTTPStatus.MOVED_PERMANENTLY)
                self.send_header("Location", quote(url_path) + "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            path = path / "index.html"
        found = open_regular(path, self.root)
        if found is None:
            return self._not_found()
        return self._send_file(HTTPStatus.OK, Path(found.path))

    def _not_found(self) -> Any:
        page = self.root / "404.html"
        if page.is_file():
            return self._send_file(HTTPStatus.NOT_FOUND, page)
        self.send_error(HTTPStatus.NOT_FOUND)
        return None

    def _send_file(self, status: HTTPStatus, path: Path) -> Any:
        # NOTE: by the extension alone, so the index's data file ".json" is JSON too.
        extension = path.name.rpartition(".")[2]
        content_type = mimetypes.guess_type(f"file.{extension}")[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith(("javascript", "json")):
            content_type += "; charset=utf-8"
        handle = open(path, "rb")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(os.fstat(handle.fileno()).st_size))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        return handle


def preview_server(root: Path, base_path: str, host: str, port: int) -> ThreadingHTTPServer:
    """A bound (not yet serving) preview server for the export in ``root``."""
    handler = partial(PreviewHandler, root=Path(os.path.realpath(root)), base_path=base_path)
    return ThreadingHTTPServer((host, port), handler)
