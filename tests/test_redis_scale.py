"""Redis at scale: generating pages costs the same Redis commands however many keys Redis holds."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import redis

from perseus.stores.redis_store import RedisStore
from perseus.testing import TestClient
from tests.redis_server import RedisServer

OTHER_KEYS = 20_000
PAGES = 10
# Commands whose cost grows with the database: none of them may be on the generation path.
KEYSPACE_WIDE = ("scan", "keys", "dbsize", "randomkey")
APP = '''
from perseus import PerseusApp, Template

app = PerseusApp(templates=[
    Template("post", view=lambda ctx, state: f"<h1>{state['slug']}</h1>",
             build_state=lambda info: {"slug": info.path}, incremental=True),
])
'''


def command_calls(client: redis.Redis) -> dict[str, int]:
    """Calls per command since the last ``CONFIG RESETSTAT``, from ``INFO commandstats``."""
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(fields["calls"]) for name, fields in stats.items()}


def generate(site: Path, url: str, mutable: Path) -> dict[str, int]:
    """The Redis commands of generating ``PAGES`` new pages (after one to warm up)."""
    client = redis.Redis.from_url(url)
    env = {"PERSEUS_STORE": url, "PERSEUS_MUTABLE_DIR": str(mutable)}
    try:
        with TestClient(site, build=False, env=env) as app:
            assert app.get(f"/post/{uuid.uuid4().hex}").status_code == 200
            client.config_resetstat()
            for _ in range(PAGES):
                slug = uuid.uuid4().hex
                page = app.get(f"/post/{slug}")
                assert page.status_code == 200 and slug in page.text
            calls = command_calls(client)
        client.config_resetstat()
        return {name: count for name, count in calls.items() if name not in ("info", "config|resetstat")}
    finally:
        client.close()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    project = tmp_path / "site"
    project.mkdir()
    (project / "app.py").write_text(APP)
    with TestClient(project):  # builds dist/
        pass
    return project


def test_generation_issues_no_keyspace_wide_command_and_as_many_commands_with_more_keys(
    site: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    redis_server.flush()
    empty = generate(site, redis_server.url, tmp_path / "a")
    client = redis.Redis.from_url(redis_server.url)
    try:
        pipe = client.pipeline(transaction=False)
        for i in range(OTHER_KEYS):
            pipe.set(f"another-app:{i}", b"x" * 16)
        pipe.execute()
        full = generate(site, redis_server.url, tmp_path / "b")
    finally:
        client.close()
    assert not [name for name in KEYSPACE_WIDE if name in empty or name in full], full
    assert full == empty  # the same commands, as many times: nothing depends on the database's size
    # A handful per page (13 today: reads, the lease, the count, the write script and what it runs).
    assert sum(full.values()) <= 16 * PAGES, full
    store = RedisStore(redis_server.url)
    try:
        assert store.count() == 2 * (PAGES + 1)  # the pages only, none of the other keys
    finally:
        store.close()
