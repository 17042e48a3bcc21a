"""Page tags (``perseus.State``): what a valid tag is, what the build does with them (records
seeded with their tags and indexed, ``dist/tags.json``, a bad tag failing the build), and
tags from request state (ignored)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from perseus import State
from perseus.errors import TagError
from perseus.stores.immutable import read_build_id
from perseus.stores.lmdb_store import LMDBStore
from perseus.stores.records import PageRecords, page_key, tag_key
from perseus.tags import MAX_TAG_LENGTH, MAX_TAGS, check_tags, plain_state, split_state
from perseus.testing import TestClient
from tests.conftest import perseus
from tests.tagged_site import write_tagged_site


@pytest.mark.parametrize("tags, expected", [
    (["post:42", "posts", "author:ada@example.com", "a/b.c_d+e=f~g#h-i"],
     ("post:42", "posts", "author:ada@example.com", "a/b.c_d+e=f~g#h-i")),
    (("posts", "post:1", "posts"), ("posts", "post:1")),  # repeats dropped, order kept
    ([], ()),
    (["x" * MAX_TAG_LENGTH], ("x" * MAX_TAG_LENGTH,)),
    ([f"t{i}" for i in range(MAX_TAGS)], tuple(f"t{i}" for i in range(MAX_TAGS))),
])
def test_valid_tags(tags: object, expected: tuple[str, ...]) -> None:
    assert check_tags(tags) == expected


@pytest.mark.parametrize("tags, message", [
    ("post:42", "tags takes a list of tags, got the string 'post:42'"),
    (42, "tags takes a list of tags, got int"),
    ([""], "a tag cannot be empty"),
    (["has space"], "tag 'has space' has a character other than"),
    (["tab\there"], "has a character other than"),
    (["{hash}"], "has a character other than"),
    (["ünïcode"], "has a character other than"),
    ([42], "a tag is a string, got int 42"),
    (["x" * (MAX_TAG_LENGTH + 1)], f"a tag has at most {MAX_TAG_LENGTH} characters"),
    ([f"t{i}" for i in range(MAX_TAGS + 1)], f"a page has at most {MAX_TAGS} tags, got {MAX_TAGS + 1}"),
])
def test_invalid_tags_say_what_is_wrong(tags: object, message: str) -> None:
    with pytest.raises(TagError, match=message.replace("{", r"\{")):
        check_tags(tags)


def test_a_state_result_is_split_and_a_plain_value_is_untagged() -> None:
    assert split_state(State({"a": 1}, tags=["x", "x"])) == ({"a": 1}, ("x",))
    assert split_state({"a": 1}) == ({"a": 1}, ())
    assert split_state(None) == (None, ())
    assert plain_state(State([1], tags=["not a tag"])) == [1]  # request state: tags ignored, unchecked
    assert plain_state({"a": 1}) == {"a": 1}
    assert repr(State(1, tags=["x"])) == "State(1, tags=['x'])"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = write_tagged_site(tmp_path_factory.mktemp("tagged") / "site")
    perseus("build", cwd=site)
    return site


def test_the_build_seeds_revalidating_pages_with_their_tags_and_indexes_them(built: Path) -> None:
    store = LMDBStore(str(built / "dist" / "mutable"), readonly=True)
    try:
        records = PageRecords(store, str(read_build_id(built / "dist")))
        first = records.get("xx-XX", "post/1")
        assert first is not None and first.tags == ("post:1", "author:ada", "posts")
        ada = sorted([page_key("xx-XX", "post/1"), page_key("xx-XX", "post/2")])
        assert store.index_members(tag_key("author:ada")) == ada
        assert len(store.index_members(tag_key("posts"))) == 3  # the posts; 'about' is not stored
        assert store.index_members(tag_key("about")) == []
    finally:
        store.close()
    # Every built page's tags, prerendered ones too, for `perseus revalidate --tag` to report.
    built_tags = orjson.loads((built / "dist" / "tags.json").read_bytes())
    assert built_tags["about"] == [["xx-XX", "about"]]
    assert ["xx-XX", "about"] in built_tags["posts"] and ["xx-XX", "post/3"] in built_tags["posts"]


def test_tags_from_request_state_are_ignored(built: Path) -> None:
    with TestClient(built, build=False) as client:
        page = client.get("/.perseus/page/xx-XX/greet.json")
        assert page.status_code == 200 and page.json()["state"] == {"title": "Hello", "gen": "per-request"}


def test_a_bad_tag_fails_the_build_naming_template_and_page(tmp_path: Path) -> None:
    site = write_tagged_site(tmp_path / "site")
    (site / "data" / "extra-tag").write_text("has space")
    result = perseus("build", cwd=site, check=False)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    for path in ("1", "2", "3"):  # every failing page at once
        assert (f"template 'post', path '{path}': build_state raised TagError: tag 'has space' has a"
                " character other than") in output
    assert "Traceback" not in output
    assert not (site / "dist").exists()
