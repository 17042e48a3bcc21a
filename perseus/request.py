"""``Request``: what request-time state functions see of the HTTP request (never its body)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cached_property
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl


class Headers(Mapping[str, str]):
    """Request headers by case-insensitive name; a repeated header's values are joined by ``, ``."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            self._values[key] = f"{self._values[key]}, {value}" if key in self._values else value

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return self._values.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({self._values!r})"


class Request:
    """An HTTP request as state functions receive it.

    Attributes:
        method: ``"GET"`` or ``"HEAD"``.
        path: the page's decoded URL path below the base path, e.g. ``"/post/a"`` or
            ``"/fr-FR/post/a"`` (for the JSON endpoint too: the page's, not the endpoint's).
        query_string: the raw query string, without ``?``.
        headers: case-insensitive header mapping with ``.get(name)``.
    """

    def __init__(self, method: str, path: str, query_string: str,
                 header_pairs: Iterable[tuple[str, str]] | Callable[[], Iterable[tuple[str, str]]]) -> None:
        self.method = method
        self.path = path
        self.query_string = query_string
        self._header_pairs = header_pairs

    @cached_property
    def headers(self) -> Headers:
        """Headers by case-insensitive name (built on first use)."""
        pairs = self._header_pairs
        return Headers(pairs() if callable(pairs) else pairs)

    @cached_property
    def query(self) -> Mapping[str, str]:
        """Query parameters by name; the first value wins when a name repeats."""
        params: dict[str, str] = {}
        for name, value in parse_qsl(self.query_string, keep_blank_values=True):
            params.setdefault(name, value)
        return params

    @cached_property
    def cookies(self) -> Mapping[str, str]:
        """Cookies by name (an unparseable ``Cookie`` header gives none)."""
        header = self.headers.get("cookie")
        if not header:
            return {}
        jar = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            return {}
        return {name: morsel.value for name, morsel in jar.items()}

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"
