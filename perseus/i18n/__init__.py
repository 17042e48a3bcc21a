"""Internationalisation: the site's locales and the translators views call through ``ctx.t``."""

from __future__ import annotations

from .locales import Locales
from .translators import Translator, load_translator

__all__ = ["Locales", "Translator", "load_translator"]
