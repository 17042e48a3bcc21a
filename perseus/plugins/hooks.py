"""Running the plugins' hooks: in the app's order, each error naming its plugin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import BuildError, ConfigurationError, PageFailure
from ..i18n.locales import NO_LOCALE
from .base import plugin_name

if TYPE_CHECKING:
    from ..context import RenderContext

Run = Callable[..., Awaitable[Any]]  # UserCalls.run: (stage, function, *args)


async def run_build_hook(plugins: Sequence[object], hook: str, argument: object, run: Run) -> None:
    """``plugin.hook(argument)`` of every plugin in turn (sync or async, under the build's
    timeout); the first that raises fails the build, naming the plugin."""
    for plugin in plugins:
        method = getattr(plugin, hook, None)
        if method is None:
            continue
        try:
            await run(f"plugin {plugin_name(plugin)!r} {hook}", method, argument)
        except Exception as exc:
            failure = PageFailure(f"(plugin {plugin_name(plugin)})", None, NO_LOCALE, hook, exc)
            raise BuildError([failure]) from exc


def shell_insertions(plugins: Sequence[object], ctx: RenderContext) -> tuple[str, str]:
    """The HTML every plugin puts in ``<head>`` and at the end of ``<body>`` for the shell
    of ``ctx.template`` in ``ctx.locale``."""
    parts: dict[str, list[str]] = {"head": [], "body_end": []}
    for plugin in plugins:
        for hook, found in parts.items():
            method = getattr(plugin, hook, None)
            if method is None:
                continue
            try:
                html = method(ctx)
            except Exception as exc:
                raise ConfigurationError(f"plugin {plugin_name(plugin)!r}: {hook}() raised"
                                         f" {type(exc).__name__}: {exc}") from exc
            if not isinstance(html, str):
                raise ConfigurationError(f"plugin {plugin_name(plugin)!r}: {hook}() must return HTML text,"
                                         f" got {type(html).__name__}")
            found.append(html)
    return "".join(parts["head"]), "".join(parts["body_end"])
