"""Views as Jinja2 templates: escaped by default, inheritance, heads, errors that name the file."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import jinja2
import pytest

from perseus import BuildError, ConfigurationError, PerseusApp, Template
from perseus.errors import TemplateRenderError
from perseus.testing import TestClient
from tests.conftest import Server, perseus
from tests.sites import HOSTILE_STRINGS


def write(project: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return project


LAYOUT = """\
{% block head %}<link rel="stylesheet" href="{{ static('style.css') }}">{% endblock %}
<nav><a id="home" href="{{ link('') }}">{{ t('home') }}</a> <a href="{{ link('post/a') }}">a</a></nav>
<main>{% block content %}{% endblock %}</main>
{% include "footer.html" %}
"""

SITE = {
    "app.py": """\
from perseus import Locales, PerseusApp, Template
from hostile import HOSTILE

STATE = {"joined": "".join(HOSTILE), "strings": HOSTILE}

app = PerseusApp(
    templates=[
        Template("index", template="index.html"),
        Template("hostile", template="hostile.html", build_state=lambda info: STATE),
        Template("feed.xml", template="feed.xml", build_state=lambda info: STATE),
        Template("post", template="post.html", head_template="post_head.html",
                 build_paths=lambda: ["a", "b"], build_state=lambda info: {"title": info.path.upper()}),
    ],
    error_views={404: "404.html"},
    global_state=lambda: {"site": "".join(HOSTILE)},
    locales=Locales("en-US", []),
    static_dir="static",
)
""",
    "translations/en-US.json": '{"home": "Home <&> page"}',
    "static/style.css": "body { margin: 0 }\n",
    "templates/base.html": LAYOUT,
    "templates/footer.html": '<footer id="site">{{ global_state.site }}</footer>',
    "templates/index.html": '{% extends "base.html" %}{% block content %}<h1>Index</h1>{% endblock %}',
    "templates/hostile.html": """\
{% extends "base.html" %}
{% block head %}{{ super() }}<title>{{ state.joined }}</title>{% endblock %}
{% block content %}<h1 id="page">{{ state.joined }}</h1>{% for s in state.strings %}<i>{{ s }}</i>{% endfor %}
{% endblock %}
""",
    "templates/feed.xml": "<feed><title>{{ state.joined }}</title></feed>",
    "templates/post.html": '{% extends "base.html" %}'
                           "{% block content %}<h1>{{ state.title }}</h1>{% endblock %}",
    "templates/post_head.html": '<title>Post {{ state.title }}</title><meta name="description" content="x">',
    "templates/404.html": """\
{% extends "base.html" %}{% block head %}<title>Lost: {{ error.status }}</title>{% endblock %}
{% block content %}<h1>Nothing at {{ ctx.path or "this address" }} ({{ error.status }})</h1>{% endblock %}
""",
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    project = write(tmp_path_factory.mktemp("jinja") / "site", SITE)
    (project / "hostile.py").write_text(f"HOSTILE = {HOSTILE_STRINGS!r}\n")
    with TestClient(project) as client:
        yield client


def _head(page: str) -> str:
    return page.partition("</head>")[0]


def _root(page: str) -> str:
    return page.partition('<div id="root">')[2]


def test_hostile_state_is_escaped_in_body_and_head(client: TestClient) -> None:
    page = client.get("/en-US/hostile").text
    joined = "".join(HOSTILE_STRINGS)
    assert joined not in page
    assert page.count("<script") == 3 and page.count("<img") == 0  # state, meta, runtime: nothing injected
    assert page.count("<title>") == 1
    assert "<title>&lt;/script&gt;&lt;script&gt;window.__pwned = 1" in _head(page)
    assert '<h1 id="page">&lt;/script&gt;' in _root(page)
    assert "<i>&lt;!--&lt;script&gt;</i>" in page and "<i>&amp;amp; &amp;lt;</i>" in page
    assert "<i>&#34;&#39;`</i>" in page  # quotes escaped: safe in attributes too
    assert '<footer id="site">&lt;/script&gt;' in page  # global state, through an include


def test_an_xml_template_is_escaped(client: TestClient) -> None:
    content = client.get("/.perseus/page/en-US/feed.xml.json").json()["content"]
    assert content.startswith("<feed><title>&lt;/script&gt;&lt;script&gt;window.__pwned = 1")
    assert "<script" not in content and "<img" not in content


def test_layout_include_and_helpers(client: TestClient) -> None:
    page = client.get("/en-US/post/a").text
    body = _root(page)
    assert "<h1>A</h1>" in body and '<footer id="site">' in body
    assert '<a id="home" href="/en-US">Home &lt;&amp;&gt; page</a>' in body  # t() output is text
    assert 'href="/en-US/post/a"' in body
    # head_template replaces the layout's head block, which never reaches the body
    head = _head(page)
    assert "<title>Post A</title>" in head and '<meta name="description" content="x">' in head
    assert "stylesheet" not in page
    index = client.get("/en-US/").text
    assert re.search(r'<link rel="stylesheet" href="/\.perseus/static/style\.[0-9a-f]+\.css">',
                     _head(index))
    assert "stylesheet" not in _root(index)


def test_head_block_of_the_layout_and_the_page(client: TestClient) -> None:
    head = _head(client.get("/en-US/hostile").text)
    assert head.index('rel="stylesheet"') < head.index("<title>")  # super() kept the layout's


def test_error_template_sees_error_and_gives_the_head(client: TestClient) -> None:
    missing = client.get("/en-US/nowhere")
    assert missing.status_code == 404
    assert "<title>Lost: 404</title>" in _head(missing.text)
    assert "<h1>Nothing at this address (404)</h1>" in _root(missing.text)
    assert "<nav>" in _root(missing.text)


def test_an_error_template_without_a_title_gets_the_default_one(tmp_path: Path) -> None:
    write(tmp_path, {
        "templates/base.html": '{% block head %}<meta name="description" content="d">{% endblock %}'
                               "<main>{% block content %}{% endblock %}</main>",
        "templates/index.html": '{% extends "base.html" %}',
        "templates/404.html": '{% extends "base.html" %}{% block content %}<h1>Lost</h1>{% endblock %}',
    })
    app = PerseusApp([Template("index", template="index.html")], error_views={404: "404.html"},
                     root=tmp_path)
    with TestClient(app, dist=tmp_path / "dist") as client:
        missing = client.get("/nowhere")
    head = _head(missing.text)
    assert missing.status_code == 404 and "<h1>Lost</h1>" in missing.text
    assert "<title>404 " in head and '<meta name="description" content="d">' in head


def _failed_build(tmp_path: Path, files: dict[str, str]) -> str:
    project = write(tmp_path / "site", files)
    result = perseus("build", cwd=project, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout + result.stderr


ONE_POST = """\
from perseus import PerseusApp, Template

