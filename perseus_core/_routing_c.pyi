from collections.abc import Mapping, Sequence

PAGE: int
INCREMENTAL: int
NOT_FOUND: int
NO_LOCALE: int

class Router:
    pages: dict[str, int]
    incremental: dict[str, int]
    locales: tuple[str, ...]
    def __init__(self, pages: Mapping[str, int], incremental: Mapping[str, int],
                 locales: Sequence[str] = ()) -> None: ...
    def match(self, key: str) -> tuple[int, int]: ...
    def resolve(self, path: str) -> tuple[int, int, int]: ...
