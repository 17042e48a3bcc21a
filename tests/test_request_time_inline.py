"""Templates declared ``blocking=False``: sync request state runs on the event loop, not the pool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from perseus import ConfigurationError, Template
from perseus.testing import TestClient

APP = '''
import threading
from perseus import NotFound, PerseusApp, Template

def who_state(info, request):
    return {"name": request.query.get("name", "?"), "agent": request.headers.get("user-agent"),
            "flavour": request.cookies.get("flavour"), "thread": threading.current_thread().name}

def build_state(info):
    return {"built": info.path}

def thread_state(info):
    return {"thread": threading.current_thread().name}

def merge(info, build, request):
    return {**build, **request, "merged": True}

def boom_state(info, request):
    if request.query.get("missing"):
        raise NotFound()
    raise RuntimeError("secret detail")

def view(ctx, state):
    return f"<p id='state'>{sorted(state.items())}</p>"

app = PerseusApp(templates=[
    Template("who", view=view, request_state=who_state, blocking=False),
    Template("pooled", view=view, request_state=who_state),
    Template("merged", view=view, build_paths=lambda: ["a"], build_state=build_state,
             request_state=who_state, amalgamate_states=merge, incremental=True, blocking=False),
    Template("boom", view=view, request_state=boom_state, blocking=False),
    Template("quick", view=view, build_paths=lambda: [], build_state=thread_state, incremental=True,
             blocking=False),
    Template("slow", view=view, build_paths=lambda: [], build_state=thread_state, incremental=True),
])
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    project = tmp_path_factory.mktemp("inline-state")
    (project / "app.py").write_text(APP)
    with TestClient(project) as client:
        yield client


def test_non_blocking_state_sees_the_request_and_runs_off_the_pool(server: TestClient) -> None:
    response = server.get("/who?name=Ann", headers={"User-Agent": "probe", "Cookie": "flavour=mint"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-store"
    endpoint = server.get("/.perseus/page/xx-XX/who.json?name=Bo", headers={"User-Agent": "probe"})
    state = endpoint.json()["state"]
    assert state["name"] == "Bo" and state["agent"] == "probe" and state["flavour"] is None
    assert "('name', 'Ann')" in response.text and "('flavour', 'mint')" in response.text
    assert not state["thread"].startswith("perseus-request")  # on the loop, not in the thread pool
    pooled = server.get("/.perseus/page/xx-XX/pooled.json").json()["state"]
    assert pooled["thread"].startswith("perseus-request")  # the default keeps the pool


def test_a_first_generation_calls_non_blocking_build_state_on_the_loop(server: TestClient) -> None:
    quick = server.get("/.perseus/page/xx-XX/quick/new.json")
    assert quick.status_code == 200 and quick.headers["x-perseus-cache"] == "GENERATED"
    assert not quick.json()["state"]["thread"].startswith("perseus-request")  # no thread hop
    slow = server.get("/.perseus/page/xx-XX/slow/new.json")
    assert slow.status_code == 200 and slow.headers["x-perseus-cache"] == "GENERATED"
    assert slow.json()["state"]["thread"].startswith("perseus-request")  # the default keeps the pool


def test_non_blocking_state_is_amalgamated_on_built_and_generated_pages(server: TestClient) -> None:
    built = server.get("/.perseus/page/xx-XX/merged/a.json?name=Cy").json()["state"]
    assert built["built"] == "a" and built["name"] == "Cy" and built["merged"] is True
    generated = server.get("/merged/new?name=Di")
    assert generated.status_code == 200
    assert "('built', 'new')" in generated.text and "('name', 'Di')" in generated.text
    assert generated.headers["cache-control"] == "private, no-store"


def test_non_blocking_state_errors_are_clean_error_pages(server: TestClient) -> None:
    failed = server.get("/boom")
    assert failed.status_code == 500
    assert "secret detail" not in failed.text and "Traceback" not in failed.text
    assert server.get("/boom?missing=1").status_code == 404
    assert server.get("/.perseus/page/xx-XX/boom.json?missing=1").status_code == 404


def test_blocking_must_be_a_bool() -> None:
    with pytest.raises(ConfigurationError, match="blocking must be True or False"):
        Template("x", view=lambda ctx, s: "", blocking="no")  # type: ignore[arg-type]
