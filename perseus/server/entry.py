"""What granian imports in each worker: the app and ``dist/`` named by the environment.

``perseus serve`` sets ``PERSEUS_PROJECT``, ``PERSEUS_APP`` and ``PERSEUS_DIST`` before
starting granian; each worker opens its own engine after the fork.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..loader import app_spec, load_app
from ..turbine.dev_reload import dev_reload_enabled
from ..turbine.engine import Engine, open_engine
from .asgi import ASGIApp
from .dev_events import DevReloadRSGI
from .rsgi import RSGIApp


def engine_from_environment() -> Engine:
    project = Path(os.environ.get("PERSEUS_PROJECT") or os.getcwd())
    app = load_app(app_spec(None, project), project)
    dist = Path(os.environ.get("PERSEUS_DIST") or project / "dist")
    return open_engine(app, dist)


# Watch mode adds the browser-reload events stream; production never has it.
rsgi_app = (DevReloadRSGI if dev_reload_enabled() else RSGIApp)(engine_from_environment)
asgi_app = ASGIApp(engine_from_environment)
