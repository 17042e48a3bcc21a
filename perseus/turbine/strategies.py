"""Which templates need a running server: the strategies that stop a static export.

Read with ``getattr`` defaults so that an app made before a strategy existed (or a
``Template`` subclass that adds one) is judged the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..app import PerseusApp

# Template fields whose strategy runs (or stores pages) while the site is served.
TEMPLATE_SERVER_FIELDS = {
    "request_state": "request state",
    "amalgamate_states": "amalgamation",
    "revalidate_after": "revalidation",
    "should_revalidate": "revalidation",
    "incremental": "incremental generation",
}
# App fields for global state computed per request.
GLOBAL_SERVER_FIELDS = {
    "request_global_state": "request state",
    "amalgamate_global_states": "amalgamation",
}
# Strategies whose pages are written to the mutable store while serving.
MUTABLE_FIELDS = frozenset({"revalidate_after", "should_revalidate", "incremental"})
GLOBAL_STATE = "(global state)"


@dataclass(frozen=True)
class ServerStrategy:
    """One use of a server-side strategy: by a template (or ``(global state)``), through a field."""

    template: str
    field: str

    @property
    def strategy(self) -> str:
        """The strategy's name as the docs spell it (``"incremental generation"``)."""
        return {**TEMPLATE_SERVER_FIELDS, **GLOBAL_SERVER_FIELDS}[self.field]

    @property
    def needs_mutable_store(self) -> bool:
        return self.field in MUTABLE_FIELDS

    def __str__(self) -> str:
        owner = "global state" if self.template == GLOBAL_STATE else f"template '{self.template}'"
        return f"{owner} uses {self.field} ({self.strategy})"


def _used(value: Any) -> bool:
    # ``incremental=False`` and an absent field both mean "not used".
    return value is not None and value is not False


def server_strategies(app: PerseusApp) -> list[ServerStrategy]:
    """Every server-side strategy ``app`` uses, in template order."""
    found = [
        ServerStrategy(template.name, field)
        for template in app.templates
        for field in TEMPLATE_SERVER_FIELDS
        if _used(getattr(template, field, None))
    ]
    found += [ServerStrategy(GLOBAL_STATE, field) for field in GLOBAL_SERVER_FIELDS
              if _used(getattr(app, field, None))]
    return found
