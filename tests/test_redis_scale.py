"""Redis at scale: generating pages costs the same Redis commands however many keys Redis holds."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import redis
import redis.cluster

from perseus.stores.redis_store import RedisStore
from perseus.testing import TestClient
from tests.redis_server import RedisCluster, RedisServer

OTHER_KEYS = 20_000
PAGES = 10
# Commands whose cost grows with the database: none of them may be on the generation path.
KEYSPACE_WIDE = ("scan", "keys", "dbsize")
APP = '''
from perseus import PerseusApp, Template

app = PerseusApp(templates=[
    Template("post", view=lambda ctx, state: f"<h1>{state['slug']}</h1>",
             build_state=lambda info: {"slug": info.path}, incremental=True),
])
'''


def command_calls(nodes: list[RedisServer]) -> dict[str, int]:
    """Calls per command on all ``nodes`` since the last ``reset``, from ``INFO commandstats``."""
    calls: dict[str, int] = {}
    for node in nodes:
        for line in node.command("INFO", "commandstats").decode().splitlines():
            if line.startswith("cmdstat_"):
                name, _, fields = line.removeprefix("cmdstat_").partition(":")
                calls[name] = calls.get(name, 0) + int(fields.split(",")[0].partition("=")[2])
    return {name: count for name, count in calls.items() if name not in ("info", "config|resetstat")}


def reset(nodes: list[RedisServer]) -> None:
    for node in nodes:
        assert node.command("CONFIG", "RESETSTAT").startswith(b"+OK")


def generate(site: Path, url: str, nodes: list[RedisServer], mutable: Path) -> dict[str, int]:
    """The Redis commands of generating ``PAGES`` new pages (after one to warm up)."""
    env = {"PERSEUS_STORE": url, "PERSEUS_MUTABLE_DIR": str(mutable)}
    with TestClient(site, build=False, env=env) as app:
        assert app.get(f"/post/{uuid.uuid4().hex}").status_code == 200
        reset(nodes)
        for _ in range(PAGES):
            slug = uuid.uuid4().hex
            page = app.get(f"/post/{slug}")
            assert page.status_code == 200 and slug in page.text
        return command_calls(nodes)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    project = tmp_path / "site"
    project.mkdir()
    (project / "app.py").write_text(APP)
    with TestClient(project):  # builds dist/
        pass
    return project


@pytest.mark.parametrize("kind", ["redis_server", "redis_cluster"])
def test_generation_issues_no_keyspace_wide_command_and_as_many_commands_with_more_keys(
    site: Path, kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server = request.getfixturevalue(kind)
    server.flush()
    cluster = isinstance(server, RedisCluster)
    nodes = server.nodes if cluster else [server]
    empty = generate(site, server.url, nodes, tmp_path / "a")
    port = nodes[0].port
    client = redis.cluster.RedisCluster("127.0.0.1", port) if cluster else redis.Redis(port=port)
    try:
        pipe = client.pipeline(transaction=False)
        for i in range(OTHER_KEYS):
            pipe.set(f"another-app:{i}", b"x" * 16)
        pipe.execute()
    finally:
        client.close()
    full = generate(site, server.url, nodes, tmp_path / "b")
    assert not [name for name in KEYSPACE_WIDE if name in empty or name in full], full
    assert full == empty  # the same commands, as many times: nothing depends on the database's size
    store = RedisStore(server.url)
    try:
        assert store.count() == 2 * (PAGES + 1)  # the pages only, none of the other keys
    finally:
        store.close()
