"""Tracebacks trimmed to the user's code, for the terminal and the development overlay.

A frame is the user's unless its file belongs to perseus itself (``perseus``,
``perseus_core``), the standard library, an installed package (site-packages) or the
interpreter (``<frozen importlib._bootstrap>``, ``<string>``). What is left is the code
the user wrote, usually the project's modules: the frames a traceback of a view, a state
function or an app import should show first, without click, importlib or the engine.
"""

from __future__ import annotations

import linecache
import os
import sysconfig
import traceback
from dataclasses import dataclass

import perseus_core

_DIRECTORIES = {os.path.dirname(__file__), os.path.dirname(perseus_core.__file__),
                *(sysconfig.get_paths()[name] for name in ("stdlib", "platstdlib", "purelib", "platlib"))}
# Files below these directories are never the user's (as given and with links resolved).
_FOREIGN = tuple({os.path.join(spelt(path), "") for path in _DIRECTORIES
                  for spelt in (os.path.abspath, os.path.realpath)})
CONTEXT_LINES = 3


@dataclass(frozen=True)
class Frame:
    """One line of the user's code: where it is and what it says."""

    file: str  # as shown: relative to the working directory when below it
    path: str  # absolute, to read its lines
    line: int
    function: str | None  # None for a SyntaxError's location (not a running frame)
    code: str

    def where(self) -> str:
        """``app.py:12 in post_view``."""
        location = f"{self.file}:{self.line}"
        return location if self.function is None else f"{location} in {self.function}"

    def context(self, around: int = CONTEXT_LINES) -> list[tuple[int, str]]:
        """The source lines around this one, numbered (empty when the file cannot be read)."""
        path = self.path
        first = max(1, self.line - around)
        lines = [(number, linecache.getline(path, number).rstrip("\n"))
                 for number in range(first, self.line + around + 1)]
        while lines and not lines[-1][1] and lines[-1][0] > self.line:
            lines.pop()  # past the end of the file
        return lines


def is_users(filename: str) -> bool:
    """Whether a frame of ``filename`` is the user's code (see the module's rule)."""
    if not filename or filename.startswith("<"):
        return False
    return not any(spelt(filename).startswith(_FOREIGN) for spelt in (os.path.abspath, os.path.realpath))


def user_frames(error: BaseException) -> list[Frame]:
    """The user's frames of ``error``'s traceback, outermost first, then its location if it is
    a ``SyntaxError``; from the exception it was raised from when it has none of its own.
    An exception a build worker sent has no traceback left: it carries its frames."""
    carried = getattr(error, "perseus_frames", None)
    if carried is not None and error.__traceback__ is None:
        return list(carried)
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = [_frame(summary.filename, summary.lineno, summary.name, summary.line)
                  for summary in traceback.extract_tb(current.__traceback__)
                  if is_users(summary.filename) and summary.lineno is not None]
        if isinstance(current, SyntaxError) and current.filename and current.lineno:
            frames.append(_frame(current.filename, current.lineno, None, current.text))
        if frames:
            return frames
        current = current.__cause__ or current.__context__
    return []


def user_frame(error: BaseException) -> Frame | None:
    """Where the user's code raised ``error``: its innermost user frame, or None."""
    frames = user_frames(error)
    return frames[-1] if frames else None


def describe(error: BaseException) -> str:
    """``TypeError: string indices must be integers`` (a SyntaxError without its location,
    which the frame gives)."""
    if isinstance(error, SyntaxError) and error.msg:
        return f"{type(error).__name__}: {error.msg}"
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def for_terminal(error: BaseException, indent: str = "  ") -> str:
    """The user's frame first (file, line, its code), then the rest of the user's frames
    (innermost last, as Python prints them), then the exception; no framework frames."""
    frames = frame_lines(error, indent)
    return f"{frames}\n{indent}{describe(error)}" if frames else indent + describe(error)


def frame_lines(error: BaseException, indent: str = "  ") -> str:
    """``for_terminal`` without the exception's line ("" when no frame is the user's)."""
    frames = user_frames(error)
    if not frames:
        return ""
    innermost, outer = frames[-1], frames[:-1]
    lines = [f"{indent}{innermost.where()}", f"{indent}    {innermost.code}"]
    if outer:
        lines.append(f"{indent}called from:")
        lines += [f"{indent}  {frame.where()}: {frame.code}" for frame in outer]
    return "\n".join(lines)


def _frame(filename: str, line: int, function: str | None, code: str | None) -> Frame:
    if code is None:
        code = linecache.getline(filename, line)
    return Frame(_shown(filename), os.path.abspath(filename), line, function, code.strip())


def _shown(filename: str) -> str:
    path = os.path.abspath(filename)
    cwd = os.getcwd()
    return os.path.relpath(path, cwd) if path.startswith(cwd + os.sep) else path

