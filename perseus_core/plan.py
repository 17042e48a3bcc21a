"""The serve plan: which strategy a page has, and what to do for one request (compiled by mypyc).

Sans-IO, in two halves. The static half classifies: ``template_flags`` turns a
template's fields into strategy flags (the only place templates are classified),
``page_kind`` gives each page of a site its kind once, when the site is opened, and
``strategy_name`` names it for people. The dynamic half, ``plan``, takes what routing
found, the flags, the stored record's metadata and ``now``, and answers with a source to
serve from plus two modifier bits. Nothing here reads a store or a clock.

    source                 REVALIDATE bit                  PER_REQUEST bit
    NOT_FOUND  404         regenerate in the background    run request state, render
    BUILT      dist/       (serve what there is at once)   (never stored)
    STORED     mutable store                   (also: a record marked due on demand)
    GENERATE   nothing stored yet: generate once, then serve
"""

from __future__ import annotations

from typing import Final

# What routing found.
BUILT_PAGE: Final = 0  # a path the build rendered
UNBUILT_PAGE: Final = 1  # a path below an incremental template that the build did not render
NO_PAGE: Final = 2

# Strategy flags of a template.
REQUEST_STATE: Final = 1
REVALIDATE_AFTER: Final = 2
REVALIDATE_LOGIC: Final = 4
INCREMENTAL: Final = 8
AMALGAMATE: Final = 16
BUILD_STATE: Final = 32
BUILD_PATHS: Final = 64
# Set by the app, not the template: the app's global state is made per request
# (``request_global_state``), and every view must see the request's.
REQUEST_GLOBAL_STATE: Final = 128
REVALIDATES: Final = REVALIDATE_AFTER | REVALIDATE_LOGIC
# Flags whose pages are rendered per request (their view runs for every request).
PER_REQUEST_FLAGS: Final = REQUEST_STATE | REQUEST_GLOBAL_STATE
# Flags whose strategy runs (or stores pages) while the site is served.
SERVER_FLAGS: Final = PER_REQUEST_FLAGS | AMALGAMATE | REVALIDATES | INCREMENTAL

# Page kinds, one per page of a site: which strategy module answers it.
PRERENDERED: Final = 0  # built bytes, no user code at request time
RENDERED_PER_REQUEST: Final = 1  # request state (maybe amalgamated) or request global state, never stored
REVALIDATING: Final = 2  # a stored version, regenerated when due
GENERATED: Final = 3  # below an incremental template, unbuilt: generated on first request
MISSING: Final = 4  # nothing serves it

# Plan: one source ...
SOURCE: Final = 7
NOT_FOUND: Final = 0
BUILT: Final = 1
STORED: Final = 2
GENERATE: Final = 3
# ... plus modifier bits.
REVALIDATE: Final = 8
PER_REQUEST: Final = 16

# NOTE: a record written in the future (by more than this) means the clock went
# back; the page is treated as due so it is never stuck fresh for a whole interval.
CLOCK_SKEW: Final = 1.0
# The due time of a record marked by ``perseus revalidate``: due now, whatever the
# template's interval or logic say, and also for a page that never revalidates by itself.
DUE_ON_DEMAND: Final = -1.0


class RecordMeta:
    """What ``plan`` needs of a page version: when it was generated and when it is due.

    ``stored`` is False for the build's own copy of a revalidating page whose mutable
    record is missing (never written, corrupt, or from another build).
    """

    __slots__ = ("generated_at", "due_at", "stored")

    def __init__(self, generated_at: float, due_at: float, stored: bool = True) -> None:
        self.generated_at = generated_at
        self.due_at = due_at
        self.stored = stored


def template_flags(build_paths: bool, build_state: bool, request_state: bool, amalgamate: bool,
                   revalidate_after: bool, should_revalidate: bool, incremental: bool) -> int:
    """A template's strategy flags, from which of its fields are set."""
    flags = BUILD_PATHS if build_paths else 0
    if build_state:
        flags |= BUILD_STATE
    if request_state:
        flags |= REQUEST_STATE
    if amalgamate:
        flags |= AMALGAMATE
    if revalidate_after:
        flags |= REVALIDATE_AFTER
    if should_revalidate:
        flags |= REVALIDATE_LOGIC
    if incremental:
        flags |= INCREMENTAL
    return flags


def page_flags(flags: int, request_global_state: bool) -> int:
    """The flags of a template's pages in an app, from the template's ``flags`` and whether
    the app makes its global state per request (then every page renders per request)."""
    return flags | REQUEST_GLOBAL_STATE if request_global_state else flags


def renders_per_request(flags: int) -> bool:
    """Whether pages with ``flags`` are rendered for every request (never prerendered)."""
    return (flags & PER_REQUEST_FLAGS) != 0


def page_kind(route: int, flags: int) -> int:
    """The kind of a page that routing found as ``route`` for a template with ``flags``."""
    if route == NO_PAGE or (route == UNBUILT_PAGE and not flags & INCREMENTAL):
        return MISSING
    if route == UNBUILT_PAGE:
        return GENERATED
    if flags & REVALIDATES:
        return REVALIDATING
    return RENDERED_PER_REQUEST if flags & PER_REQUEST_FLAGS else PRERENDERED


def uses_mutable_store(flags: int) -> bool:
    """Whether serving pages with ``flags`` writes the mutable store (revalidation, incremental)."""
    return (flags & (REVALIDATES | INCREMENTAL)) != 0


def strategy_name(flags: int) -> str:
    """The strategy as the route table and messages name it (``"incremental"``)."""
    if flags & REQUEST_STATE:
        return "request state"
    if flags & REQUEST_GLOBAL_STATE:
        return "request global state"
    if flags & REVALIDATES:
        return "revalidation"
    if flags & INCREMENTAL:
        return "incremental"
    if flags & BUILD_PATHS:
        return "build paths"
    return "build state" if flags & BUILD_STATE else "static"


def is_due(flags: int, record: RecordMeta, now: float) -> bool:
    """Whether a revalidating page should be regenerated (logic, if any, decides later)."""
    if flags & REVALIDATE_AFTER:
        # With both kinds, the logic runs only once the interval has passed.
        return now >= record.due_at or now + CLOCK_SKEW < record.generated_at
    return (flags & REVALIDATE_LOGIC) != 0


def plan(route: int, flags: int, record: RecordMeta | None, now: float) -> int:
    """Decide how to answer a request for a page; see the module docstring for the bits."""
    if route == NO_PAGE:
        return NOT_FOUND
    per_request = PER_REQUEST if flags & PER_REQUEST_FLAGS else 0
    revalidates = flags & (REVALIDATE_AFTER | REVALIDATE_LOGIC)
    if route == BUILT_PAGE and not revalidates:
        return BUILT | per_request
    if record is None:
        # An unbuilt page with nothing stored is generated; a built revalidating page
        # always has at least the build's copy (the engine passes it as a record).
        return (GENERATE if route == UNBUILT_PAGE else BUILT | REVALIDATE) | per_request
    source = STORED if record.stored else BUILT
    if record.due_at == DUE_ON_DEMAND or (revalidates and is_due(flags, record, now)):
        return source | REVALIDATE | per_request
    return source | per_request
