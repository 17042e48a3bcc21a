"""The plugin protocol: a plain object with a ``name`` and whichever hooks it needs.

A plugin is any object with a unique ``name`` (``Plugin`` is a base class to start from)
and any of these methods; a plugin without a method takes no part in that step:

- ``templates() -> Iterable[Template]``: templates added to the app's.
- ``static_aliases() -> Mapping[str, path]``: static aliases merged with the app's.
- ``routes() -> Mapping[str, ASGIApp]``: ASGI apps merged into the app's ``mounts``.
- ``attach(app)``: the app as constructed, every plugin merged in: check settings that
  depend on it (a template that must exist) and raise ``ConfigurationError``.
- ``head(ctx) -> str`` and ``body_end(ctx) -> str``: HTML put into every page's shell,
  the first in ``<head>`` before the page's own head (so the client keeps it across
  navigations), the second before ``</body>`` after perseus's scripts. ``ctx`` is a
  ``RenderContext`` (``locale``, ``template``: ``""`` for error pages, ``base_path``,
  ``link()``, ``static()``, ``t()``). Called once per template and locale, when the shell
  is made, never per request.
- ``before_build(app)``: first thing of ``perseus build``, before the global state.
- ``after_build(site)``: after every page built, before the build is committed, with a
  ``perseus.plugins.BuiltSite``: its ``pages`` and ``write(url, body)`` for files served
  at their URL (and exported). Its ``pages`` carry their build state for the templates
  named in the plugin's ``page_states``.

Order: every hook runs plugin by plugin in the order of ``PerseusApp(plugins=[...])``;
the first four when the app is constructed (an error is a ``ConfigurationError`` naming
the plugin and the hook), the build hooks by ``perseus build`` (an error fails the build,
naming the plugin and the hook). Build hooks may be sync or async.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from ..errors import ConfigurationError

HOOKS = ("templates", "static_aliases", "routes", "attach", "head", "body_end", "before_build",
         "after_build")


class Plugin:
    """A base class for plugins: set ``name`` (unique in an app) and define the hooks
    you need (``perseus.plugins.base`` lists them); none is defined here, so a plugin
    takes part only in the steps it has a method for.

    Attributes:
        name: the plugin's name, in every error about it.
        page_states: names of templates whose pages' build states ``after_build`` reads
            (``BuiltPageInfo.state``); other pages come without theirs.
    """

    name: str = ""
    page_states: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"<plugin {self.name!r}>"


def plugin_name(plugin: object) -> str:
    """The ``name`` of a plugin ``check_plugins`` accepted."""
    name: str = getattr(plugin, "name", "")
    return name


def check_plugins(plugins: Iterable[object]) -> list[object]:
    """The plugins as a list, each with a unique name, callable hooks and ``page_states``
    a list of names.

    Raises:
        ConfigurationError: naming the plugin.
    """
    if isinstance(plugins, (str, bytes)) or not isinstance(plugins, Iterable):
        raise ConfigurationError(f"plugins must be a list of plugin objects, got {plugins!r}")
    checked: list[object] = []
    names: set[str] = set()
    for plugin in plugins:
        name = getattr(plugin, "name", None)
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"plugin {plugin!r} has no name: give it a `name` attribute (a string)")
        if name in names:
            raise ConfigurationError(f"two plugins are named '{name}'; plugin names must be unique"
                                     " (most plugins take name=... to run twice)")
        names.add(name)
        for hook in HOOKS:
            value = getattr(plugin, hook, None)
            if value is not None and not callable(value):
                raise ConfigurationError(f"plugin '{name}': {hook} must be a method, got {value!r}")
        states = getattr(plugin, "page_states", ())
        if isinstance(states, str) or not all(isinstance(s, str) for s in states):
            raise ConfigurationError(f"plugin '{name}': page_states must be a list of template names")
        checked.append(plugin)
    return checked


def call_hook(plugin: object, hook: str, *args: Any) -> Any:
    """``plugin.hook(*args)``, or None for a plugin without that hook.

    Raises:
        ConfigurationError: the hook raised; the message names the plugin and the hook.
    """
    function = getattr(plugin, hook, None)
    if function is None:
        return None
    try:
        return function(*args)
    except Exception as exc:
        detail = str(exc) if isinstance(exc, ConfigurationError) else f"raised {type(exc).__name__}: {exc}"
        raise ConfigurationError(f"plugin '{plugin_name(plugin)}': {hook}(): {detail}") from exc


def added_templates(plugins: list[object], templates: list[Any]) -> list[Any]:
    """The app's templates, then each plugin's; a name taken already is refused, naming the plugin."""
    merged = list(templates)
    for plugin in plugins:
        for template in call_hook(plugin, "templates") or ():
            name = getattr(template, "name", None)
            if any(getattr(known, "name", None) == name for known in merged):
                raise ConfigurationError(f"plugin '{plugin_name(plugin)}' adds a template named '{name}',"
                                         " which the app has already; rename one of them", template=name)
            merged.append(template)
    return merged


def added_parts(plugins: list[object], hook: str, parts: Mapping[str, Any], what: str) -> dict[str, Any]:
    """The app's ``parts`` (static aliases, mounts) with each plugin's ``hook()`` merged in;
    a URL given twice is refused, naming the plugin."""
    if not isinstance(parts, Mapping):
        return cast(dict[str, Any], parts)  # NOTE: the app's own check says what is wrong
    merged = dict(parts)
    owners = dict.fromkeys(merged, "the app")
    for plugin in plugins:
        given = call_hook(plugin, hook)
        if given is None:
            continue
        if not isinstance(given, Mapping):
            raise ConfigurationError(f"plugin '{plugin_name(plugin)}': {hook}() must return a mapping of"
                                     f" URLs, got {given!r}")
        for url, value in given.items():
            if url in merged:
                raise ConfigurationError(f"plugin '{plugin_name(plugin)}' adds the {what} {url!r}, which"
                                         f" {owners[url]} has already; remove one of them")
            merged[url] = value
            owners[url] = f"plugin '{plugin_name(plugin)}'"
    return merged


def wanted_states(plugins: list[object]) -> frozenset[str]:
    """The templates whose built pages' states some plugin's ``after_build`` reads."""
    return frozenset(name for plugin in plugins for name in getattr(plugin, "page_states", ()))
