"""Mounted ASGI apps: which URL prefix belongs to which app (``PerseusApp(mounts=...)``).

Only the table lives here, neutral like the rest of ``http/``: the engine asks it which mount
a path falls under and hands the ``Mount`` back to the adapter, which runs the app
(``perseus.server.mounts`` bridges RSGI to ASGI).

A prefix owns itself and everything below it: ``/api`` owns ``/api`` and ``/api/...``,
not ``/apiary``. Prefixes never nest, so a path belongs to at most one mount.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from ..errors import ConfigurationError
from .urls import INTERNAL_PREFIX, RESERVED_SEGMENT

ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[dict[str, Any]]],
                    Callable[[dict[str, Any]], Awaitable[None]]], Awaitable[None]]


class Mount:
    """One mounted app and the prefix it is mounted at (``/api``, never ending in ``/``)."""

    __slots__ = ("prefix", "app")

    def __init__(self, prefix: str, app: ASGIApp) -> None:
        self.prefix = prefix
        self.app = app

    def __repr__(self) -> str:
        return f"Mount({self.prefix!r}, {self.app!r})"


class MountTable:
    """The mounts of one site, checked when the app is constructed."""

    def __init__(self, mounts: Mapping[str, ASGIApp]) -> None:
        self.mounts = {prefix: Mount(prefix, app) for prefix, app in _checked(mounts).items()}
        # PERF: one C-level startswith over every prefix decides most paths.
        self._starts = tuple(self.mounts) or ("\x00",)

    def __bool__(self) -> bool:
        return bool(self.mounts)

    def __iter__(self) -> Iterator[Mount]:
        return iter(self.mounts.values())

    def find(self, path: str) -> Mount | None:
        """The mount owning the decoded URL path ``path``, or None."""
        if not path.startswith(self._starts):
            return None
        for prefix, mount in self.mounts.items():
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                return mount
        return None


def _checked(mounts: Mapping[str, ASGIApp]) -> dict[str, ASGIApp]:
    if not isinstance(mounts, Mapping):
        raise ConfigurationError(f"mounts must be a mapping of URL prefixes to ASGI apps, got {mounts!r}")
    checked: dict[str, ASGIApp] = {}
    for prefix, app in mounts.items():
        if not isinstance(prefix, str) or not prefix.startswith("/") or prefix == "/":
            raise ConfigurationError(f"mount prefix {prefix!r} must be a URL path such as '/api'")
        if prefix.endswith("/"):
            raise ConfigurationError(f"mount prefix {prefix!r} ends with '/'; write {prefix.rstrip('/')!r}"
                                     " (it owns everything below it)")
        segments = prefix.split("/")[1:]
        if any(s in ("", ".", "..") or "\\" in s or "%" in s or "?" in s or "#" in s for s in segments):
            raise ConfigurationError(f"mount prefix {prefix!r} must be a plain path of segments such as"
                                     " '/api' or '/hooks/cms'")
        if segments[0] == RESERVED_SEGMENT:
            raise ConfigurationError(f"mount prefix {prefix!r} is below {INTERNAL_PREFIX}, which is"
                                     " reserved for perseus")
        if not callable(app):
            raise ConfigurationError(f"mount {prefix!r} must be an ASGI app (an async callable taking"
                                     f" scope, receive, send), got {app!r}")
        for other in checked:
            if _owns(other, prefix) or _owns(prefix, other):
                raise ConfigurationError(f"mounts {other!r} and {prefix!r} overlap; a path may belong to"
                                         " one mount only (route inside the app instead)")
        checked[prefix] = app
    return checked


def _owns(prefix: str, path: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")

