"""The build's link check: a ctx.link() to a path no template serves warns, or with --strict fails."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import free_port, perseus, tree

SITE = '''
from perseus import PerseusApp, Template

GOOD = ["", "about", "about/", "about#team", "about?x=1", "/about", "post/1", "post/h%C3%A9llo", "post/héllo",
        "docs/any/page/below", "docs", "robots.txt", "legacy", "api", "api/users", ".perseus/static/x.css"]


def home(ctx, state):
    return "".join(f'<a href="{{ctx.link(path)}}">{{path}}</a>' for path in GOOD + {broken})


def post(ctx, state):
    return f'<a href="{{ctx.link("abuot")}}">about</a>'


async def api(scope, receive, send):
    await send({{"type": "http.response.start", "status": 200, "headers": []}})
    await send({{"type": "http.response.body", "body": b"api"}})


app = PerseusApp(
    templates=[
        Template("index", view=home),
        Template("about", view=lambda ctx, state: "<h1>About</h1>"),
        Template("post", view=post, build_paths=lambda: ["1", "2", "héllo"]),
        Template("docs", view=lambda ctx, state: "<p>docs</p>", incremental=True),
    ],
    error_views={{404: lambda ctx, error: f'<a href="{{ctx.link("hme")}}">home</a>'}},
    static_aliases={{"/robots.txt": "robots.txt"}},
    redirects={{"/legacy": "/about"}},
    mounts={{"/api": api}},
)
'''
I18N = '''
from perseus import Locales, PerseusApp, Template


def home(ctx, state):
    return "".join(f'<a href="{ctx.link(path)}">{path}</a>' for path in ("about", "", "abuot"))


app = PerseusApp(templates=[Template("index", view=home), Template("about", view=lambda ctx, state: "a")],
                 locales=Locales("en-US", ["fr-FR"]))
'''


def site(tmp_path: Path, broken: list[str]) -> Path:
    project = tmp_path / "links"
    project.mkdir()
    (project / "app.py").write_text(SITE.format(broken=broken))
    (project / "robots.txt").write_text("User-agent: *\n")
    return project


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def test_links_to_what_the_site_serves_pass(tmp_path: Path) -> None:
    project = site(tmp_path, [])
    (project / "app.py").write_text((project / "app.py").read_text().replace('"abuot"', '"about"')
                                    .replace('"hme"', '""'))
    result = perseus("build", "--strict", cwd=project)
    assert warnings(result.stderr) == [] and "broken link" not in result.stderr


def test_a_broken_link_is_a_warning_with_the_page_and_a_suggestion(tmp_path: Path) -> None:
    project = site(tmp_path, ["contcat", "post/helo", "psot/2"])
    result = perseus("build", cwd=project)
    assert "built " in result.stdout
    found = warnings(result.stderr)
    assert "warning: ctx.link /contcat on / goes to no page" in found
    assert "warning: ctx.link /post/helo on / goes to no page; did you mean /post/héllo?" in found
    assert "warning: ctx.link /psot/2 on / goes to no page; did you mean /post/2?" in found
    assert "warning: ctx.link /abuot on /post/1, /post/2, /post/héllo goes to no page; did you mean /about?" \
        in found
    assert "warning: ctx.link /hme on the error pages goes to no page" in found  # error views too
    assert len(found) == 5
    assert "5 broken link(s); `--strict` (PERSEUS_STRICT=1) makes them fail the build" in result.stderr


def test_strict_fails_the_build_and_keeps_the_previous_dist(tmp_path: Path) -> None:
    project = site(tmp_path, [])
    (project / "app.py").write_text((project / "app.py").read_text().replace('"hme"', '""'))
    perseus("build", cwd=project)  # warnings only
    before = tree(project / "dist")
    for args, env in ((["--strict"], {}), ([], {"PERSEUS_STRICT": "1"})):
        result = perseus("build", *args, cwd=project, env=env, check=False)
        assert result.returncode == 1, (args, env)
        assert "build failed" in result.stderr
        assert "ctx.link /abuot on /post/1 goes to no page; did you mean /about?" in result.stderr
        assert "built " not in result.stdout
        assert tree(project / "dist") == before
    # The build of `perseus serve` (and export, deploy) takes --strict too.
    result = perseus("serve", "--strict", "--port", str(free_port()), cwd=project, check=False, timeout=60)
    assert result.returncode == 1 and "/abuot" in result.stderr
    assert tree(project / "dist") == before


def test_links_are_checked_per_locale_below_the_base_path(tmp_path: Path) -> None:
    project = tmp_path / "i18n"
    (project / "translations").mkdir(parents=True)
    (project / "app.py").write_text(I18N)
    for locale in ("en-US", "fr-FR"):
        (project / "translations" / f"{locale}.ftl").write_text("hello = hello\n")
    result = perseus("build", cwd=project, env={"PERSEUS_BASE_PATH": "/docs"})
    assert warnings(result.stderr) == [
        "warning: ctx.link /en-US/abuot on /en-US goes to no page; did you mean /en-US/about?",
        "warning: ctx.link /fr-FR/abuot on /fr-FR goes to no page; did you mean /fr-FR/about?",
    ]
