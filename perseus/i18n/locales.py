"""``Locales``: which locales a site is built in, and which one is its default."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import ConfigurationError

# NOTE: the dummy locale of sites without i18n; never a real locale.
NO_LOCALE = "xx-XX"
# A BCP 47 language tag as used in URLs: language, then optional script/region/variant
# subtags. Letters, digits and '-' only, so a locale is always a plain URL segment.
_TAG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")


def is_language_tag(tag: object) -> bool:
    """Whether ``tag`` looks like a BCP 47 language tag (``en``, ``en-US``, ``zh-Hant-TW``)."""
    return isinstance(tag, str) and _TAG.match(tag) is not None


class Locales:
    """The locales every page is built in: ``Locales("en-US", ["fr-FR", "de-DE"])``.

    Args:
        default: the locale used when a visitor's ``Accept-Language`` matches none.
        others: the site's other locales.

    Raises:
        ConfigurationError: a tag is malformed, repeated (ignoring case) or ``xx-XX``.
    """

    def __init__(self, default: str, others: Iterable[str] = ()) -> None:
        if isinstance(others, str):
            raise ConfigurationError(f"Locales(default, others): others must be a list, got {others!r}")
        self.default = default
        self.others = list(others)
        seen: set[str] = set()
        for tag in self.all:
            if not is_language_tag(tag):
                raise ConfigurationError(
                    f"locale {tag!r} is not a language tag such as 'en-US' or 'fr'"
                )
            if tag == NO_LOCALE:
                raise ConfigurationError(f"'{NO_LOCALE}' is reserved for sites without i18n")
            if tag.lower() in seen:
                raise ConfigurationError(f"locale '{tag}' is listed twice")
            seen.add(tag.lower())

    @property
    def all(self) -> list[str]:
        """Every locale, the default first."""
        return [self.default, *self.others]

    def __repr__(self) -> str:
        return f"Locales({self.default!r}, {self.others!r})"
