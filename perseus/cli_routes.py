"""The route table ``perseus build`` prints: one symbol per strategy, a legend, sizes.

Every route when there are few (or with ``--routes all``); one row per template
otherwise, with a line saying how to see every route. Colour comes from click, which
drops it where the command's context says so (``--no-color``, ``NO_COLOR``, a pipe).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import click

from .builder.build import BuildSummary, Route, TemplateInfo

# All routes are listed up to this many; past it the table has one row per template.
ALL_ROUTES_UP_TO = 30


@dataclass(frozen=True)
class Kind:
    symbol: str
    colour: str | None  # None: the terminal's own (white is invisible on a light one)
    legend: str


KINDS = {
    "static": Kind("○", None, "static: prerendered, no state"),
    "build state": Kind("●", "green", "build state or build paths: prerendered with state"),
    "build paths": Kind("●", "green", "build state or build paths: prerendered with state"),
    "revalidation": Kind("↻", "cyan", "revalidating: prerendered, regenerated after the interval"),
    "incremental": Kind("◇", "blue", "incremental: paths not built are generated on first request"),
    "request state": Kind("ƒ", "magenta", "request state: rendered on every request"),
    "request global state": Kind("ƒ", "magenta", "request global state: rendered on every request"
                                 " (the app's request_global_state)"),
    "redirect": Kind("→", "yellow", "redirect: build state raised Redirect"),
}

# The strategies whose pages have no HTML before a request.
PER_REQUEST_STRATEGIES = ("request state", "request global state")


def duration_text(seconds: float) -> str:
    """``5400`` -> ``"1h30m"``: the largest units first, as Perseus time strings are written."""
    left = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts) or f"{seconds:g}s"


def size_text(size: int | None) -> str:
    """Bytes as people read them: ``812 B``, ``3.4 kB``, ``1.2 MB``."""
    if size is None:
        return ""
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.1f} kB"
    return f"{size / 1_000_000:.1f} MB"


def revalidation_text(template: TemplateInfo) -> str:
    """The template's revalidation: its interval, ``should_revalidate``, both, or nothing."""
    parts = []
    if template.revalidate_after is not None:
        parts.append(duration_text(template.revalidate_after))
    if template.should_revalidate:
        parts.append("should_revalidate")
    return " + ".join(parts)


def route_table(summary: BuildSummary, mode: str = "auto") -> Iterator[str]:
    """The lines of the route table (styled; click strips the styles where colour is off)."""
    by_name = {template.name: template for template in summary.templates}
    every = mode == "all" or (mode == "auto" and len(summary.routes) <= ALL_ROUTES_UP_TO)
    used: dict[str, Kind] = {}
    if every:
        yield from _every_route(summary.routes, by_name, used)
    else:
        yield from _per_template(summary, used)
    yield ""
    for kind in dict.fromkeys(used.values()):
        yield f"  {_symbol(kind)}  {kind.legend}"
    if not every:
        yield (f"  {len(summary.routes)} routes in {len(summary.templates)} templates;"
               " `--routes all` lists every route")


def _symbol(kind: Kind) -> str:
    return click.style(kind.symbol, fg=kind.colour, bold=True)


def _kind(strategy: str, used: dict[str, Kind]) -> Kind:
    kind = KINDS.get(strategy, KINDS["static"])
    used[strategy] = kind
    return kind


def _every_route(routes: list[Route], templates: dict[str, TemplateInfo],
                 used: dict[str, Kind]) -> Iterator[str]:
    rows = [("Route", "Template", "Revalidate", "HTML", "br")]
    kinds: list[Kind | None] = [None]
    for route in routes:
        template = templates[route.template]
        kinds.append(_kind(route.strategy, used))
        if route.redirect is not None:
            status, location = route.redirect
            rows.append((route.url, route.template, "", f"{status} → {location}", ""))
            continue
        html = size_text(route.html_bytes) if route.html_bytes is not None else "per request"
        rows.append((route.url, route.template, revalidation_text(template), html,
                     size_text(route.compressed_bytes)))
    for template in templates.values():  # where incremental pages will appear
        if template.incremental:
            kinds.append(_kind("incremental", used))
            root = "/" + template.root
            rows.append((root.rstrip("/") + "/*", template.name, revalidation_text(template),
                         "on first request", ""))
    yield from _columns(rows, kinds, right=(3, 4))


def _per_template(summary: BuildSummary, used: dict[str, Kind]) -> Iterator[str]:
    rows = [("Template", "Root", "Pages", "Revalidate", "HTML total", "br total", "largest")]
    kinds: list[Kind | None] = [None]
    counts: dict[str, list[Route]] = {template.name: [] for template in summary.templates}
    for route in summary.routes:
        counts[route.template].append(route)
    for template in summary.templates:
        routes = counts[template.name]
        kinds.append(_kind(template.strategy, used))
        if any(route.redirect is not None for route in routes):
            _kind("redirect", used)
        sizes = [route.html_bytes for route in routes if route.html_bytes is not None]
        compressed = [route.compressed_bytes or route.html_bytes or 0 for route in routes
                      if route.html_bytes is not None]
        pages = f"{len(routes)}" + ("+" if template.incremental else "")
        per_request = "per request" if template.strategy in PER_REQUEST_STRATEGIES else ""
        rows.append((template.name, "/" + template.root, pages, revalidation_text(template),
                     size_text(sum(sizes)) if sizes else per_request,
                     size_text(sum(compressed)) if compressed else "",
                     size_text(max(sizes)) if sizes else ""))
    yield from _columns(rows, kinds, right=(2, 4, 5, 6))


def _columns(rows: Sequence[tuple[str, ...]], kinds: list[Kind | None],
             right: tuple[int, ...]) -> Iterator[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def align(i: int, text: str) -> str:
        return text.rjust(widths[i]) if i in right else text.ljust(widths[i])

    for index, (row, kind) in enumerate(zip(rows, kinds, strict=True)):
        line = "  ".join(align(i, cell) for i, cell in enumerate(row)).rstrip()
        if index == 0:
            yield "  " + click.style("  " + line, bold=True)
        else:
            assert kind is not None
            yield f"  {_symbol(kind)} {line}"
