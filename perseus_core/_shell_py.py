"""Pure-Python twin of ``_shell_c``: the HTML shell split once, then joined with each page's parts."""

from __future__ import annotations

from .errors import wrong_type

DEFAULT_DOCUMENT = (
    "<!DOCTYPE html>\n"
    '<html><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    '</head><body><div id="root"></div></body></html>\n'
)
ROOT_OPEN = '<div id="root">'
HEAD_BOUNDARY = b'<meta itemprop="__perseus_head_boundary" content="">'
HEAD_END = b'<meta itemprop="__perseus_head_end" content="">'
STATE_OPEN = b'<script id="__perseus_state" type="application/json">'


STATE_REFUSED = "this shell embeds no state: pass b\"\" as escaped_state"


class ShellError(ValueError):
    """A custom HTML shell without the markers pages are inserted at."""


def split_document(document: str, scripts: str, embeds_state: bool = True,
                   ) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """The five constant pieces of every page, in order (shared by both twins).

    Without ``embeds_state`` there is no state script: the page's state goes nowhere.

    Raises:
        ShellError: a marker is missing or out of order.
        TypeError: ``document`` or ``scripts`` is not ``str``.
    """
    check_types(("document", document, str), ("scripts", scripts, str), ("embeds_state", embeds_state, bool))
    html_at = document.find("<html")
    head_end = document.find("</head>")
    root_at = document.find(ROOT_OPEN)
    body_end = document.rfind("</body>")
    for marker, at in (("<html", html_at), ("</head>", head_end),
                       (ROOT_OPEN, root_at), ("</body>", body_end)):
        if at < 0:
            raise ShellError(f"the HTML shell has no {marker}")
    if not html_at < head_end < root_at < body_end:
        raise ShellError('the HTML shell needs <html, </head>, <div id="root"> and </body> in that order')
    root_end = root_at + len(ROOT_OPEN)
    state_open, state_close = (STATE_OPEN, b"</script>") if embeds_state else (b"", b"")
    return (
        document[: html_at + len("<html")].encode(),
        document[html_at + len("<html") : head_end].encode() + HEAD_BOUNDARY,
        HEAD_END + document[head_end:root_end].encode(),
        document[root_end:body_end].encode() + state_open,
        state_close + scripts.encode() + document[body_end:].encode(),
    )


def check_types(*arguments: tuple[str, object, type]) -> None:
    """Refuse an argument that is not of its type, as Cython's typed arguments would
    (but taking subclasses). Shared by both twins."""
    for name, value, expected in arguments:
        if not isinstance(value, expected):
            raise wrong_type(name, expected.__name__, value)


class Shell:
    """An HTML document split at the points where a page's parts go.

    The document needs ``<html``, ``</head>``, ``<div id="root">`` and ``</body>``,
    in that order. ``scripts`` is HTML put before ``</body>`` after the state.
    ``embeds_state=False`` leaves the state script out: pages then pass ``b""`` as
    their state (``page`` refuses anything else, which would land as stray text).
    """

    def __init__(self, document: str, scripts: str, embeds_state: bool = True) -> None:
        (self.before_lang, self.before_head, self.before_content, self.before_state,
         self.after_state) = split_document(document, scripts, embeds_state)
        self.embeds_state = embeds_state

    def page(self, lang: str, head: str, content: str, escaped_state: bytes) -> bytes:
        """The whole page: ``escaped_state`` must already be script-safe JSON.

        Raises:
            TypeError: ``escaped_state`` is not ``bytes``, or another part not ``str``.
            ValueError: a state for a shell made with ``embeds_state=False``.
        """
        check_types(("lang", lang, str), ("head", head, str), ("content", content, str),
                    ("escaped_state", escaped_state, bytes))
        if escaped_state and not self.embeds_state:
            raise ValueError(STATE_REFUSED)
        lang_attr = f' lang="{lang}"'.encode() if lang else b""
        return b"".join((
            self.before_lang, lang_attr, self.before_head, head.encode(),
            self.before_content, content.encode(), self.before_state, escaped_state,
            self.after_state,
        ))
