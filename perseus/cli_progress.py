"""The build's progress bar: pages rendered of all, and the rate, on a terminal only.

click's own bar (click is already a dependency; see the README on why not rich). It
appears once a build has run for ``SHOW_AFTER`` seconds, so a quick build prints no bar,
and never where stdout is not a terminal (a pipe, CI, the tests' captured output).
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import click

# Builds quicker than this show no bar: it would only flicker.
SHOW_AFTER = 1.0
# PERF: redraw at most ten times a second; a 5,000-page build calls back 5,000 times.
REDRAW_EVERY = 0.1


class BuildProgress:
    """A ``progress(done, total)`` callback for ``build_site`` that draws a bar when it pays.

    Use as a context manager: leaving it ends the bar's line.
    """

    def __init__(self, stream: TextIO | None = None, *, show_after: float = SHOW_AFTER) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.show_after = show_after
        self.enabled = self.stream.isatty()
        self.started = time.monotonic()
        self._bar: Any = None
        self._drawn_at = 0.0
        self._shown = 0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total == 0:
            return
        now = time.monotonic()
        if done == 0:
            self.started = now
        elapsed = now - self.started
        if self._bar is None:
            if elapsed < self.show_after or done == total:
                return
            self._bar = click.progressbar(length=total, label="  rendering", file=self.stream,
                                          show_pos=True, show_eta=True, width=30,
                                          item_show_func=lambda rate: rate)
            self._bar.__enter__()
        if now - self._drawn_at < REDRAW_EVERY and done < total:
            return
        self._drawn_at = now
        rate = done / elapsed if elapsed > 0 else 0.0
        self._bar.update(done - self._shown, f"{rate:,.0f} pages/s")
        self._shown = done
        if done == total:  # the lines after rendering (writing, the table) start on their own line
            self.__exit__()

    def __enter__(self) -> BuildProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is None:
            return
        context = click.get_current_context(silent=True)
        if context is not None and context.color is False:
            # NOTE: click strips the escape that hides the cursor, but writes the one that
            # shows it again as it is: end the line without it (NO_COLOR: no escapes at all).
            click.echo("", file=self.stream)
        else:
            self._bar.__exit__(None, None, None)
        self._bar = None
