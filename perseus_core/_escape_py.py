"""Pure-Python twin of ``_escape_c``: HTML text escaping and script-safe JSON."""

from __future__ import annotations

from .errors import wrong_type

_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})


def escape_html(text: str) -> str:
    """Escape text for an HTML text node or a quoted attribute value.

    Raises:
        TypeError: ``text`` is not ``str``.
    """
    if not isinstance(text, str):
        raise wrong_type("text", "str", text)
    return text.translate(_HTML)


def escape_script_json(data: bytes) -> bytes:
    """Make UTF-8 JSON inert inside a ``<script>`` element.

    ``<``, ``>`` and ``&`` become ``\\u003c``, ``\\u003e`` and ``\\u0026``, so the HTML
    parser never sees ``</script`` or ``<!--``; U+2028 and U+2029 become escapes, as
    JavaScript before ES2019 treats them as line ends. Applied after serialising, so
    it holds whichever serialiser produced the JSON. ``JSON.parse`` gives back the
    same value.

    Raises:
        TypeError: ``data`` is not ``bytes`` (a ``bytearray`` or ``memoryview`` neither).
    """
    if not isinstance(data, bytes):
        raise wrong_type("data", "bytes", data)
    if (
        b"<" not in data
        and b">" not in data
        and b"&" not in data
        and b"\xe2\x80\xa8" not in data
        and b"\xe2\x80\xa9" not in data
    ):
        return data
    return (
        data.replace(b"<", b"\\u003c")
        .replace(b">", b"\\u003e")
        .replace(b"&", b"\\u0026")
        .replace(b"\xe2\x80\xa8", b"\\u2028")
        .replace(b"\xe2\x80\xa9", b"\\u2029")
    )
