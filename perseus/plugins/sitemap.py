"""``Sitemap``: ``/sitemap.xml`` of every built page, and a robots.txt that points to it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from ..errors import ConfigurationError
from .base import Plugin
from .output import BuiltPageInfo, BuiltSite
from .urls import absolute, check_base_url

if TYPE_CHECKING:
    from ..app import PerseusApp

URLSET = ('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
          ' xmlns:xhtml="http://www.w3.org/1999/xhtml">')
ROBOTS = "/robots.txt"


class Sitemap(Plugin):
    """``Sitemap(base_url="https://example.com")``: ``/sitemap.xml`` (sitemaps.org 0.9).

    Lists every page the build made, in each locale, with ``hreflang`` alternates for its
    other locales (and ``x-default``, the URL that picks a locale) on a site with locales.
    Unless the app has its own ``/robots.txt`` alias, the build also writes a
    ``/robots.txt`` allowing everything and naming the sitemap (a site with its own
    robots.txt should add the ``Sitemap:`` line itself).

    Args:
        base_url: the site's public URL (scheme and host, and any path a proxy adds);
            the base path is added by perseus.
        path: where the sitemap is served.
        exclude: names of templates whose pages are left out.
    """

    name = "sitemap"

    def __init__(self, base_url: str, *, path: str = "/sitemap.xml", exclude: Sequence[str] = ()) -> None:
        self.base_url = check_base_url(base_url, "Sitemap")
        if not isinstance(path, str) or not path.startswith("/") or not path.endswith(".xml"):
            raise ConfigurationError(f"Sitemap: path {path!r} must be a URL path ending in .xml")
        if isinstance(exclude, str):
            raise ConfigurationError("Sitemap: exclude takes a list of template names")
        self.path = path
        self.exclude = frozenset(exclude)
        self.robots = True

    def attach(self, app: PerseusApp) -> None:
        names = {template.name for template in app.templates}
        unknown = sorted(self.exclude - names)
        if unknown:
            raise ConfigurationError(f"Sitemap: exclude names templates the app does not have: {unknown}")
        self.robots = ROBOTS not in app.static_aliases

    def after_build(self, site: BuiltSite) -> None:
        site.write(self.path, sitemap_xml(self.base_url, site, self.exclude))
        if self.robots:
            sitemap_url = absolute(self.base_url, site.base_path + self.path)
            site.write(ROBOTS, f"User-agent: *\nAllow: /\n\nSitemap: {sitemap_url}\n")


def sitemap_xml(base_url: str, site: BuiltSite, exclude: frozenset[str] = frozenset()) -> bytes:
    """The sitemap of ``site``'s pages, one ``<url>`` per page and locale."""
    groups: dict[tuple[str, str], list[BuiltPageInfo]] = {}
    for page in site.pages:
        if page.template not in exclude:
            groups.setdefault((page.template, page.path), []).append(page)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', URLSET]
    for (_template, path), pages in groups.items():
        alternates = ""
        if site.i18n:
            links = [(page.locale, absolute(base_url, page.url)) for page in pages]
            links.append(("x-default", absolute(base_url, f"{site.base_path}/{path}")))
            alternates = "".join(
                f'<xhtml:link rel="alternate" hreflang={quoteattr(locale)} href={quoteattr(url)}/>'
                for locale, url in links)
        for page in pages:
            lines.append(f"<url><loc>{escape(absolute(base_url, page.url))}</loc>{alternates}</url>")
    lines.append("</urlset>\n")
    return "\n".join(lines).encode()
