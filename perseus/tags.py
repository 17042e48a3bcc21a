"""Page tags: ``return perseus.State(value, tags=["post:42"])`` from a state function.

A tag names what a page was made from (a post, an author, a list), so that
``perseus revalidate --tag post:42`` (or ``POST /.perseus/revalidate``) can mark every
stored page made from it at once, without knowing their URLs.

Tags mean something only where a page is stored: from ``build_state`` (at build time and
on every regeneration) they go with the page's version and into the store's tag index.
From ``request_state`` and ``amalgamate_states`` the value is used and the tags are
ignored: such a page is rendered for every request, always fresh, never stored, so there
is nothing a tag could mark (refusing them would turn a harmless wrapper into a 500).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .errors import TagError

# NOTE: characters that read the same in a shell, a URL, a log line and a JSON body; no
# braces (Redis Cluster hash tags), no whitespace or control characters.
_TAG = re.compile(r"[A-Za-z0-9._:/@+=~#-]+")
MAX_TAG_LENGTH = 256  # as Next.js's revalidateTag
MAX_TAGS = 64  # per page: each is an index entry written with every version of the page
NO_TAGS: tuple[str, ...] = ()


class State:
    """A state function's result with tags: ``State(value, tags=["post:42", "posts"])``.

    ``value`` is the page's state, as a plain return value would be. Tags are validated
    when the page is generated: a bad one fails the build (naming the template and
    page), or is logged and answered 500 for a page generated at request time.
    """

    __slots__ = ("value", "tags")

    def __init__(self, value: Any, *, tags: Iterable[str] = ()) -> None:
        self.value = value
        self.tags = tags

    def __repr__(self) -> str:
        return f"State({self.value!r}, tags={self.tags!r})"


def check_tags(tags: object) -> tuple[str, ...]:
    """``tags`` as a tuple without repeats, in their order.

    Raises:
        TagError: not a list of tags, a tag that is empty, too long or has a character
            outside ``A-Z a-z 0-9 . _ : / @ + = ~ # -``, or more than ``MAX_TAGS``.
    """
    if isinstance(tags, (str, bytes)):
        # NOTE: tuple("post:42") would tag the page p, o, s, t, ...
        raise TagError(f"tags takes a list of tags, got the string {tags!r}")
    if not isinstance(tags, Iterable):
        raise TagError(f"tags takes a list of tags, got {type(tags).__name__}")
    unique = tuple(dict.fromkeys(check_tag(tag) for tag in tags))
    if len(unique) > MAX_TAGS:
        raise TagError(f"a page has at most {MAX_TAGS} tags, got {len(unique)}")
    return unique


def check_tag(tag: object) -> str:
    """``tag`` if it is a valid tag.

    Raises:
        TagError: saying what is wrong with it.
    """
    if not isinstance(tag, str):
        raise TagError(f"a tag is a string, got {type(tag).__name__} {tag!r}")
    if not tag:
        raise TagError("a tag cannot be empty")
    if len(tag) > MAX_TAG_LENGTH:
        raise TagError(f"a tag has at most {MAX_TAG_LENGTH} characters, got one of {len(tag)}"
                       f" ({tag[:40]!r}...)")
    if _TAG.fullmatch(tag) is None:
        raise TagError(f"tag {tag!r} has a character other than A-Z a-z 0-9 . _ : / @ + = ~ # -")
    return tag


def split_state(result: Any) -> tuple[Any, tuple[str, ...]]:
    """A ``build_state`` result as ``(state, tags)``: a plain value is untagged.

    Raises:
        TagError: a ``State`` with bad tags.
    """
    if type(result) is State:
        return result.value, check_tags(result.tags)
    return result, NO_TAGS


def plain_state(result: Any) -> Any:
    """A ``request_state`` or ``amalgamate_states`` result without its tags (ignored: never stored)."""
    return result.value if type(result) is State else result
