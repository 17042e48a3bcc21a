"""``perseus new NAME``: a minimal project that builds and serves as it is."""

from __future__ import annotations

import re
from pathlib import Path

from .errors import PerseusError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

APP = '''"""{name}: a perseus site. `perseus serve` builds it and serves it on http://127.0.0.1:8080."""

from html import escape

from perseus import PerseusApp, Template


def index_state(info):
    return {{"greeting": "Hello from {name}"}}


def index_view(ctx, state):
    return f"<h1>{{escape(state['greeting'])}}</h1><p><a href=\\"{{ctx.link('about')}}\\">About</a></p>"


def about_view(ctx, state):
    return f"<h1>About</h1><p><a href=\\"{{ctx.link('')}}\\">Home</a></p>"


def not_found(ctx, error):
    return "<h1>Page not found</h1>"


app = PerseusApp(
    templates=[
        Template("index", view=index_view, build_state=index_state,
                 head=lambda ctx, state: "<title>{name}</title>"),
        Template("about", view=about_view, head=lambda ctx, state: "<title>About</title>"),
    ],
    error_views={{404: not_found}},
    static_dir="static",
)
'''

PYPROJECT = '''[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["perseus-web"]

[tool.perseus]
app = "app:app"
'''

GITIGNORE = "dist/\npkg/\n__pycache__/\n"


def create_project(parent: Path, name: str) -> Path:
    """Write the project ``name`` under ``parent``; refuses to touch an existing path."""
    if not _NAME.match(name):
        raise PerseusError(f"'{name}' is not a usable project name: use letters, digits, '-', '_' and '.'")
    project = parent / name
    if project.exists():
        raise PerseusError(f"{project} already exists; choose another name or remove it")
    (project / "static").mkdir(parents=True)
    (project / "app.py").write_text(APP.format(name=name))
    (project / "pyproject.toml").write_text(PYPROJECT.format(name=name))
    (project / ".gitignore").write_text(GITIGNORE)
    (project / "static" / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    return project
