"""``perseus.tracebacks``: which frames are the user's, and the terminal's order."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from perseus.tracebacks import for_terminal, is_users, user_frame, user_frames

HERE = os.path.relpath(__file__)


def hook(pairs: dict[str, object]) -> object:
    return pairs["missing"]  # raises KeyError from inside json's decoder


def raised(function: object, *args: object) -> BaseException:
    with pytest.raises(Exception) as caught:
        function(*args)  # type: ignore[operator]
    return caught.value


def test_frames_of_the_stdlib_and_perseus_are_not_the_users() -> None:
    import perseus

    assert not is_users(json.__file__)
    assert not is_users(perseus.__file__)
    assert not is_users("<frozen importlib._bootstrap>")
    assert is_users(__file__)


def test_only_the_users_frames_are_kept_innermost_last() -> None:
    error = raised(lambda: json.loads('{"a": 1}', object_hook=hook))
    frames = user_frames(error)
    assert [frame.function for frame in frames] == ["raised", "<lambda>", "hook"]
    assert all(frame.file == HERE for frame in frames)
    innermost = user_frame(error)
    assert innermost is not None and innermost.code.startswith('return pairs["missing"]')
    terminal = for_terminal(error)
    assert terminal.splitlines()[0] == f"  {HERE}:{innermost.line} in hook"
    assert terminal.splitlines()[-1] == "  KeyError: 'missing'"
    assert "json/" not in terminal  # no frame of the json package (json/decoder.py...)


def test_a_syntax_error_is_located_at_its_line_with_the_lines_around(tmp_path: Path) -> None:
    source = tmp_path / "broken.py"
    source.write_text("one = 1\ntwo = (\nthree = 3\n")
    error = raised(compile, source.read_text(), str(source), "exec")
    frame = user_frame(error)
    assert frame is not None and frame.function is None
    assert (frame.line, frame.code) == (2, "two = (")
    assert frame.context() == [(1, "one = 1"), (2, "two = ("), (3, "three = 3")]
    assert for_terminal(error).splitlines()[-1] == "  SyntaxError: '(' was never closed"
