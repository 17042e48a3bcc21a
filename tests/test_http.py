"""``perseus.http``: decoding raw request paths as granian's RSGI does, and the URLs of pages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perseus.http.urls import decode_target, page_data_url, page_url
from perseus_core.paths import BadPath, normalize_path

RAW_PATHS = st.lists(st.sampled_from([b"/", b"a", b"%", b"2", b"f", b"F", b"zz", b"%41", b"%c3%a9", b"\xc3",
                                      b"\xa9", b"\xff", b"%2f", b"%00", b" "]), max_size=12).map(b"".join)


@pytest.mark.parametrize(("raw", "decoded"), [
    (b"/post/first", "/post/first"),
    (b"/caf%C3%A9/%e2%82%ac", "/café/€"),
    (b"/a%20b", "/a b"),
    (b"/%2541", "/%41"),  # decoded exactly once
    (b"/post%2Ffirst", "/post/first"),  # as granian's RSGI path has it (REQ-03)
    (b"/%zz", "/%zz"), (b"/%", "/%"), (b"/a%g0", "/a%g0"),  # malformed: left as it is, as RSGI does
    (b"", ""),
])
def test_decode_target(raw: bytes, decoded: str) -> None:
    assert decode_target(raw) == decoded


@pytest.mark.parametrize("raw", [b"/%c0", b"/%ff", b"/en-US/post/%ed%a0%80", b"/\xff", b"/a%00", b"/%0a"])
def test_what_no_page_can_have_is_refused_once_decoded(raw: bytes) -> None:
    # Invalid UTF-8 becomes U+FFFD, never another valid path; the router refuses it (400).
    with pytest.raises(BadPath):
        normalize_path(decode_target(raw))


@given(RAW_PATHS)
def test_decode_target_never_raises_and_decodes_once(raw: bytes) -> None:
    decoded = decode_target(raw)
    assert isinstance(decoded, str)
    if b"%" not in raw:
        assert decoded == raw.decode("utf-8", "replace")


def test_page_urls() -> None:
    assert page_url(None, "") == "/" and page_url(None, "post/a") == "/post/a"
    assert page_url("en-US", "") == "/en-US" and page_url("en-US", "a", "/base") == "/base/en-US/a"
    assert page_data_url("xx-XX", "") == "/.perseus/page/xx-XX/.json"
    assert page_data_url("en-US", "post/a") == "/.perseus/page/en-US/post/a.json"
