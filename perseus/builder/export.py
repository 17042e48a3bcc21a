"""``perseus export``: the built site as plain files that any static host can serve.

Layout of the export (one scheme throughout; ``<L>/`` only where the site has locales):

    <L>/<path>/index.html                the page (the index page is <L>/index.html)
    .perseus/page/<locale>/<path>.json   what client navigation fetches (index: <locale>/.json)
    .perseus/client.js                   the client runtime (and at its hashed name)
    .perseus/static/...                  the app's static directory (each file at its hashed name too)
    <alias>                              each static alias at its own path
    404.html (and <L>/404.html)          the not-found page
    <path>/index.html (i18n only)        sends the visitor to <L>/<path> (index: index.html)
    <source>/index.html                  a fixed redirect (redirects=) or a page built as a
                                         redirect: a refresh page (a static host sends no 3xx)
    .perseus/translations/<locale>       the locale's translations
    .nojekyll                            GitHub Pages otherwise hides the .perseus/ files

Everything is written beside the target and swapped in at the end, so a refused or
failed export leaves the previous one as it was.
"""

from __future__ import annotations

import html
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import orjson

from perseus_core._escape import escape_script_json

from ..app import PerseusApp
from ..client import runtime, runtime_path
from ..errors import ExportError
from ..http.fingerprints import hashed_names
from ..http.static import regular_files
from ..http.urls import CLIENT_PATH, STATIC_PREFIX, TRANSLATIONS_PREFIX, export_file, page_data_url
from ..i18n.locales import NO_LOCALE
from ..plugins.output import plugin_files
from ..stores.immutable import Dist
from ..turbine.redirects import fixed_redirects
from ..turbine.strategies import server_strategies

# A file's content: bytes to write, or a file to copy.
Source = bytes | Path
# GitHub Pages hides folders starting with "." (.perseus/) from sites without this file.
NO_JEKYLL = ".nojekyll"


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote, for the CLI to print."""

    output: Path
    pages: int
    files: int


def refuse_server_strategies(app: PerseusApp) -> None:
    """Raise ``ExportError`` naming every template whose strategy needs a server."""
    needing: list[object] = [*server_strategies(app)]
    needing += [f"mount {mount.prefix!r} (an ASGI app)" for mount in app.mounts]
    if not needing:
        return
    lines = [f"cannot export: {len(needing)} strategy use(s) need a running server:"]
    lines += [f"  - {use}" for use in needing]
    lines.append(
        "a static export has no server to render per request, regenerate pages or run mounted"
        " apps: remove these to export, or deploy the server with `perseus deploy`"
    )
    raise ExportError("\n".join(lines))


def export_files(dist: Dist, app: PerseusApp) -> dict[str, Source]:
    """Every file of the export, by its POSIX path relative to the export's root."""
    conf = dist.render_conf
    locales: list[str] = list(conf["locales"])
    i18n = locales != [NO_LOCALE]
    default_locale = str(conf.get("default_locale") or locales[0])
    files: dict[str, Source] = {NO_JEKYLL: b""}
    for page in dist.pages:
        prefix = f"{page.locale}/" if i18n else ""
        folder = f"{page.path}/" if page.path else ""
        files[f"{prefix}{folder}index.html"] = dist.body(page.html)
        files[export_file(page_data_url(page.locale, page.path))] = dist.body(page.json)
    for built, locale, _template, status, location in dist.redirects:
        prefix = f"{locale}/" if i18n else ""
        folder = f"{built}/" if built else ""
        files[f"{prefix}{folder}index.html"] = refresh_page(location)
        redirect_json = orjson.dumps({"redirect": location, "status": status})
        files[export_file(page_data_url(locale, built))] = redirect_json
    fixed = {source.strip("/"): location for source, _status, location in
             fixed_redirects(app, built_base_path(dist))}
    for source, location in fixed.items():
        _add_unique(files, f"{source}/index.html" if source else "index.html", refresh_page(location),
                    f"the redirect of /{source}")
    for locale, pages in dist.errors.items():
        if 404 in pages:
            body = dist.body(pages[404].html)
            if i18n:
                files[f"{locale}/404.html"] = body
            if not i18n or locale == default_locale:
                files["404.html"] = body
    for locale, translations in dist.translations.items():
        files[export_file(TRANSLATIONS_PREFIX + locale)] = dist.body(translations.body)
    if i18n:
        # A static host cannot negotiate: each path without a locale gets a page that does.
        base = built_base_path(dist)
        paths = {page.path for page in dist.pages} | {redirect[0] for redirect in dist.redirects}
        for page_path in sorted(paths - set(fixed)):  # a fixed redirect is answered first
            folder = f"{page_path}/" if page_path else ""
            redirect = locale_redirect_page(base, locales, default_locale, page_path)
            _add_unique(files, f"{folder}index.html", redirect, f"the locale redirect of /{page_path}")
    files[export_file(CLIENT_PATH)] = files[export_file(runtime_path())] = runtime()
    if app.static_dir is not None:
        # Each file at its plain name and at the hashed name the build's pages link.
        hashed = hashed_names(dist.render_conf.get("static", {}))
        for relative, found in regular_files(app.static_dir):
            path = Path(found.path)
            files[export_file(STATIC_PREFIX + relative)] = path
            if relative in hashed:
                _add_unique(files, export_file(STATIC_PREFIX + hashed[relative]), path,
                            f"the fingerprinted copy of static file '{relative}'")
    for url, target in app.static_aliases.items():
        _add_unique(files, url.lstrip("/"), target, f"static alias '{url}'")
    for url, target in plugin_files(dist.path).items():
        _add_unique(files, url.lstrip("/"), target, f"plugin file '{url}'")
    _check_no_file_is_a_folder(files)
    return files