app = PerseusApp(templates=[
    Template("post", template="post.html", build_paths=lambda: ["first"],
             build_state=lambda info: {"title": "First", "part": "part.html"}),
])
"""


def test_an_undefined_name_fails_the_build_naming_file_line_and_page(tmp_path: Path) -> None:
    output = _failed_build(tmp_path, {
        "app.py": ONE_POST,
        "templates/post.html": "<h1>{{ state.title }}</h1>\n\n<p>{{ state.titel }}</p>\n",
    })
    assert "template 'post', path 'first'" in output
    assert "templates/post.html, line 3: 'dict object' has no attribute 'titel'" in output


def test_a_failing_include_named_at_render_names_its_own_file(tmp_path: Path) -> None:
    output = _failed_build(tmp_path, {
        "app.py": ONE_POST,
        "templates/post.html": "<h1>{{ state.title }}</h1>\n{% include state.part %}\n",
        "templates/part.html": "<p>\n{{ nope }}</p>\n",
    })
    assert "template 'post', path 'first'" in output
    assert "templates/part.html, line 2: 'nope' is undefined" in output
    output = _failed_build(tmp_path / "missing", {
        "app.py": ONE_POST.replace('"part.html"', '"gone.html"'),
        "templates/post.html": "<h1>{{ state.title }}</h1>\n{% include state.part %}\n",
    })
    assert "template 'post', path 'first'" in output
    assert "templates/post.html, line 2: template file 'gone.html' not found in templates/" in output


def test_a_render_error_carries_its_file_and_line(tmp_path: Path) -> None:
    """For tools that show the template's source around the line (the dev overlay)."""
    write(tmp_path, {"templates/post.html": "<h1>\n{{ nope }}</h1>\n"})
    app = PerseusApp([Template("post", template="post.html")], root=tmp_path)
    with pytest.raises(BuildError) as raised:
        TestClient(app, dist=tmp_path / "dist")
    error = raised.value.failures[0].error
    assert isinstance(error, TemplateRenderError)
    assert (error.file, error.line) == ((tmp_path / "templates" / "post.html").resolve(), 2)
    assert str(error) == "templates/post.html, line 2: 'nope' is undefined"


def test_a_syntax_error_or_a_missing_include_fails_at_once(tmp_path: Path) -> None:
    """What can be known without rendering is a ConfigurationError when the app is made."""
    output = _failed_build(tmp_path / "syntax", {
        "app.py": ONE_POST,
        "templates/post.html": '{% extends "base.html" %}',
        "templates/base.html": "<nav></nav>\n{% block content %}{% endblok %}\n",
    })
    assert "template 'post': templates/base.html, line 2:" in output and "endblok" in output
    output = _failed_build(tmp_path / "include", {
        "app.py": ONE_POST,
        "templates/post.html": "<h1>{{ state.title }}</h1>\n\n{% include 'nav.html' %}\n",
    })
    assert ("template 'post': templates/post.html, line 3: template file 'nav.html' not found in"
            " templates/") in output


