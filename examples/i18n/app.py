"""The i18n example: every page in en-US and fr-FR, Fluent translations, localised errors."""

from __future__ import annotations

from html import escape

from perseus import BuildPaths, Locales, PerseusApp, Template

POSTS = ["first", "second"]


def layout(ctx, body: str) -> str:
    other = "fr-FR" if ctx.locale == "en-US" else "en-US"
    nav = (
        f'<nav><a href="{ctx.link("")}">{escape(ctx.t("nav-home"))}</a> '
        f'<a href="{ctx.link("about")}">{escape(ctx.t("nav-about"))}</a> '
        f'<a href="{ctx.link("post")}">{escape(ctx.t("nav-posts"))}</a> '
        f'<a href="{ctx.base_path}/{other}/{ctx.path}" hreflang="{other}">{other}</a></nav>'
    )
    return f"{nav}<main>{body}</main>"


def index_state(info):
    # State functions see the locale they build for.
    return {"visitor": "Ada", "built_for": info.locale}


def index_view(ctx, state) -> str:
    greeting = ctx.t("greeting", name=state["visitor"])
    count = ctx.t("post-count", count=len(POSTS))
    return layout(ctx, f"<h1>{escape(greeting)}</h1><p>{escape(count)}</p>")


def about_view(ctx, state) -> str:
    return layout(ctx, f"<h1>{escape(ctx.t('about-title'))}</h1><p>{escape(ctx.t('about-body'))}</p>")


def post_paths():
    return BuildPaths(["", *POSTS])


def post_state(info):
    return {"slug": info.path, "locale": info.locale}


def post_view(ctx, state) -> str:
    if not state["slug"]:
        items = "".join(
            f'<li><a href="{ctx.link("post/" + slug)}">{escape(ctx.t("post-title", slug=slug))}</a></li>'
            for slug in POSTS
        )
        return layout(ctx, f"<h1>{escape(ctx.t('nav-posts'))}</h1><ul>{items}</ul>")
    return layout(ctx, f"<h1>{escape(ctx.t('post-title', slug=state['slug']))}</h1>")


def title(message_id):
    return lambda ctx, state: f"<title>{escape(ctx.t(message_id))}</title>"


def not_found(ctx, error) -> str:
    return layout(ctx, f"<h1>{escape(ctx.t('not-found'))}</h1>")


app = PerseusApp(
    templates=[
        Template("index", view=index_view, build_state=index_state, head=title("nav-home")),
        Template("about", view=about_view, head=title("about-title")),
        Template("post", view=post_view, build_paths=post_paths, build_state=post_state,
                 head=title("nav-posts")),
    ],
    locales=Locales("en-US", ["fr-FR"]),
    error_views={404: not_found},
    error_head=lambda ctx, error: f"<title>{escape(ctx.t('error-title'))}</title>",
    # Files at fixed URLs are not localised: /robots.txt is never redirected.
    static_aliases={"/robots.txt": "static/robots.txt"},
)
