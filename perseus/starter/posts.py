"""The site's posts. Edit them here, or read them from files or a CMS in `post_state`."""

POSTS = {
    "hello-world": {
        "title": "Hello, world",
        "date": "2026-01-05",
        "summary": "The first post of this site, and what comes next.",
        "body": [
            "This site was made with perseus new. Each page is a Jinja2 template in templates/,"
            " rendered once at build time and served as plain HTML.",
            "Edit this post in posts.py; with perseus serve --watch the page reloads when you save.",
        ],
    },
    "rendering-strategies": {
        "title": "Build time, request time, or both",
        "date": "2026-01-12",
        "summary": "Every template picks when its pages are rendered.",
        "body": [
            "These posts are rendered when the site is built. A template with request_state is"
            " rendered on every request instead; revalidate_after renders it again in the"
            " background once its time is up; incremental=True renders a new path on its first"
            " request and keeps it.",
        ],
    },
}


def newest_first():
    """Every post with its slug, the newest first."""
    posts = [post | {"slug": slug} for slug, post in POSTS.items()]
    return sorted(posts, key=lambda post: post["date"], reverse=True)