def test_a_missing_template_file_or_directory_is_refused_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="templates_dir 'templates' is not a directory"):
        PerseusApp([Template("post", template="post.html")], root=tmp_path)
    write(tmp_path, {"templates/other.html": ""})
    with pytest.raises(ConfigurationError, match="template 'post': template file 'post.html' not found"
                                                 " in templates/"):
        PerseusApp([Template("post", template="post.html")], root=tmp_path)
    with pytest.raises(ConfigurationError, match="error view 404: template file '404.html' not found"):
        PerseusApp([Template("index", view=lambda ctx, state: "")], error_views={404: "404.html"},
                   root=tmp_path)
    with pytest.raises(ConfigurationError, match="must be a file name inside templates/"):
        Template("post", template="../app.py")


def test_view_and_template_are_one_or_the_other() -> None:
    with pytest.raises(ConfigurationError, match="template= .* or view= .*, not both"):
        Template("post", template="post.html", view=lambda ctx, state: "")
    with pytest.raises(ConfigurationError, match="has no view: pass template='post.html'"):
        Template("post")
    with pytest.raises(ConfigurationError, match="head_template= or head=, not both"):
        Template("post", template="post.html", head_template="h.html", head=lambda ctx, state: "")


def test_templates_are_compiled_once_per_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: Counter[str] = Counter()
    compile_source = jinja2.Environment.compile

    def counting(self: jinja2.Environment, source: Any, name: str | None = None, *args: Any,
                 **kwargs: Any) -> Any:
        compiled[str(name)] += 1
        return compile_source(self, source, name, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    write(tmp_path, {
        "templates/base.html": "<nav></nav>{% block content %}{% endblock %}{% include 'foot.html' %}",
        "templates/foot.html": "<footer></footer>",
        "templates/post.html": '{% extends "base.html" %}{% block content %}{{ state.n }}{% endblock %}',
        "templates/now.html": '{% extends "base.html" %}{% block content %}{{ state.q }}{% endblock %}',
    })
    app = PerseusApp([
        Template("post", template="post.html", build_paths=lambda: [str(n) for n in range(20)],
                 build_state=lambda info: {"n": info.path}),
        Template("now", template="now.html", request_state=lambda info, request: {"q": request.query}),
    ], root=tmp_path)
    with TestClient(app) as client:
        for n in range(5):
            assert client.get(f"/now?n={n}").status_code == 200
        assert client.get("/post/7").text.count("<footer></footer>") == 1
    assert compiled == {"base.html": 1, "foot.html": 1, "post.html": 1, "now.html": 1}


SERVED = """\
from perseus import NotFound, PerseusApp, Template


def now_state(info, request):
    return {"who": request.query.get("who", "nobody")}


def post_state(info):
    if info.path == "missing":
        raise NotFound()
    return {"title": info.path}


app = PerseusApp(templates=[
    Template("index", template="index.html"),
    Template("now", template="now.html", request_state=now_state),
    Template("post", template="post.html", build_paths=lambda: ["built"], build_state=post_state,
             incremental=True),
    Template("broken", template="broken.html", request_state=lambda info, request: {"x": 1}),
], error_views={404: "404.html"})
"""


def test_request_time_templates_through_granian(tmp_path: Path) -> None:
    project = write(tmp_path / "site", {
        "app.py": SERVED,
        "templates/base.html": "{% block head %}<title>site</title>{% endblock %}<nav>nav</nav>"
                               "<main>{% block content %}{% endblock %}</main>",
        "templates/index.html": '{% extends "base.html" %}',
        "templates/now.html": '{% extends "base.html" %}{% block head %}<title>{{ state.who }}</title>'
                              '{% endblock %}{% block content %}<p>{{ state.who }}</p>{% endblock %}',
        "templates/post.html": '{% extends "base.html" %}{% block content %}<h1>{{ state.title }}</h1>'
                               "{% endblock %}",
        "templates/broken.html": "<p>fine</p>\n<p>{{ state.y }}</p>\n",
        "templates/404.html": '{% extends "base.html" %}{% block content %}<h1>Not here</h1>{% endblock %}',
    })
    perseus("build", cwd=project)
    server = Server(project)
    try:
        now = server.get("/now", params={"who": "<b>Ann</b>"})
        assert now.status_code == 200 and now.headers["cache-control"] == "private, no-store"
        assert "<p>&lt;b&gt;Ann&lt;/b&gt;</p>" in now.text and "<title>&lt;b&gt;Ann" in now.text
        generated = server.get("/post/new<x>")
        assert generated.status_code == 200 and "<h1>new&lt;x&gt;</h1>" in generated.text
        assert server.get("/post/missing").status_code == 404
        assert "<h1>Not here</h1>" in server.get("/post/missing").text
        broken = server.get("/broken")
        assert broken.status_code == 500
        assert "Traceback" not in broken.text and "state.y" not in broken.text
        assert "broken.html" not in broken.text
    finally:
        server.close()
    log = server.log.read_text()
    assert "templates/broken.html, line 2: 'dict object' has no attribute 'y'" in log
