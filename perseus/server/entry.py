"""What granian imports in each worker: the app and ``dist/`` named by the parent's settings.

``perseus serve`` validates its settings, writes them into its environment
(``perseus.settings.hand_to_workers``: ``PERSEUS_PROJECT``, ``PERSEUS_APP``,
``PERSEUS_DIST`` and the rest, in canonical form) and starts granian, whose workers
(forked or spawned) inherit that environment and read it back here; each worker opens
its own engine after the fork.
"""

from __future__ import annotations

from pathlib import Path

from ..loader import app_spec, load_app
from ..settings import load_settings
from ..turbine.engine import Engine, open_engine
from .access_log import AccessLog
from .asgi import ASGIApp
from .dev_events import DevReloadRSGI
from .rsgi import RSGIApp

settings = load_settings(Path.cwd())


def engine_from_settings() -> Engine:
    project = settings.project_dir
    app = load_app(app_spec(None, settings), project)
    return open_engine(app, settings.dist or project / "dist", settings)


def access_log() -> AccessLog:
    return AccessLog(settings.log_format)


opened_log = access_log if settings.access_log else None
# Watch mode adds the browser-reload events stream; production never has it.
rsgi_app = (DevReloadRSGI if settings.dev_reload else RSGIApp)(engine_from_settings,
                                                              settings.shutdown_timeout, opened_log)
asgi_app = ASGIApp(engine_from_settings, settings.shutdown_timeout, opened_log)
