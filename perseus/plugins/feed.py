"""``Feed``: an Atom feed of one template's pages, newest first by a date their state gives."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

from ..errors import ConfigurationError
from .base import Plugin
from .output import BuiltPageInfo, BuiltSite
from .urls import absolute, check_base_url

if TYPE_CHECKING:
    from ..app import PerseusApp

Field = str | Callable[[Any], Any]  # a key of the page's state, or a function of the state


class Feed(Plugin):
    """``Feed(template="post", title="My blog", base_url="https://example.com")``.

    Writes an Atom 1.0 feed of the template's built pages at ``path`` (``/feed.xml``; on a
    site with locales one per locale, ``/fr-FR/feed.xml``), newest first, at most
    ``limit`` entries.

    Args:
        template: the template whose pages are the entries; it needs a build state.
        title: the feed's title.
        base_url: the site's public URL (Atom ids and links are absolute).
        date: the state key (or ``date(state)``) giving each page's date: a ``date``, a
            ``datetime`` or an ISO 8601 string; a page without one fails the build.
        entry_title: the state key (or ``entry_title(state)``) giving each entry's title.
        summary: an optional state key (or function) giving each entry's summary text.
    """

    def __init__(self, template: str, title: str, base_url: str, *, path: str = "/feed.xml",
                 date: Field = "date", entry_title: Field = "title", summary: Field | None = None,
                 limit: int = 20, name: str = "feed") -> None:
        if not isinstance(template, str) or not template:
            raise ConfigurationError("Feed: template must be the name of one of the app's templates")
        if not isinstance(title, str) or not title.strip():
            raise ConfigurationError("Feed: title must be a non-empty string")
        if not isinstance(path, str) or not path.startswith("/") or path.endswith("/"):
            raise ConfigurationError(f"Feed: path {path!r} must be a URL path such as '/feed.xml'")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(f"Feed: limit must be a positive number of entries, got {limit!r}")
        for label, given in (("date", date), ("entry_title", entry_title), ("summary", summary)):
            if given is not None and not isinstance(given, str) and not callable(given):
                raise ConfigurationError(f"Feed: {label} must be a state key or a function of the state")
        self.name = name
        self.template = template
        self.page_states = (template,)
        self.title = title
        self.base_url = check_base_url(base_url, "Feed")
        self.path = path
        self.date, self.entry_title, self.summary = date, entry_title, summary
        self.limit = limit

    def attach(self, app: PerseusApp) -> None:
        try:
            template = app.template(self.template)
        except KeyError:
            names = [t.name for t in app.templates]
            raise ConfigurationError(f"Feed: the app has no template {self.template!r}"
                                     f" (it has {names})") from None
        if template.build_state is None:
            raise ConfigurationError(f"Feed: template {self.template!r} has no build_state to give each"
                                     " page's date and title")

    def after_build(self, site: BuiltSite) -> None:
        for locale in site.locales:
            pages = [page for page in site.pages_of(self.template) if page.locale == locale]
            prefix = f"/{locale}" if site.i18n else ""
            site.write(prefix + self.path, self.atom(site, pages, prefix + self.path))

    def atom(self, site: BuiltSite, pages: list[BuiltPageInfo], path: str) -> bytes:
        """The feed of ``pages`` served at ``path``."""
        entries = sorted(((self._date(page), page) for page in pages), key=lambda entry: entry[0],
                         reverse=True)
        entries = entries[: self.limit]
        self_url = absolute(self.base_url, site.base_path + path)
        updated = entries[0][0] if entries else datetime.fromtimestamp(0, UTC)
        lines = ['<?xml version="1.0" encoding="utf-8"?>', '<feed xmlns="http://www.w3.org/2005/Atom">',
                 f"<id>{escape(self_url)}</id>", f"<title>{escape(self.title)}</title>",
                 f"<updated>{updated.isoformat()}</updated>",
                 f'<link rel="self" href={quoteattr(self_url)}/>',
                 f'<link rel="alternate" href={quoteattr(absolute(self.base_url, site.base_path + "/"))}/>',
                 f"<author><name>{escape(self.title)}</name></author>"]
        for when, page in entries:
            url = absolute(self.base_url, page.url)
            title = _field(self.entry_title, page, "entry_title")
            lines += ["<entry>", f"<id>{escape(url)}</id>", f"<title>{escape(str(title))}</title>",
                      f"<updated>{when.isoformat()}</updated>",
                      f'<link rel="alternate" href={quoteattr(url)}/>']
            if self.summary is not None:
                lines.append(f"<summary>{escape(str(_field(self.summary, page, 'summary')))}</summary>")
            lines.append("</entry>")
        lines.append("</feed>\n")
        return "\n".join(lines).encode()

    def _date(self, page: BuiltPageInfo) -> datetime:
        value = _field(self.date, page, "date")
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(f"page {page.url}: date {value!r} is not an ISO 8601 date") from None
        if isinstance(value, datetime):
            return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        if isinstance(value, date):
            return datetime.combine(value, time(), UTC)
        raise ValueError(f"page {page.url}: date must be a date, a datetime or an ISO 8601 string,"
                         f" got {value!r}")


def _field(given: Field, page: BuiltPageInfo, label: str) -> Any:
    if callable(given):
        return given(page.state)
    if not isinstance(page.state, dict) or given not in page.state:
        raise ValueError(f"page {page.url}: its state has no {given!r} for the feed's {label}")
    return page.state[given]
