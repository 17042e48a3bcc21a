"""The access log and the one log format of a server (issue 11, item 1), through granian:
one line per request with its fields in text and JSON, every line of a JSON log an
object, errors with their traceback in a field, and PERSEUS_ACCESS_LOG=0."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from perseus.errors import ConfigurationError
from perseus.http.response import Response
from perseus.server import access_log
from perseus.server.access_log import AccessLog
from perseus.settings import load_settings
from tests.conftest import Server, perseus
from tests.processes import children, wait_for
from tests.sites import write_observed_site

TEXT_LINE = re.compile(r"^(\S+Z) INFO perseus\.access (\d+) (\S+) (\S+) (\d{3}) (\d+) (\d+)us (\S+)$")
REQUESTS = ["/", "/nope", "/.perseus/static/hello.txt", "/post/a", "/post/new-one"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("observed")
    write_observed_site(project)
    perseus("build", cwd=project)
    return project


@pytest.fixture(scope="module")
def text_server(site: Path) -> Iterator[Server]:
    server = Server(site)
    yield server
    server.close()


@pytest.fixture(scope="module")
def json_server(site: Path) -> Iterator[Server]:
    server = Server(site, env={"PERSEUS_LOG_FORMAT": "json"})
    yield server
    server.close()


def cache_of(answer: httpx.Response) -> str:
    return answer.headers.get("x-perseus-cache", "")


def logged(server: Server, count: int, parse: object) -> list[object]:
    """The access lines of ``server``'s log, once ``count`` of them are there (written every 0.1 s)."""
    found: list[object] = []

    def enough() -> bool:
        found[:] = [entry for line in server.log.read_text().splitlines()
                    if (entry := parse(line)) is not None]  # type: ignore[operator]
        return len(found) >= count

    wait_for(enough, 10, f"{count} access log lines")
    return found


def text_entry(line: str) -> tuple[str, ...] | None:
    match = TEXT_LINE.match(line)
    return match.groups() if match else None


def json_entry(line: str) -> dict[str, object] | None:
    entry = orjson.loads(line)
    return entry if entry.get("logger") == "perseus.access" else None


def test_text_lines_give_each_request_its_fields(text_server: Server) -> None:
    before = len(logged(text_server, 1, text_entry))  # the server's readiness check, at least
    answers = [text_server.get(path) for path in REQUESTS]
    for _ in range(3):
        assert text_server.get("/.perseus/health").status_code == 200  # never logged
        assert text_server.get("/.perseus/ready").status_code == 200
    entries = logged(text_server, before + len(REQUESTS), text_entry)[before:]
    assert len(entries) == len(REQUESTS)
    workers = children(text_server.process.pid)
    for path, answer, entry in zip(REQUESTS, answers, entries, strict=True):
        _time, worker, method, logged_path, status, size, _duration, cache = entry  # type: ignore[misc]
        assert (method, logged_path, int(status)) == ("GET", path, answer.status_code)
        assert int(size) == answer.num_bytes_downloaded, path  # as sent (gzip here)
        assert cache == (cache_of(answer) or "-"), path
        assert int(worker) in workers
    assert [int(e[4]) for e in entries] == [200, 404, 200, 200, 200]  # type: ignore[index]


def test_a_path_that_would_break_a_text_line_is_encoded(text_server: Server) -> None:
    before = len(logged(text_server, 1, text_entry))  # the server's readiness check, at least
    status, _ = text_server.raw_get(b"/a%20b%0Ac")
    assert status in (400, 404)
    entry = logged(text_server, before + 1, text_entry)[-1]
    assert entry[3] == "/a%20b%0Ac"  # type: ignore[index]


def test_json_log_is_one_object_per_line_with_stable_fields(json_server: Server) -> None:
    answers = [json_server.get(path) for path in REQUESTS]
    entries = logged(json_server, 1 + len(REQUESTS), json_entry)  # after the readiness check
    for path, answer, entry in zip(REQUESTS, answers, entries[-len(REQUESTS):], strict=True):
        assert isinstance(entry, dict)
        assert set(entry) == {"time", "level", "logger", "method", "path", "status", "bytes", "duration_us",
                              "cache", "worker"}
        assert (entry["method"], entry["path"], entry["status"]) == ("GET", path, answer.status_code)
        assert entry["bytes"] == answer.num_bytes_downloaded
        assert entry["cache"] == cache_of(answer)
        assert entry["worker"] in children(json_server.process.pid)
        assert isinstance(entry["duration_us"], int)
        assert re.fullmatch(r"\S+T\S+\.\d{3}Z", str(entry["time"]))
    lines = json_server.log.read_text().splitlines()
    every = [orjson.loads(line) for line in lines]  # start-up, granian's and perseus's lines too
    assert any(e["logger"] == "perseus.server" and "serving http://" in e["message"] for e in every)
    assert any(e["logger"].startswith("_granian") for e in every)


def test_an_error_is_one_json_line_with_its_traceback_in_a_field(json_server: Server) -> None:
    answer = json_server.get("/boom")
    assert answer.status_code == 500
    assert "upstream said no" not in answer.text

    def failures() -> list[dict[str, object]]:
        entries = [orjson.loads(line) for line in json_server.log.read_text().splitlines()]
        return [e for e in entries if e["level"] == "error" and "/boom" in str(e["message"])]

    wait_for(lambda: bool(failures()), 10, "the error line")
    error = failures()[0]
    assert error["logger"] == "perseus.request"
    assert "ValueError: the upstream said no" in str(error["traceback"])
    assert "Traceback (most recent call last)" in str(error["traceback"])


def test_access_log_off(site: Path) -> None:
    server = Server(site, env={"PERSEUS_ACCESS_LOG": "0"})
    try:
        for path in REQUESTS:
            server.get(path)
    finally:
        server.close()
    log = server.log.read_text()
    assert "serving http://" in log
    assert "perseus.access" not in log and "GET /nope" not in log


def test_a_stdout_that_takes_nothing_never_blocks_the_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access_log, "MAX_WAITING_LINES", 1000)
    reading, writing = os.pipe()
    log = AccessLog("json", writing)
    answer = Response(200, [], b"x" * 10)
    try:
        for _ in range(20_000):  # far more than the pipe and the queue hold: returns all the same
            log.write("GET", "/", answer, 0)
        received = bytearray()

        def read_all() -> None:
            while chunk := os.read(reading, 65536):
                received.extend(chunk)

        reader = threading.Thread(target=read_all, daemon=True)
        reader.start()
        wait_for(lambda: b"dropped" in received, 10, "the line about dropped lines")
    finally:
        log.close()
        os.close(writing)
    lines = [orjson.loads(line) for line in bytes(received).splitlines()]
    dropped = [line for line in lines if line["level"] == "warning"]
    assert len(dropped) == 1 and "access log line(s) dropped" in str(dropped[0]["message"])
    assert 1000 <= len(lines) - 1 < 20_000


def test_the_asgi_adapter_logs_alike(site: Path) -> None:
    server = Server(site, interface="asgi", env={"PERSEUS_LOG_FORMAT": "json"})
    try:
        answer = server.get("/nope")
        entry = logged(server, 2, json_entry)[-1]
    finally:
        server.close()
    assert isinstance(entry, dict)
    assert (entry["path"], entry["status"], entry["bytes"]) == ("/nope", 404, answer.num_bytes_downloaded)


def test_an_unknown_log_format_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="PERSEUS_LOG_FORMAT must be text or json"):
        load_settings(tmp_path, {"PERSEUS_LOG_FORMAT": "xml"})
