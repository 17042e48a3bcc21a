"""Which strategies an app's pages have, and which uses need a running server (what stops
a static export or a read-only start).

Read from the templates' ``perseus_core.plan`` flags, so this names what the one
classification found; it decides nothing of its own. ``page_flags`` adds the one flag an
app sets on every template: its global state made per request.
"""

from __future__ import annotations

from dataclasses import dataclass

from perseus_core.plan import (
    AMALGAMATE,
    INCREMENTAL,
    REQUEST_STATE,
    REVALIDATE_AFTER,
    REVALIDATE_LOGIC,
    strategy_name,
    uses_mutable_store,
)
from perseus_core.plan import page_flags as app_page_flags

from ..app import PerseusApp
from ..template import Template

# Each server-side flag with the Template field that sets it and its strategy's name.
TEMPLATE_SERVER_FLAGS = (
    (REQUEST_STATE, "request_state", "request state"),
    (AMALGAMATE, "amalgamate_states", "amalgamation"),
    (REVALIDATE_AFTER, "revalidate_after", "revalidation"),
    (REVALIDATE_LOGIC, "should_revalidate", "revalidation"),
    (INCREMENTAL, "incremental", "incremental generation"),
)
# App fields for global state computed per request.
GLOBAL_SERVER_FIELDS = {
    "request_global_state": "request state",
    "amalgamate_global_states": "amalgamation",
}
GLOBAL_STATE = "(global state)"


def page_flags(app: PerseusApp, template: Template) -> int:
    """The flags of ``template``'s pages in ``app``: with ``request_global_state``, every page
    is rendered per request (``perseus_core.plan.REQUEST_GLOBAL_STATE``)."""
    return app_page_flags(template.strategy_flags, app.request_global_state is not None)


def page_strategy(app: PerseusApp, template: Template) -> str:
    """The strategy of ``template``'s pages in ``app`` in words, as the route table shows it."""
    return strategy_name(page_flags(app, template))


@dataclass(frozen=True)
class ServerStrategy:
    """One use of a server-side strategy: by a template (or ``(global state)``), through a field."""

    template: str
    field: str
    strategy: str
    flag: int = 0

    @property
    def needs_mutable_store(self) -> bool:
        return uses_mutable_store(self.flag)

    def __str__(self) -> str:
        owner = "global state" if self.template == GLOBAL_STATE else f"template '{self.template}'"
        return f"{owner} uses {self.field} ({self.strategy})"


def server_strategies(app: PerseusApp) -> list[ServerStrategy]:
    """Every server-side strategy ``app`` uses, in template order."""
    found = [
        ServerStrategy(template.name, field, strategy, flag)
        for template in app.templates
        for flag, field, strategy in TEMPLATE_SERVER_FLAGS
        if template.strategy_flags & flag
    ]
    found += [ServerStrategy(GLOBAL_STATE, field, strategy)
              for field, strategy in GLOBAL_SERVER_FIELDS.items() if getattr(app, field, None) is not None]
    return found
