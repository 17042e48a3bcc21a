"""The development error overlay of ``perseus serve --watch``: what failed, where, in HTML.

Used only in watch mode (``Settings.dev_reload``): for a request whose user code raised
(the 500 answer is the overlay's document), for a build that failed (pushed over the
live-reload stream onto the open page, see ``perseus.server.dev_events``), and for a
first build that failed (the answer to every request until a build succeeds). A
production server never renders it: its 500 stays the site's error page.

Every text here comes from an exception or a source file: all of it is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from .tracebacks import Frame, describe, user_frames

OVERLAY_ID = "perseus-dev-overlay"
_STYLE = (
    "position:fixed;inset:0;z-index:2147483647;overflow:auto;box-sizing:border-box;margin:0;"
    "padding:2rem;background:#18181b;color:#f4f4f5;font:14px/1.5 ui-monospace,Menlo,Consolas,monospace"
)
_MARK = ";background:#7f1d1d;color:#fff"
_DIM = "color:#a1a1aa"


def section(heading: str, error: BaseException) -> str:
    """One failure: ``heading`` (what failed), the exception, the user's line with the lines
    around it, and the user's frames of the traceback (outermost first)."""
    frames = user_frames(error)
    parts = [f"<section><h2 style=\"font-size:1.05rem;margin:1.5rem 0 .25rem\">{escape(heading)}</h2>",
             f"<pre style=\"white-space:pre-wrap;color:#fca5a5;margin:0\">{escape(describe(error))}</pre>"]
    if frames:
        parts.append(_source(frames[-1]))
    if len(frames) > 1:
        parts.append(f"<p style=\"{_DIM};margin:.75rem 0 0\">traceback (your code only, innermost last)</p>"
                     "<ol style=\"margin:.25rem 0;padding-left:1.5rem\">")
        parts += [f"<li><b>{escape(frame.where())}</b> <code>{escape(frame.code)}</code></li>"
                  for frame in frames]
        parts.append("</ol>")
    parts.append("</section>")
    return "".join(parts)


def _source(frame: Frame) -> str:
    lines = frame.context()
    width = len(str(lines[-1][0])) if lines else 1
    shown = "".join(f"<span style=\"display:block{_MARK if number == frame.line else ''}\">"
                    f"{number:>{width}} | {escape(code)}</span>" for number, code in lines)
    return (f"<p style=\"margin:.75rem 0 0\"><b>{escape(frame.where())}</b></p>"
            f"<pre style=\"background:#27272a;padding:.75rem;margin:.25rem 0;overflow:auto\">{shown}</pre>")


def overlay(title: str, note: str, sections: Sequence[str]) -> str:
    """The overlay: a fixed layer over the page, ``title`` and ``note`` above the sections."""
    return (f"<div id=\"{OVERLAY_ID}\" role=\"alertdialog\" aria-labelledby=\"{OVERLAY_ID}-title\""
            f" style=\"{_STYLE}\"><h1 id=\"{OVERLAY_ID}-title\" style=\"color:#f87171;font-size:1.3rem;"
            f"margin:0\">{escape(title)}</h1><p style=\"{_DIM};margin:.25rem 0 0\">{escape(note)}</p>"
            + "".join(sections) + "</div>")


def document(title: str, body: str, script: str = "") -> str:
    """A whole page holding ``body`` (an overlay) and ``script``."""
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>"
            f"<body><main>{body}</main>{script}</body></html>")


def request_overlay(page: str, error: BaseException, script: str = "") -> str:
    """The 500 answer's document in watch mode: ``page`` ('/post/a') failed with ``error``."""
    title = f"{type(error).__name__} on /{page.lstrip('/')}"
    note = "raised while answering this request; fix it and save: the page reloads on the next good build"
    return document(title, overlay(title, note, [section(f"page '/{page.lstrip('/')}'", error)]), script)


def build_overlay(sections: Sequence[str]) -> str:
    """The overlay of a failed build (``sections``: one per failure)."""
    return overlay("Build failed", "the last good build is still served; fix the error and save:"
                   " this goes away on the next good build", sections)
