"""Translators: ``translations/<locale>.ftl`` (Fluent) or ``translations/<locale>.json``.

Views call them through ``ctx.t(id, **args)``. Every failure, a missing file, a
missing id, a missing argument, a syntax error, raises ``TranslationError`` naming the
id and the locale, so a build fails instead of shipping a page with a hole in it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from ..errors import TranslationError
from .locales import NO_LOCALE

FLUENT_TYPE = "text/plain; charset=utf-8"
JSON_TYPE = "application/json"
# The lightweight format's placeholders: "Hello { $name }".
_PLACEHOLDER = re.compile(r"\{\s*\$([A-Za-z][A-Za-z0-9_-]*)\s*\}")


class Translator:
    """Translates message ids of one locale; ``source`` is served to the browser."""

    def __init__(self, locale: str, source: bytes, content_type: str) -> None:
        self.locale = locale
        self.source = source
        self.content_type = content_type

    def translate(self, message_id: str, args: dict[str, Any]) -> str:
        """The message ``message_id`` with ``args`` put in.

        Raises:
            TranslationError: no such message, or it could not be formatted.
        """
        raise NotImplementedError


class NoTranslator(Translator):
    """What ``ctx.t`` uses on a site without locales: every call is a mistake."""

    def __init__(self) -> None:
        super().__init__(NO_LOCALE, b"", JSON_TYPE)

    def translate(self, message_id: str, args: dict[str, Any]) -> str:
        raise TranslationError(
            f"ctx.t({message_id!r}) was called but the app has no locales; pass"
            " locales=Locales('en-US', [...]) to PerseusApp and add translations/<locale>.ftl",
            message_id=message_id, locale=NO_LOCALE,
        )


class FluentTranslator(Translator):
    """Fluent (``.ftl``): plurals, selectors, terms, ``id.attribute``; via ``fluent.runtime``."""

    def __init__(self, locale: str, source: bytes, origin: str) -> None:
        super().__init__(locale, source, FLUENT_TYPE)
        # PERF: imported here, not at module level: fluent (with Babel) costs ~13 MB
        # and ~0.25 s in every process, and only builds of Fluent sites need it.
        from fluent.runtime import FluentBundle, FluentResource
        from fluent.syntax import ast as fluent_ast

        resource = FluentResource(_decode(source, locale, origin))
        for entry in resource.body:
            if isinstance(entry, fluent_ast.Junk):
                detail = entry.annotations[0].message if entry.annotations else "invalid syntax"
                content = (entry.content or "").strip()
                first_line = content.splitlines()[0] if content else ""
                raise TranslationError(
                    f"{origin}: {detail} near {first_line!r}", message_id=None, locale=locale
                )
        self._bundle = FluentBundle([locale])
        self._bundle.add_resource(resource)

    def translate(self, message_id: str, args: dict[str, Any]) -> str:
        name, _, attribute = message_id.partition(".")
        if not self._bundle.has_message(name):
            raise _missing(message_id, self.locale)
        message = self._bundle.get_message(name)
        pattern = message.attributes.get(attribute) if attribute else message.value
        if pattern is None:
            raise _missing(message_id, self.locale)
        text, errors = self._bundle.format_pattern(pattern, args)
        if errors or not isinstance(text, str):
            reason = errors[0] if errors else "no text"
            raise TranslationError(
                f"translation '{message_id}' in locale {self.locale} could not be formatted: {reason}",
                message_id=message_id, locale=self.locale,
            )
        return text


class JsonTranslator(Translator):
    """The lightweight format: a flat JSON object ``{"id": "Hello { $name }"}``."""

    def __init__(self, locale: str, source: bytes, origin: str) -> None:
        super().__init__(locale, source, JSON_TYPE)
        try:
            messages = orjson.loads(source)
        except orjson.JSONDecodeError as exc:
            raise TranslationError(
                f"{origin} is not valid JSON: {exc}", message_id=None, locale=locale
            ) from None
        if not isinstance(messages, dict) or not all(isinstance(v, str) for v in messages.values()):
            raise TranslationError(
                f"{origin} must be a flat JSON object of message ids to text", message_id=None, locale=locale
            )
        self._messages: dict[str, str] = messages

    def translate(self, message_id: str, args: dict[str, Any]) -> str:
        text = self._messages.get(message_id)
        if text is None:
            raise _missing(message_id, self.locale)

        def argument(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in args:
                raise TranslationError(
                    f"translation '{message_id}' in locale {self.locale} needs the argument"
                    f" '{name}': call ctx.t({message_id!r}, {name}=...)",
                    message_id=message_id, locale=self.locale,
                )
            return str(args[name])

        return _PLACEHOLDER.sub(argument, text)


def load_translator(directory: Path, locale: str) -> Translator:
    """The translator of ``locale`` from ``directory/<locale>.ftl`` or ``<locale>.json``.

    Raises:
        TranslationError: neither file exists, or the one that does is invalid.
    """
    for suffix, kind in ((".ftl", FluentTranslator), (".json", JsonTranslator)):
        path = directory / f"{locale}{suffix}"
        if path.is_file():
            return kind(locale, path.read_bytes(), f"translations/{path.name}")
    raise TranslationError(
        f"no translations for locale {locale}: create translations/{locale}.ftl"
        f" (Fluent) or translations/{locale}.json (looked in {directory})",
        message_id=None, locale=locale,
    )


def _missing(message_id: str, locale: str) -> TranslationError:
    return TranslationError(
        f"translation '{message_id}' is missing in locale {locale}: add it to translations/{locale}.ftl"
        f" (or .json)", message_id=message_id, locale=locale,
    )


def _decode(source: bytes, locale: str, origin: str) -> str:
    try:
        return source.decode("utf-8")
    except UnicodeDecodeError:
        raise TranslationError(f"{origin} is not UTF-8", message_id=None, locale=locale) from None
