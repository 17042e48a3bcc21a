"""A user function perseus could not call as it calls that field is refused when the app is made."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from perseus import PerseusApp, Template
from perseus.errors import ConfigurationError


def view(ctx: Any, state: Any) -> str:
    return "<p>ok</p>"


def one(a: Any) -> Any:
    return None


def two(a: Any, b: Any) -> Any:
    return None


def none() -> Any:
    return None


# field -> (the parameters perseus passes, a function with one too many or too few)
TEMPLATE_FIELDS = {
    "view": ("(ctx, state)", one),
    "head": ("(ctx, state)", one),
    "set_headers": ("(ctx, state)", none),
    "build_paths": ("()", one),
    "build_state": ("(info)", two),
    "request_state": ("(info, request)", one),
    "amalgamate_states": ("(info, build, request)", two),
    "should_revalidate": ("(info, request)", one),
}
APP_FIELDS = {
    "error_head": ("(ctx, error)", one),
    "global_state": ("()", one),
    "request_global_state": ("(request)", none),
    "amalgamate_global_states": ("(build, request)", one),
}


def template(**fields: Any) -> Template:
    fields.setdefault("view", view)
    if "amalgamate_states" in fields:
        fields.update(build_state=one, request_state=two)
    return Template("post", **fields)


@pytest.mark.parametrize("field", list(TEMPLATE_FIELDS))
def test_a_template_function_with_the_wrong_parameters_is_refused(field: str) -> None:
    expected, wrong = TEMPLATE_FIELDS[field]
    with pytest.raises(ConfigurationError) as raised:
        template(**{field: wrong})
    message = str(raised.value)
    assert message.startswith(f"template 'post': {field} is called with")
    assert f"give it the parameters {expected}" in message and wrong.__name__ in message
    assert raised.value.template == "post"


@pytest.mark.parametrize("field", list(APP_FIELDS))
def test_an_app_function_with_the_wrong_parameters_is_refused(field: str) -> None:
    expected, wrong = APP_FIELDS[field]
    with pytest.raises(ConfigurationError, match=rf"^PerseusApp: {field} is called with .*"
                                                 rf"give it the parameters \({expected[1:-1]}\)$"):
        PerseusApp([template()], **{field: wrong})


def test_an_error_view_with_the_wrong_parameters_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"^PerseusApp: error_views\[404\] is called with 2 .*"
                                                 r"one\(a: 'Any'\) cannot take them; give it the parameters"
                                                 r" \(ctx, error\)$"):
        PerseusApp([template()], error_views={404: one})


def test_a_keyword_only_parameter_without_default_is_refused() -> None:
    def state(info: Any, *, source: str) -> Any:
        return None

    with pytest.raises(ConfigurationError, match="build_state"):
        template(build_state=state)


class Views:
    def view(self, ctx: Any, state: Any) -> str:
        return ""

    def __call__(self, info: Any) -> Any:
        return None


async def async_state(info: Any, request: Any) -> Any:
    return None


def test_every_form_perseus_can_call_passes() -> None:
    views = Views()
    template(view=lambda ctx, state: "", head=lambda *args: "", set_headers=lambda ctx, state, extra=1: {},
             build_paths=lambda *, limit=10: [], build_state=views, request_state=async_state,
             should_revalidate=lambda *args, **kwargs: True, revalidate_after="1h")
    template(view=views.view, build_state=functools.partial(two, "bound"),
             request_state=lambda info, request, *rest: None,
             amalgamate_states=lambda info, build, request: None)
    # print: a builtin with no signature to read
    template(view=functools.partial(lambda prefix, ctx, state: prefix, "x"), build_state=print)
    PerseusApp([template()], error_views={404: view, 500: lambda ctx, *rest: ""},
               error_head=functools.partial(lambda ctx, error, extra: "", extra=1),
               global_state=lambda: None, request_global_state=lambda request, *rest: None,
               amalgamate_global_states=lambda build, request=None: None)
