"""Sites to benchmark, generated in a temporary directory and built with the installed perseus."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ITEM_COUNT = 50

# A page like peers.md's (a header, a nav, a list of 50 linked items, a footer; ~11 KB).
# The list markup is spelled twice, once per renderer; sites.jinja_of_catalog checks they agree.
CATALOG_APP = '''
from html import escape
from perseus import PerseusApp, Template

ITEMS = [
    {"slug": f"item-{i:02d}", "title": f"Item {i:02d}: a product with a fairly descriptive name",
     "price": f"{10 + i}.99"}
    for i in range(50)
]


def catalog_state(info):
    return {"title": "Catalogue", "count": len(ITEMS)}


def item_html(item):
    return (f'<li class="item"><a href="/items/{item["slug"]}">{escape(item["title"])}</a> '
            f'<span class="price">${item["price"]}</span> <span class="note">in stock, '
            f'ships within two working days from our warehouse</span></li>')


def catalog_view(ctx, state):
    header = f'<header><h1>{escape(state["title"])}</h1><p>Everything we sell, in one list.</p></header>'
    nav = ('<nav><a href="/">Home</a> <a href="/catalog">Catalogue</a> <a href="/about">About</a> '
           '<a href="/contact">Contact</a></nav>')
    items = "".join(item_html(item) for item in ITEMS)
    footer = '<footer><p>Example shop, 1 Example Street. All prices include VAT.</p></footer>'
    return f'{header}{nav}<main><ul class="items">{items}</ul></main>{footer}'


app = PerseusApp(templates=[
    Template("catalog", view=catalog_view, build_state=catalog_state,
             head=lambda ctx, state: "<title>Catalogue</title>"),
])
'''

JINJA_ITEM = ('<li class="item"><a href="/items/{{ item.slug }}">{{ item.title }}</a> '
              '<span class="price">${{ item.price }}</span> <span class="note">in stock, '
              'ships within two working days from our warehouse</span></li>')

SCALE_APP = '''
from perseus import PerseusApp, Template


def item_paths():
    return [str(i) for i in range({count})]


async def item_state(info):
    return {{"n": int(info.path), "title": f"Page {{info.path}}"}}


def item_view(ctx, state):
    return f"<h1>{{state['title']}}</h1><p>Page number {{state['n']}} of {count}.</p>"


app = PerseusApp(templates=[
    Template("item", view=item_view, build_paths=item_paths, build_state=item_state,
             head=lambda ctx, state: f"<title>{{state['title']}}</title>"),
])
'''


def build(site: Path) -> float:
    """``perseus build`` in ``site``; returns the wall-clock seconds of the whole command."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-P", "-m", "perseus", "build"], cwd=site,
                          capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"perseus build failed in {site}:\n{done.stdout}\n{done.stderr}")
    return seconds


def basic_site(root: Path) -> Path:
    """A built copy of examples/basic."""
    site = root / "basic"
    shutil.copytree(REPO / "examples" / "basic", site, ignore=shutil.ignore_patterns("dist", "__pycache__"))
    build(site)
    return site


def catalog_site(root: Path) -> Path:
    """A built site whose ``/catalog`` is the ~11 KB page."""
    site = root / "catalog"
    site.mkdir()
    (site / "app.py").write_text(CATALOG_APP)
    build(site)
    return site


def scale_site(root: Path, pages: int) -> Path:
    """An unbuilt site of ``pages`` build-state pages at ``/item/<n>``."""
    site = root / f"scale-{pages}"
    site.mkdir()
    (site / "app.py").write_text(SCALE_APP.format(count=pages))
    return site


def _raw(text: str) -> str:
    return "{% raw %}" + text + "{% endraw %}"


def jinja_of_post(html: str) -> tuple[str, dict[str, object]]:
    """A Jinja2 template (and its context) rendering ``html`` with the post's title as a variable."""
    head, title, tail = html.partition("<h1>The first post</h1>")
    if not title:
        raise ValueError("the post page has no '<h1>The first post</h1>' to template")
    return _raw(head) + "<h1>{{ title }}</h1>" + _raw(tail), {"title": "The first post"}


def jinja_of_catalog(html: str) -> tuple[str, dict[str, object]]:
    """A Jinja2 template rendering the catalog page's item list in a loop, plus its context."""
    match = re.search(r'<ul class="items">.*?</ul>', html)
    if match is None:
        raise ValueError("the catalog page has no item list to template")
    items = catalog_items()
    loop = '<ul class="items">{% for item in items %}' + JINJA_ITEM + "{% endfor %}</ul>"
    return _raw(html[: match.start()]) + loop + _raw(html[match.end():]), {"items": items}


def catalog_items() -> list[dict[str, str]]:
    """The catalog page's 50 items, as its Jinja2 templates take them."""
    return [{"slug": f"item-{i:02d}", "title": f"Item {i:02d}: a product with a fairly descriptive name",
             "price": f"{10 + i}.99"} for i in range(ITEM_COUNT)]


def write_template(directory: Path, name: str, template: str, context: dict[str, object]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.html").write_text(template)
    (directory / f"{name}.json").write_text(json.dumps(context))
