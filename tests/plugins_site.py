"""The port of Perseus's ``plugins`` example: a plugin with a static alias, a console
greeting when the client starts, and work before the build; plus the first-party plugins."""

from __future__ import annotations

from pathlib import Path

PLUGINS_APP = '''\
import json
import tomllib
from pathlib import Path

from perseus import PerseusApp, Template
from perseus.plugins import Feed, HeadTags, Plugin, Sitemap

ROOT = Path(__file__).parent
CALLS = ROOT / "calls.log"


def note(what):
    with open(CALLS, "a") as log:
        log.write(what + "\\n")


class TestPlugin(Plugin):
    """As Perseus's example: a static alias, a greeting on client start, pre-build work."""

    name = "test-plugin"

    def static_aliases(self):
        return {"/pyproject.toml": "pyproject.toml"}

    def head(self, ctx):
        return f'<meta name="test-plugin" content="{ctx.template or "error"} {ctx.locale}">'

    def body_end(self, ctx):
        return '<script>console.log("Hello from the test plugin!")</script>'

    def before_build(self, app):
        # NOTE: Perseus's example parses its Cargo.toml in a tinker action: the same here.
        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
        note(f"before_build {project}")

    def after_build(self, site):
        note(f"after_build {len(site.pages)}")
        site.write("/build.json", json.dumps({"build": site.build_id}))


class Second(Plugin):
    name = "second"

    def before_build(self, app):
        note("second before_build")

    def after_build(self, site):
        note("second after_build")


POSTS = {"first": "2024-01-02", "second": "2024-03-04T10:00:00+00:00", "third": "2023-12-31"}


def post_state(info):
    return {"title": f"Post <{info.path}>", "date": POSTS[info.path]}


app = PerseusApp(
    templates=[
        Template("index", view=lambda ctx, state: "<p>Hello World!</p>",
                 head=lambda ctx, state: "<title>Index Page | Perseus Example – Plugins</title>"),
        Template("about", view=lambda ctx, state: "<p>About.</p>",
                 head=lambda ctx, state: "<title>About Page</title>"),
        Template("post", view=lambda ctx, state: "<h1>" + state["title"].replace("<", "&lt;") + "</h1>",
                 build_paths=lambda: list(POSTS), build_state=post_state),
    ],
    plugins=[
        TestPlugin(),
        Second(),
        HeadTags('<meta name="google-site-verification" content="abc123">'),
        Sitemap(base_url="https://example.com"),
        Feed(template="post", title="Posts & news", base_url="https://example.com", limit=2),
    ],
)
'''

PYPROJECT = '''\
[project]
name = "plugins-example"
version = "0.1.0"
'''


def write_plugins_site(project: Path, app_source: str = PLUGINS_APP) -> Path:
    """The example in ``project`` (created)."""
    project.mkdir(parents=True, exist_ok=True)
    (project / "app.py").write_text(app_source)
    (project / "pyproject.toml").write_text(PYPROJECT)
    return project
