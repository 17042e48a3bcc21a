"""perseus for Python: every page rendered with the strategy its author picks.

The public API; everything else is imported by module path.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .app import PerseusApp
from .context import ErrorInfo, RenderContext, StateInfo
from .errors import (
    BuildError,
    ConfigurationError,
    HTTPError,
    NotFound,
    PerseusError,
    Redirect,
    TranslationError,
)
from .i18n import Locales
from .request import Request
from .revalidation import RevalidationReport, revalidate
from .tags import State
from .template import BuildPaths, Template

__all__ = [
    "BuildError",
    "BuildPaths",
    "ConfigurationError",
    "ErrorInfo",
    "HTTPError",
    "Locales",
    "NotFound",
    "PerseusApp",
    "PerseusError",
    "Redirect",
    "RenderContext",
    "Request",
    "RevalidationReport",
    "State",
    "StateInfo",
    "Template",
    "TranslationError",
    "__version__",
    "revalidate",
]