def export_site(dist: Dist, app: PerseusApp, output: Path, base_path: str) -> ExportSummary:
    """Export the built ``dist`` of ``app`` into ``output`` (replaced as a whole)."""
    refuse_server_strategies(app)
    built_for = built_base_path(dist)
    if built_for != base_path:
        raise ExportError(
            f"{dist.path} was built for base path '{built_for or '/'}' but PERSEUS_BASE_PATH is"
            f" '{base_path or '/'}': export without --no-build so the site is rebuilt for it"
        )
    files = export_files(dist, app)
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.parent / f".{output.name}.exporting-{secrets.token_hex(4)}"
    try:
        for relative, source in sorted(files.items()):
            target = staging.joinpath(*relative.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, Path):
                shutil.copyfile(source, target)
            else:
                target.write_bytes(source)
        replace_directory(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportSummary(output, len(dist.pages), len(files))


def replace_directory(new: Path, old: Path) -> None:
    """Swap the finished directory ``new`` in at ``old``, removing what was there."""
    retired = old.parent / f".{old.name}.old-{secrets.token_hex(4)}"
    if old.exists():
        os.rename(old, retired)
    os.rename(new, old)
    shutil.rmtree(retired, ignore_errors=True)


def built_base_path(dist: Dist) -> str:
    """The base path ``dist`` was built for (its links and script URLs carry it)."""
    return str(dist.render_conf.get("base_path", ""))


def locale_redirect_page(base_path: str, locales: list[str], default_locale: str, path: str = "") -> bytes:
    """The page at ``/<path>`` of an i18n export: sends the visitor to ``/<locale>/<path>``.

    A static host cannot read ``Accept-Language``; the script matches
    ``navigator.languages`` instead, and the refresh covers browsers without scripts.
    """
    tail = f"{quote(path)}/" if path else ""
    fallback = html.escape(f"{base_path}/{default_locale}/{tail}")
    config = escape_script_json(orjson.dumps(
        {"base": base_path, "locales": locales, "default": default_locale, "tail": tail}
    )).decode()
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0; url={fallback}">'
        f'<script type="application/json" id="__perseus_locales">{config}</script>'
        "<script>(function () {"
        'var c = JSON.parse(document.getElementById("__perseus_locales").textContent);'
        "var wanted = navigator.languages || [navigator.language || ''];"
        "var lower = c.locales.map(function (l) { return l.toLowerCase(); });"
        "var pick = c.default;"
        "outer: for (var i = 0; i < wanted.length; i++) {"
        "  var w = String(wanted[i]).toLowerCase();"
        "  for (var j = 0; j < lower.length; j++) {"
        "    if (lower[j] === w || lower[j].split('-')[0] === w.split('-')[0]) {"
        "      pick = c.locales[j]; break outer;"
        "    }"
        "  }"
        "}"
        "location.replace(c.base + '/' + pick + '/' + c.tail + location.search + location.hash);"
        "})();</script></head>"
        f'<body><a href="{fallback}">{html.escape(default_locale)}</a></body></html>\n'
    ).encode()


def refresh_page(location: str) -> bytes:
    """The page a static host serves for a redirect: a refresh to ``location`` at once, and
    the target as the canonical URL, so search engines index the target instead."""
    href = html.escape(location)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Redirecting</title>'
        f'<meta http-equiv="refresh" content="0; url={href}">'
        f'<link rel="canonical" href="{href}"><meta name="robots" content="noindex"></head>'
        f'<body><p>Redirecting to <a href="{href}">{href}</a></p></body></html>\n'
    ).encode()


def _add_unique(files: dict[str, Source], relative: str, source: Source, what: str) -> None:
    if relative in files:
        raise ExportError(f"{what} would overwrite /{relative} of the export: rename one of them")
    files[relative] = source


def _check_no_file_is_a_folder(files: dict[str, Source]) -> None:
    # An alias '/about' and a page 'about/index.html' cannot both exist on disk.
    for relative in files:
        parts = relative.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in files:
                raise ExportError(
                    f"/{parent} is both a file and a folder of the export (it holds /{relative}):"
                    " rename the static alias or the page"
                )
