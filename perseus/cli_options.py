"""Command-line options whose help names their environment variable and default.

An option that sets a setting takes both from ``perseus.settings`` (``Spec.env``,
``Spec.fallback``, ``Spec.shown``), so the help and the settings cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from .settings import READ_ELSEWHERE, specs

F = TypeVar("F", bound=Callable[..., Any])


def _plain(shown: str) -> str:
    return shown.replace("`", "")


def setting_help(text: str, setting: str) -> str:
    """``text`` with ``[env: PERSEUS_X, X; [tool.perseus] x; default: ...]`` of ``setting``."""
    spec = specs()[setting]
    env = ", ".join(name for name in (spec.env, spec.fallback) if name)
    key = f"; [tool.perseus] {spec.key}" if spec.key else ""
    return f"{text} [env: {env}{key}; default: {_plain(spec.shown)}]"


def elsewhere_help(text: str, variable: str) -> str:
    """``text`` with the variable and default of a name ``perseus.settings`` lists as read elsewhere."""
    shown, _ = READ_ELSEWHERE[variable]
    return f"{text} [env: {variable}; default: {_plain(shown)}]"


def plain_help(text: str, default: str) -> str:
    """``text`` with the default of an option no variable sets."""
    return f"{text} [default: {default}]"


def setting_option(*decls: str, setting: str, help: str, **attrs: Any) -> Callable[[F], F]:
    """A click option for ``setting``: unset (None) unless given, so the setting decides."""
    return click.option(*decls, help=setting_help(help, setting), **attrs)


def option(*decls: str, help: str, default_shown: str, **attrs: Any) -> Callable[[F], F]:
    """A click option no setting backs; its help ends with its default."""
    return click.option(*decls, help=plain_help(help, default_shown), **attrs)
