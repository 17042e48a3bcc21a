"""The sans-IO kernels of request-time serving: Perseus time strings and the serve plan."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perseus import ConfigurationError, Template
from perseus_core.durations import DurationError, parse_duration
from perseus_core.plan import (
    BUILT,
    BUILT_PAGE,
    DUE_ON_DEMAND,
    GENERATE,
    GENERATED,
    INCREMENTAL,
    MISSING,
    NO_PAGE,
    NOT_FOUND,
    PER_REQUEST,
    PRERENDERED,
    RENDERED_PER_REQUEST,
    REQUEST_GLOBAL_STATE,
    REQUEST_STATE,
    REVALIDATE,
    REVALIDATE_AFTER,
    REVALIDATE_LOGIC,
    REVALIDATING,
    STORED,
    UNBUILT_PAGE,
    RecordMeta,
    page_flags,
    page_kind,
    plan,
    renders_per_request,
    strategy_name,
    uses_mutable_store,
)


@pytest.mark.parametrize(("text", "seconds"), [
    ("5s", 5), ("1m", 60), ("1h30m", 5400), ("1d", 86400), ("1w5s", 604805),
    ("2M", 60 * 86400), ("1y", 365 * 86400), ("10s10s", 20), ("007s", 7),
])
def test_time_strings_sum_their_parts(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "h", "5x", "1h30", "0s", "0h0m", "-5s", "5 s", "1.5h",
                                  "9999999999999s"])
def test_invalid_time_strings_are_refused(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


@given(st.text(max_size=20))
def test_parse_duration_only_ever_raises_duration_error(text: str) -> None:
    try:
        assert parse_duration(text) > 0
    except DurationError:
        pass


@given(st.lists(st.tuples(st.integers(1, 10**6), st.sampled_from("smhdwMy")), min_size=1, max_size=5))
def test_parse_duration_adds_up(parts: list[tuple[int, str]]) -> None:
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2592000, "y": 31536000}
    text = "".join(f"{amount}{u}" for amount, u in parts)
    assert parse_duration(text) == sum(amount * unit[u] for amount, u in parts)


def test_template_refuses_a_bad_interval_when_constructed() -> None:
    with pytest.raises(ConfigurationError, match="'clock'.*revalidate_after.*unit") as caught:
        Template("clock", view=lambda c, s: "", revalidate_after="5q")
    assert caught.value.template == "clock"
    with pytest.raises(ConfigurationError, match="positive"):
        Template("clock", view=lambda c, s: "", revalidate_after=timedelta(0))
    with pytest.raises(ConfigurationError, match="time string"):
        Template("clock", view=lambda c, s: "", revalidate_after=5)  # type: ignore[arg-type]
    assert Template("clock", view=lambda c, s: "", revalidate_after="1h30m").revalidate_after == 5400
    two_minutes = Template("clock", view=lambda c, s: "", revalidate_after=timedelta(minutes=2))
    assert two_minutes.revalidate_after == 120


def test_amalgamation_needs_both_states() -> None:
    with pytest.raises(ConfigurationError, match="needs both build_state and request_state"):
        Template("m", view=lambda c, s: "", request_state=lambda i, r: 1,
                 amalgamate_states=lambda i, b, r: 1)


NOW = 1000.0
FRESH = RecordMeta(generated_at=990.0, due_at=1010.0)
DUE = RecordMeta(generated_at=900.0, due_at=950.0)
FROM_THE_FUTURE = RecordMeta(generated_at=NOW + 86400, due_at=NOW + 86400 + 60)  # the clock went back
BUILT_COPY_DUE = RecordMeta(generated_at=900.0, due_at=950.0, stored=False)
MARKED = RecordMeta(generated_at=990.0, due_at=DUE_ON_DEMAND)  # by `perseus revalidate`
TIME, LOGIC, REQ, GLOBAL = REVALIDATE_AFTER, REVALIDATE_LOGIC, REQUEST_STATE, REQUEST_GLOBAL_STATE
BOTH = TIME | LOGIC


@pytest.mark.parametrize(("route", "flags", "record", "expected"), [
    (NO_PAGE, 0, None, NOT_FOUND),
    (NO_PAGE, REQ | TIME, FRESH, NOT_FOUND),
    (BUILT_PAGE, 0, None, BUILT),
    (BUILT_PAGE, REQ, None, BUILT | PER_REQUEST),
    (BUILT_PAGE, TIME, FRESH, STORED),
    (BUILT_PAGE, TIME, DUE, STORED | REVALIDATE),
    (BUILT_PAGE, TIME, FROM_THE_FUTURE, STORED | REVALIDATE),
    (BUILT_PAGE, TIME, BUILT_COPY_DUE, BUILT | REVALIDATE),
    (BUILT_PAGE, TIME, None, BUILT | REVALIDATE),
    (BUILT_PAGE, LOGIC, FRESH, STORED | REVALIDATE),  # logic alone is asked on every request
    (BUILT_PAGE, BOTH, FRESH, STORED),  # with both, the logic waits for the interval
    (BUILT_PAGE, BOTH, DUE, STORED | REVALIDATE),
    (BUILT_PAGE, TIME | REQ, DUE, STORED | REVALIDATE | PER_REQUEST),
    (BUILT_PAGE, TIME | REQ, FRESH, STORED | PER_REQUEST),
    (UNBUILT_PAGE, 0, None, GENERATE),
    (UNBUILT_PAGE, REQ, None, GENERATE | PER_REQUEST),
    (UNBUILT_PAGE, 0, FRESH, STORED),
    (UNBUILT_PAGE, TIME, DUE, STORED | REVALIDATE),
    (UNBUILT_PAGE, TIME, FRESH, STORED),
    (BUILT_PAGE, BOTH, MARKED, STORED | REVALIDATE),  # marked: due before the interval
    (BUILT_PAGE, LOGIC | REQ, MARKED, STORED | REVALIDATE | PER_REQUEST),
    (BUILT_PAGE, 0, MARKED, BUILT),  # a prerendered page never follows a mark
    (UNBUILT_PAGE, 0, MARKED, STORED | REVALIDATE),  # a generated page that never revalidates
    # The app's request global state: every page rendered per request, from its kept state.
    (BUILT_PAGE, GLOBAL, None, BUILT | PER_REQUEST),
    (BUILT_PAGE, TIME | GLOBAL, FRESH, STORED | PER_REQUEST),
    (BUILT_PAGE, TIME | GLOBAL, DUE, STORED | REVALIDATE | PER_REQUEST),
    (UNBUILT_PAGE, INCREMENTAL | GLOBAL, None, GENERATE | PER_REQUEST),
    (UNBUILT_PAGE, INCREMENTAL | GLOBAL, FRESH, STORED | PER_REQUEST),
    (NO_PAGE, GLOBAL, None, NOT_FOUND),
])
def test_plan_matrix(route: int, flags: int, record: RecordMeta | None, expected: int) -> None:
    assert plan(route, flags, record, NOW) == expected


@given(st.sampled_from([BUILT_PAGE, UNBUILT_PAGE, NO_PAGE]), st.integers(0, 7),
       st.one_of(st.none(), st.builds(RecordMeta, st.floats(0, 1e10), st.floats(0, 1e10), st.booleans())),
       st.floats(0, 1e10))
def test_plan_never_raises_and_never_generates_a_built_page(
    route: int, flags: int, record: RecordMeta | None, now: float
) -> None:
    decision = plan(route, flags, record, now)
    if route == BUILT_PAGE:
        assert decision & 7 != GENERATE
    if route == NO_PAGE:
        assert decision == NOT_FOUND


# --- the static half: one classification of templates and pages -----------------------------------

def _flags(**fields: object) -> int:
    view = lambda ctx, state: ""  # noqa: E731
    return Template("t", view=view, **fields).strategy_flags  # type: ignore[arg-type]


STATE = lambda info: {}  # noqa: E731
REQUEST = lambda info, request: {}  # noqa: E731


@pytest.mark.parametrize(("fields", "route", "kind", "name"), [
    ({}, BUILT_PAGE, PRERENDERED, "static"),
    ({"build_state": STATE}, BUILT_PAGE, PRERENDERED, "build state"),
    ({"build_paths": lambda: ["a"], "build_state": STATE}, BUILT_PAGE, PRERENDERED, "build paths"),
    ({"request_state": REQUEST}, BUILT_PAGE, RENDERED_PER_REQUEST, "request state"),
    ({"build_state": STATE, "request_state": REQUEST, "amalgamate_states": lambda i, b, r: b},
     BUILT_PAGE, RENDERED_PER_REQUEST, "request state"),
    ({"revalidate_after": "1h"}, BUILT_PAGE, REVALIDATING, "revalidation"),
    ({"should_revalidate": REQUEST}, BUILT_PAGE, REVALIDATING, "revalidation"),
    ({"revalidate_after": "1h", "request_state": REQUEST}, BUILT_PAGE, REVALIDATING, "request state"),
    ({"incremental": True}, BUILT_PAGE, PRERENDERED, "incremental"),
    ({"incremental": True}, UNBUILT_PAGE, GENERATED, "incremental"),
    ({"incremental": True, "revalidate_after": "1h"}, BUILT_PAGE, REVALIDATING, "revalidation"),
    ({}, UNBUILT_PAGE, MISSING, "static"),  # no incremental template covers it
    ({"request_state": REQUEST}, NO_PAGE, MISSING, "request state"),
])
def test_each_page_gets_one_kind(fields: dict[str, object], route: int, kind: int, name: str) -> None:
    flags = _flags(**fields)
    assert page_flags(flags, False) == flags
    assert page_kind(route, flags) == kind
    assert strategy_name(flags) == name
    assert uses_mutable_store(flags) == bool(flags & (REVALIDATE_AFTER | REVALIDATE_LOGIC | INCREMENTAL))


@pytest.mark.parametrize(("fields", "route", "kind", "name"), [
    ({}, BUILT_PAGE, RENDERED_PER_REQUEST, "request global state"),
    ({"build_state": STATE}, BUILT_PAGE, RENDERED_PER_REQUEST, "request global state"),
    ({"build_paths": lambda: ["a"], "build_state": STATE}, BUILT_PAGE, RENDERED_PER_REQUEST,
     "request global state"),
    ({"request_state": REQUEST}, BUILT_PAGE, RENDERED_PER_REQUEST, "request state"),
    ({"revalidate_after": "1h"}, BUILT_PAGE, REVALIDATING, "request global state"),
    ({"incremental": True}, BUILT_PAGE, RENDERED_PER_REQUEST, "request global state"),
    ({"incremental": True}, UNBUILT_PAGE, GENERATED, "request global state"),
    ({}, NO_PAGE, MISSING, "request global state"),
])
def test_request_global_state_renders_every_page_per_request(fields: dict[str, object], route: int,
                                                             kind: int, name: str) -> None:
    own = _flags(**fields)
    flags = page_flags(own, True)
    assert renders_per_request(flags) and not renders_per_request(own & ~REQUEST_STATE)
    assert page_kind(route, flags) == kind
    assert strategy_name(flags) == name
    assert uses_mutable_store(flags) == uses_mutable_store(own)  # it stores nothing more


@given(st.integers(0, 255))
def test_the_plan_of_a_prerendered_page_depends_on_nothing_but_its_flags(flags: int) -> None:
    if page_kind(BUILT_PAGE, flags) == PRERENDERED:
        assert plan(BUILT_PAGE, flags, None, 0.0) == BUILT
        assert plan(BUILT_PAGE, flags, RecordMeta(0.0, DUE_ON_DEMAND), 1e9) == BUILT
