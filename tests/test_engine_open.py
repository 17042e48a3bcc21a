"""Opening a built site: the page table refuses a dist/ that the app cannot serve."""

from __future__ import annotations

from pathlib import Path

import pytest

from perseus import PerseusApp, Template
from perseus.errors import DistError
from perseus.http.response import Response
from perseus.turbine.engine import open_engine
from tests.conftest import perseus

SITE = '''\
from perseus import PerseusApp, Template

app = PerseusApp(templates=[Template("index", view=lambda ctx, state: "<p>home</p>"),
                            Template("old", view=lambda ctx, state: "<p>old</p>")])
'''


def test_a_dist_with_pages_of_a_template_the_app_lost_is_refused_at_open(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(SITE)
    perseus("build", cwd=tmp_path)
    renamed = PerseusApp(templates=[Template("index", view=lambda ctx, state: "<p>home</p>"),
                                    Template("new", view=lambda ctx, state: "<p>new</p>")], root=tmp_path)
    with pytest.raises(DistError, match=r"template\(s\) 'old', which the app does not have.*perseus build"):
        open_engine(renamed, tmp_path / "dist")
    same = PerseusApp(templates=[Template("index", view=lambda ctx, state: "<p>home</p>"),
                                 Template("old", view=lambda ctx, state: "<p>old</p>")], root=tmp_path)
    engine = open_engine(same, tmp_path / "dist")
    try:
        answer = engine.respond("GET", "/old", {})
        assert isinstance(answer, Response) and answer.status == 200 and b"<p>old</p>" in answer.body
    finally:
        engine.close()


def test_perseus_serve_refuses_such_a_dist_before_starting(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(SITE)
    perseus("build", cwd=tmp_path)
    (tmp_path / "app.py").write_text(SITE.replace('"old"', '"new"'))
    result = perseus("serve", "--no-build", "--port", "1", cwd=tmp_path, check=False, timeout=30)
    assert result.returncode == 1
    assert "template(s) 'old', which the app does not have" in result.stderr
    assert "Traceback" not in result.stderr
