"""``perseus new``: a fresh project builds, passes its own tests and serves as it is."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import Server, perseus


def test_new_project_builds_tests_and_serves(tmp_path: Path) -> None:
    created = perseus("new", "my-site", cwd=tmp_path)
    assert "cd my-site && perseus serve --watch" in created.stdout
    project = tmp_path / "my-site"
    assert {".gitignore", "README.md", "app.py", "posts.py", "pyproject.toml"} <= {
        p.name for p in project.iterdir()}
    ignored = (project / ".gitignore").read_text().split()
    assert {"dist/", "pkg/", ".dist.lock", "__pycache__/"} <= set(ignored)
    readme = (project / "README.md").read_text()
    assert "perseus serve --watch" in readme and "perseus deploy" in readme
    assert "perseus-web[dev]" in readme and "# my-site" in readme
    perseus("build", cwd=project)

    own_tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
        capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST")})
    assert own_tests.returncode == 0, own_tests.stdout + own_tests.stderr
    assert re.search(r"\b4 passed\b", own_tests.stdout)

    server = Server(project)
    try:
        index = server.get("/")
        assert index.status_code == 200
        assert "<h1>Welcome to my-site</h1>" in index.text
        assert '<meta name="description"' in index.text
        stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', index.text)
        assert stylesheet is not None and "<nav" in index.text
        css = server.get(stylesheet.group(1))
        assert css.status_code == 200 and "prefers-color-scheme: dark" in css.text
        posts = server.get("/posts")
        assert posts.status_code == 200
        for slug in re.findall(r'href="/posts/([a-z0-9-]+)"', posts.text):
            post = server.get(f"/posts/{slug}")
            assert post.status_code == 200 and "<article>" in post.text
        assert server.get("/about").status_code == 200
        missing = server.get("/nope")
        assert missing.status_code == 404 and "Page not found" in missing.text
        assert server.get("/posts/nope").status_code == 404
    finally:
        server.close()


def test_new_refuses_an_existing_directory_and_a_bad_name(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    taken = perseus("new", "taken", cwd=tmp_path, check=False)
    assert taken.returncode == 1
    assert "already exists" in taken.stderr and "Traceback" not in taken.stderr
    bad = perseus("new", "../escape", cwd=tmp_path, check=False)
    assert bad.returncode == 1 and "not a usable project name" in bad.stderr
    assert not (tmp_path.parent / "escape").exists()
