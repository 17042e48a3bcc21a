"""``PERSEUS_STANDALONE=true``: serving a ``pkg/`` written by ``perseus deploy``.

Paths come from the pkg root (``Settings.pkg``: ``PERSEUS_PKG``, which ``pkg/server`` sets,
else the working directory), nothing is built, and the immutable part is only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..app import PerseusApp
from ..errors import PerseusError
from ..settings import Settings
from ..stores.immutable import MANIFEST, mutable_location
from ..turbine.strategies import server_strategies
from .package import APP_DIR, DIST_DIR


@dataclass(frozen=True)
class PkgLayout:
    """Where a standalone server finds the app and the built site."""

    root: Path
    app: Path
    dist: Path


def pkg_layout(settings: Settings) -> PkgLayout:
    """The ``pkg/`` to serve; ``PerseusError`` if it is not one."""
    root = (settings.pkg or Path.cwd()).resolve()
    layout = PkgLayout(root, root / APP_DIR, root / DIST_DIR)
    if not (layout.dist / MANIFEST).is_file() or not layout.app.is_dir():
        raise PerseusError(
            f"PERSEUS_STANDALONE is set but {root} is not a pkg/ written by `perseus deploy`"
            " (it needs app/ and dist/): start it with pkg/server, or set PERSEUS_PKG to the pkg/"
        )
    return layout


def storage_report(app: PerseusApp, dist: Path, settings: Settings) -> list[str]:
    """Start-up lines saying what is written at run time, and where."""
    lines = [f"site: {dist} (read only, never written)"]
    mutable = [use for use in server_strategies(app) if use.needs_mutable_store]
    if not mutable:
        lines.append("no template revalidates or generates pages: runs from a read-only filesystem")
        return lines
    users = ", ".join(sorted({f"'{use.template}'" for use in mutable}))
    # NOTE: whether it can be written is checked next, by `perseus serve`, which stops if not.
    location = mutable_location(dist, settings.mutable_dir)
    lines.append(f"mutable store: {location} (written when templates {users} regenerate"
                 " pages; PERSEUS_MUTABLE_DIR moves it)")
    return lines
