"""Whether a user function can be called the way perseus calls it, checked when the app is made.

A ``request_state`` with one parameter would otherwise build and then answer 500 on
every request; here it is a ``ConfigurationError`` naming the template, the field and
the parameters perseus passes. Anything ``inspect.signature`` can read is checked
(plain and async functions, lambdas, ``functools.partial``, bound methods, objects with
``__call__``, ``*args``/``**kwargs``, defaults); a callable without a readable
signature (some builtins and C extensions) is accepted as it is.
"""

from __future__ import annotations

import inspect

from .errors import ConfigurationError

# How perseus calls each user function: always positionally, with these arguments.
PARAMETERS: dict[str, tuple[str, ...]] = {
    "view": ("ctx", "state"),
    "head": ("ctx", "state"),
    "set_headers": ("ctx", "state"),
    "build_paths": (),
    "build_state": ("info",),
    "request_state": ("info", "request"),
    "amalgamate_states": ("info", "build", "request"),
    "should_revalidate": ("info", "request"),
    "error view": ("ctx", "error"),
    "error_head": ("ctx", "error"),
    "global_state": (),
    "request_global_state": ("request",),
    "amalgamate_global_states": ("build", "request"),
}


def check_parameters(function: object, kind: str, where: str, *, template: str | None = None) -> None:
    """Refuse ``function`` if it cannot be called as perseus calls a ``kind`` (a key of ``PARAMETERS``).

    ``where`` names the field it was given as (``"template 'post': request_state"``,
    ``"PerseusApp: error_views[404]"``).

    Raises:
        ConfigurationError: naming the field, the parameters the function takes and the
            ones perseus passes.
    """
    expected = PARAMETERS[kind]
    try:
        signature = inspect.signature(function)  # type: ignore[arg-type]
    except (TypeError, ValueError):  # NOTE: no signature to read (a builtin): trust it
        return
    try:
        signature.bind(*expected)
    except TypeError:
        wanted = f"({', '.join(expected)})"
        name = getattr(function, "__name__", type(function).__name__)
        takes = signature.replace(return_annotation=inspect.Signature.empty)
        raise ConfigurationError(
            f"{where} is called with {len(expected)} argument(s) {wanted}, but {name}{takes}"
            f" cannot take them; give it the parameters {wanted}",
            template=template,
        ) from None
