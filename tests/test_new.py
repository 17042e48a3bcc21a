"""``perseus new``: a fresh project builds and serves as it is."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Server, perseus


def test_new_project_builds_and_serves(tmp_path: Path) -> None:
    perseus("new", "my-site", cwd=tmp_path)
    project = tmp_path / "my-site"
    perseus("build", cwd=project)
    server = Server(project)
    try:
        index = server.get("/")
        assert index.status_code == 200
        assert "<h1>Hello from my-site</h1>" in index.text
        assert server.get("/about").status_code == 200
        assert server.get("/nope").status_code == 404
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
