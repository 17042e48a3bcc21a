"""The browser runtime (plain JS, no build step), served at ``/.perseus/client.js`` and, for
pages, at a hashed name that can be cached for ever (``runtime_path``)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from ..http.fingerprints import digest, fingerprinted
from ..http.urls import INTERNAL_PREFIX


@cache
def runtime() -> bytes:
    """The runtime's source, as served."""
    return resources.files(__name__).joinpath("client.js").read_bytes()


@cache
def runtime_path() -> str:
    """The runtime's hashed URL path, ``/.perseus/client.<digest>.js``, that pages load."""
    return INTERNAL_PREFIX + fingerprinted("client.js", digest(runtime()))
