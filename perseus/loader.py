"""Finding the user's app: ``--app``, then ``PERSEUS_APP``, then pyproject, then ``app:app``."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from .app import PerseusApp
from .errors import AppImportError, AppNotFound, PerseusError
from .settings import Settings


def app_spec(explicit: str | None, settings: Settings) -> str:
    """The ``module:attribute`` naming the app: ``explicit`` (``--app``), else ``settings.app``
    (``PERSEUS_APP``, then ``[tool.perseus] app``, then ``app:app``)."""
    return explicit or settings.app


def load_app(spec: str, project: Path) -> PerseusApp:
    """Import ``module:attribute`` with ``project`` first on ``sys.path``."""
    module_name, _, attribute = spec.partition(":")
    attribute = attribute or "app"
    if not all(part.isidentifier() for part in module_name.split(".")):
        raise AppNotFound(f"'{spec}' does not name an app: write module:attribute, such as app:app")
    if str(project) not in sys.path:
        sys.path.insert(0, str(project))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only the app's own module (or a package above it) missing means "no app";
        # a dependency the app imports is the user's error, with its traceback.
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise AppNotFound(
                f"cannot import '{module_name}' from {project}: pass --app module:attribute,"
                " set PERSEUS_APP, or add [tool.perseus] app = \"module:attribute\" to pyproject.toml"
            ) from None
        raise _import_error(spec, exc) from exc
    except PerseusError:
        raise  # a ConfigurationError says what to fix by itself
    except Exception as exc:
        raise _import_error(spec, exc) from exc
    if not hasattr(module, attribute):
        raise AppNotFound(
            f"module '{module_name}' has no attribute '{attribute}': point --app at the PerseusApp"
        )
    app = getattr(module, attribute)
    if not isinstance(app, PerseusApp):
        raise AppNotFound(f"'{spec}' is {type(app).__name__}, not a PerseusApp")
    return app


def _import_error(spec: str, error: Exception) -> AppImportError:
    """The user's line first, then the exception; none of importlib's frames."""
    from .tracebacks import for_terminal

    return AppImportError(f"importing the app ({spec}) failed at\n{for_terminal(error)}")
