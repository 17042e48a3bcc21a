"""perseus_core.locales, the negotiation kernel, in whichever build nox installed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perseus_core.locales import negotiate, parse_accept_language, redirect_path

SUPPORTED = ["en-US", "fr-FR", "de", "pt-BR"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en-US"),
        ("", "en-US"),
        ("fr-FR", "fr-FR"),
        ("FR-fr", "fr-FR"),  # tags are case-insensitive
        ("fr", "fr-FR"),  # language-only range
        ("fr-CA", "fr-FR"),  # same language, other region
        ("de-AT", "de"),
        ("pt-PT, en;q=0.5", "pt-BR"),
        ("en-GB, fr-FR;q=0.8", "en-US"),  # the first preference wins, even by language only
        ("it, fr;q=0.9, en;q=0.8", "fr-FR"),
        ("en;q=0.5, fr;q=0.9", "fr-FR"),  # q-values, not header order
        ("de;q=0.9, fr;q=0.91", "fr-FR"),
        ("fr;q=0.5, de;q=0.5", "fr-FR"),  # ties keep header order
        ("*", "en-US"),
        ("it, *;q=0.5", "en-US"),
        ("fr-FR;q=0, fr;q=0.5, de;q=0.1", "de"),  # q=0 refuses that locale
        ("fr;q=0, fr-FR", "en-US"),  # "fr;q=0" refuses every fr-*
        ("en-US;q=0", "en-US"),  # nothing acceptable: the default all the same
        ("q=abc", "en-US"),
        ("fr;q=abc, de", "de"),  # a malformed range is dropped, not the header
        ("fr;q=1e999", "en-US"),
        ("fr;q=-1", "en-US"),
        ("fr;q=1.5", "en-US"),
        ("fr;q=0.5000", "en-US"),  # at most three decimals
        ("fr; q=0.5", "fr-FR"),
        ("i-klingon", "en-US"),
        ("x-private, de", "de"),
        ("zh-Hant-TW, pt", "pt-BR"),
        (" , ,fr ;q=0.5,", "fr-FR"),
        ("fr\x00, de", "de"),
        ("français, de", "de"),
        ("f" * 100, "en-US"),
        ("it," * 5000 + "fr", "en-US"),  # ranges past the cap are not read
        ("a" * 70_000 + ",fr", "en-US"),  # nor are characters past the cap
    ],
)
def test_negotiate(header: str | None, expected: str) -> None:
    assert negotiate(header, SUPPORTED, "en-US") == expected


def test_parse_orders_by_quality_and_lowercases() -> None:
    assert parse_accept_language("en;q=0.1, FR-fr, de;q=0.5") == [("fr-fr", 1.0), ("de", 0.5), ("en", 0.1)]


@given(st.text(max_size=300), st.lists(st.sampled_from(SUPPORTED), min_size=1, unique=True))
def test_negotiate_never_raises_and_answers_a_supported_locale(header: str, supported: list[str]) -> None:
    assert negotiate(header, supported, supported[0]) in supported


_TAGS = ["en", "en-US", "fr", "fr-CA", "de", "*", "xx", "pt-BR", "EN-us", "i-klingon"]


@given(
    st.sampled_from(SUPPORTED),
    st.lists(st.tuples(st.sampled_from(_TAGS), st.sampled_from(["0.1", "0.5", "0.999", "abc", "2"]))),
)
def test_a_first_choice_with_the_highest_quality_wins(locale: str, others: list[tuple[str, str]]) -> None:
    header = ", ".join([locale.upper()] + [f"{tag};q={q}" for tag, q in others])
    assert negotiate(header, SUPPORTED, "en-US") == locale


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/", "", "/en-US"),
        ("/about", "", "/en-US/about"),
        ("//evil.example", "", "/en-US/evil.example"),
        ("///evil.example", "", "/en-US/evil.example"),
        ("/\\evil.example", "", "/en-US/%5Cevil.example"),
        ("/\t/evil.example", "", "/en-US/evil.example"),
        ("/\r\nSet-Cookie: x=1", "", "/en-US/Set-Cookie:%20x=1"),
        ("//evil.example/..", "", "/en-US/evil.example"),
        ("/./../a", "", "/en-US/a"),
        ("/post/%2F?#", "", "/en-US/post/%252F%3F%23"),
        ("/café", "", "/en-US/caf%C3%A9"),
        ("/a", "x=1&y=%0d%0a", "/en-US/a?x=1&y=%0d%0a"),
        ("/a", "x=\r\n<\"'>\\", "/en-US/a?x=%0D%0A%3C%22'%3E%5C"),
    ],
)
def test_redirect_path(path: str, query: str, expected: str) -> None:
    assert redirect_path("", "en-US", path, query) == expected


def test_redirect_path_keeps_the_base_path() -> None:
    assert redirect_path("/docs", "fr-FR", "//x") == "/docs/fr-FR/x"


@given(st.text(max_size=200), st.text(max_size=50))
def test_redirect_path_can_only_name_this_site(path: str, query: str) -> None:
    location = redirect_path("", "fr-FR", path, query)
    assert location == "/fr-FR" or location.startswith(("/fr-FR/", "/fr-FR?"))
    # SECURITY: printable ASCII only, so no header splitting and nothing a browser drops.
    assert all(" " < ch < "\x7f" for ch in location)
    assert "\\" not in location and "//" not in location.partition("?")[0]
