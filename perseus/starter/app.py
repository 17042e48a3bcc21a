"""__project__: a perseus site.

`perseus serve --watch` builds it, serves it on http://127.0.0.1:8080 and rebuilds it on
every save. Pages are the Jinja2 files of templates/ (values are escaped for you); their
state comes from the functions below.
"""

from perseus import BuildPaths, NotFound, PerseusApp, Template

from posts import POSTS, newest_first


def site_state():
    """Given to every template as `global_state`."""
    return {"name": "__project__"}


def index_state(info):
    return {"latest": newest_first()[:3]}


def post_paths():
    # "" is /posts, the list; every other path is one post, /posts/<slug>.
    return BuildPaths(["", *POSTS])


def post_state(info):
    if info.path == "":
        return {"posts": newest_first()}
    if info.path not in POSTS:
        raise NotFound()
    return {"post": POSTS[info.path] | {"slug": info.path}}


app = PerseusApp(
    templates=[
        Template("index", template="index.html", build_state=index_state),
        Template("posts", template="posts.html", build_paths=post_paths, build_state=post_state),
        Template("about", template="about.html"),
    ],
    error_views={404: "404.html"},
    global_state=site_state,
    static_dir="static",
    static_aliases={"/robots.txt": "static/robots.txt"},
)
