"""The i18n example: every page in en-US and fr-FR, Fluent translations, localised errors."""

from __future__ import annotations

from html import escape

from perseus import BuildPaths, Locales, PerseusApp, Template

POSTS = ["first", "second"]
NAV = [("", "nav-home"), ("about", "nav-about"), ("post", "nav-posts")]


def layout(ctx, body: str) -> str:
    """The frame of every page: a header with navigation and the other locale, the page, a footer."""
    other = "fr-FR" if ctx.locale == "en-US" else "en-US"
    section = ctx.path.partition("/")[0] if ctx.template else None  # None on error pages
    current = ' aria-current="page"'
    links = "".join(
        f'<a href="{ctx.link(path)}"{current if path == section else ""}>{escape(ctx.t(message_id))}</a>'
        for path, message_id in NAV
    )
    language = f'<a href="{ctx.base_path}/{other}/{ctx.path}" hreflang="{other}" lang="{other}">{other}</a>'
    return (
        f'<header class="site-header"><a class="brand" href="{ctx.link("")}">{escape(ctx.t("site-name"))}</a>'
        f"<nav>{links}{language}</nav></header>"
        f"<main>{body}</main>"
        f'<footer class="site-footer"><p>{escape(ctx.t("site-footer"))}</p></footer>'
    )


def post_list(ctx) -> str:
    items = "".join(
        f'<li><a href="{ctx.link("post/" + slug)}">{escape(ctx.t("post-title", slug=slug))}</a></li>'
        for slug in POSTS
    )
    return f'<ul class="cards">{items}</ul>'


def index_state(info):
    # State functions see the locale they build for.
    return {"visitor": "Ada", "built_for": info.locale}


def index_view(ctx, state) -> str:
    greeting = ctx.t("greeting", name=state["visitor"])
    count = ctx.t("post-count", count=len(POSTS))
    return layout(ctx, f'<h1>{escape(greeting)}</h1><p>{escape(count)}</p>{post_list(ctx)}')


def about_view(ctx, state) -> str:
    return layout(ctx, f"<h1>{escape(ctx.t('about-title'))}</h1><p>{escape(ctx.t('about-body'))}</p>")


def post_paths():
    return BuildPaths(["", *POSTS])


def post_state(info):
    return {"slug": info.path, "locale": info.locale}


def post_view(ctx, state) -> str:
    if not state["slug"]:
        return layout(ctx, f'<h1>{escape(ctx.t("nav-posts"))}</h1>{post_list(ctx)}')
    return layout(ctx, f"<h1>{escape(ctx.t('post-title', slug=state['slug']))}</h1>"
                       f"<p>{escape(ctx.t('post-body'))}</p>")


def head(ctx, title: str) -> str:
    """The head of every page: its title, the site's description and stylesheet."""
    return (f"<title>{escape(title)}</title>"
            f'<meta name="description" content="{escape(ctx.t("site-description"))}">'
            f'<link rel="stylesheet" href="{ctx.static("style.css")}">')


def title(message_id):
    return lambda ctx, state: head(ctx, ctx.t(message_id))


def not_found(ctx, error) -> str:
    return layout(ctx, f"<h1>{escape(ctx.t('not-found'))}</h1>"
                       f'<p><a href="{ctx.link("")}">{escape(ctx.t("back-home"))}</a></p>')


app = PerseusApp(
    templates=[
        Template("index", view=index_view, build_state=index_state, head=title("nav-home")),
        Template("about", view=about_view, head=title("about-title")),
        Template("post", view=post_view, build_paths=post_paths, build_state=post_state,
                 head=title("nav-posts")),
    ],
    locales=Locales("en-US", ["fr-FR"]),
    error_views={404: not_found},
    error_head=lambda ctx, error: head(ctx, ctx.t("error-title")),
    static_dir="static",
    # Files at fixed URLs are not localised: /robots.txt is never redirected.
    static_aliases={"/robots.txt": "static/robots.txt"},
)
