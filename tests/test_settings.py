"""perseus/settings.py: every PERSEUS_* variable and [tool.perseus] key, read once, one rule each.

Through ``load_settings`` for the rules, through the real CLI (and a real server) where a
user would notice, and over the source files for "only settings.py reads os.environ".
"""

from __future__ import annotations

import ast
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from perseus.errors import ConfigurationError
from perseus.settings import FALSE, TABLE_END, TABLE_START, TRUE, Settings, load_settings, settings_table
from tests.conftest import REPO, Server, free_port, perseus

# A standalone script copied into pkg/ and run by a bare python before perseus is
# installed: it cannot import perseus.settings, so it reads its two variables itself.
READS_ENVIRON_ITSELF = {"perseus/deploy/pkg_server.py"}
ENVIRON_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def settings(project: Path, pyproject: str | None = None, **environ: str) -> Settings:
    if pyproject is not None:
        (project / "pyproject.toml").write_text(pyproject)
    return load_settings(project, environ)


# --- booleans: one rule ---------------------------------------------------------------------

@pytest.mark.parametrize("variable, field", [("PERSEUS_STANDALONE", "standalone"),
                                             ("PERSEUS_DEV_RELOAD", "dev_reload")])
@pytest.mark.parametrize("spelling", [*TRUE, *FALSE, "TRUE", " Off "])
def test_booleans_have_one_rule(tmp_path: Path, variable: str, field: str, spelling: str) -> None:
    value = getattr(settings(tmp_path, **{variable: spelling}), field)
    assert value is (spelling.strip().lower() in TRUE)


@pytest.mark.parametrize("bad", ["2", "y", "enabled", "none"])
def test_a_bad_boolean_names_the_variable_and_the_value(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigurationError, match=f"PERSEUS_DEV_RELOAD must be 1, true.*got '{bad}'"):
        settings(tmp_path, PERSEUS_DEV_RELOAD=bad)


def test_dev_reload_zero_builds_pages_without_the_reload_script(tmp_path: Path) -> None:
    # It used to be any non-empty value, so PERSEUS_DEV_RELOAD=0 turned reload on.
    (tmp_path / "app.py").write_text(
        "from perseus import PerseusApp, Template\n"
        "app = PerseusApp(templates=[Template('index', view=lambda ctx, state: '<p>hi</p>')])\n")
    for value, reloads in [("0", False), ("off", False), ("1", True)]:
        perseus("build", cwd=tmp_path, env={"PERSEUS_DEV_RELOAD": value, "PERSEUS_APP": ""})
        page = (tmp_path / "dist" / "pages.bin").read_bytes()
        assert (b"EventSource" in page) is reloads, value


# --- unknown names: did you mean ---------------------------------------------------------------

def test_a_misspelt_variable_is_an_error_with_did_you_mean(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown environment variable 'PERSEUS_PROT'; did you mean"
                                                 " 'PERSEUS_PORT'"):
        settings(tmp_path, PERSEUS_PROT="1")


def test_a_misspelt_pyproject_key_is_an_error_with_did_you_mean(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError,
                       match="unknown \\[tool.perseus\\] key 'wokers'; did you mean 'workers'"):
        settings(tmp_path, "[tool.perseus]\nwokers = 2\n")


@pytest.mark.parametrize("command", [["build"], ["serve"], ["export"], ["deploy"], ["revalidate", "--all"]])
def test_every_command_stops_on_a_misspelt_variable(tmp_path: Path, command: list[str]) -> None:
    result = perseus(*command, cwd=tmp_path, env={"PERSEUS_PROT": "1"}, check=False)
    assert result.returncode == 1
    assert "unknown environment variable 'PERSEUS_PROT'; did you mean 'PERSEUS_PORT'?" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "dist").exists()


def test_build_stops_on_a_misspelt_pyproject_key(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.perseus]\napp = "app:app"\nbase_pth = "/docs"\n')
    result = perseus("build", cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "unknown [tool.perseus] key 'base_pth'; did you mean 'base_path'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_names_read_outside_perseus_are_known(tmp_path: Path) -> None:
    settings(tmp_path, PERSEUS_NO_EXTENSIONS="1", PERSEUS_NO_COMPILE="1", PERSEUS_REQUIRE_COMPILED="1",
             PERSEUS_EXPECT_IMPL="python", PERSEUS_VENV="/tmp/venv", PERSEUS_REGENERATE_GOLDEN="1")
    load_settings(REPO)  # this test run's own environment (CI exports PERSEUS_REQUIRE_COMPILED)


# --- values ------------------------------------------------------------------------------------

@pytest.mark.parametrize("variable, value, message", [
    ("PERSEUS_PORT", "80a", "PERSEUS_PORT must be a port number from 1 to 65535, got '80a'"),
    ("PERSEUS_PORT", "70000", "PERSEUS_PORT must be a port number"),
    ("PERSEUS_WORKERS", "0", "PERSEUS_WORKERS must be a whole number of at least 1, got '0'"),
    ("PERSEUS_MAX_GENERATED_PAGES", "1e5", "PERSEUS_MAX_GENERATED_PAGES must be a whole number"),
    ("PERSEUS_GENERATION_TIMEOUT", "-1", "PERSEUS_GENERATION_TIMEOUT must be a positive number of seconds"),
    ("PERSEUS_REDIS_TIMEOUT", "soon", "PERSEUS_REDIS_TIMEOUT must be a positive number of seconds, got 'so"),
    ("PERSEUS_LMDB_MAP_SIZE", "1K", "PERSEUS_LMDB_MAP_SIZE must be a size of at least 64K"),
    ("PERSEUS_STORE", "memcached://pw@host", "PERSEUS_STORE must be 'lmdb' or a redis://host:port/db URL"),
])
def test_a_bad_value_names_the_variable_and_the_value(tmp_path: Path, variable: str, value: str,
                                                      message: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        settings(tmp_path, **{variable: value})
    assert message in str(error.value)


def test_values_are_parsed_into_their_types(tmp_path: Path) -> None:
    parsed = settings(tmp_path, PERSEUS_LMDB_MAP_SIZE="256M", PERSEUS_RETRY_BACKOFF="0.5",
                      PERSEUS_MAX_CONCURRENT_GENERATIONS="3", PERSEUS_BASE_PATH="docs/",
                      PERSEUS_MUTABLE_DIR="store", PERSEUS_WORKERS=" ")
    assert parsed.lmdb_map_size == 256 << 20
    assert parsed.retry_backoff == 0.5
    assert parsed.max_concurrent_generations == 3
    assert parsed.base_path == "/docs"
    assert parsed.mutable_dir == Path.cwd() / "store"
    assert parsed.workers == 1  # empty: unset


@pytest.mark.parametrize("line, shown", [('workers = "2x"', "'2x'"), ("workers = true", "True"),
                                         ("workers = 1.5", "1.5")])
def test_a_bad_pyproject_value_names_the_key(tmp_path: Path, line: str, shown: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        settings(tmp_path, f"[tool.perseus]\n{line}\n")
    assert f"[tool.perseus] workers must be a whole number of at least 1, got {shown}" in str(error.value)


def test_environment_wins_over_pyproject(tmp_path: Path) -> None:
    pyproject = '[tool.perseus]\nport = 9000\nmutable_dir = "store"\ngeneration_timeout = 5\n'
    from_file = settings(tmp_path, pyproject)
    assert (from_file.port, from_file.generation_timeout) == (9000, 5.0)
    assert from_file.mutable_dir == tmp_path.resolve() / "store"  # relative to the project
    assert settings(tmp_path, pyproject, PERSEUS_PORT="9100").port == 9100


def test_the_workers_read_back_what_the_parent_read(tmp_path: Path) -> None:
    parent = settings(tmp_path, '[tool.perseus]\nbase_path = "/docs"\n', PERSEUS_STORE="redis://h:1/2",
                      PERSEUS_DEV_RELOAD="yes", PERSEUS_LMDB_MAP_SIZE="2G", PORT="5000")
    (tmp_path / "pyproject.toml").unlink()
    assert load_settings(tmp_path, parent.variables()) == parent


# --- HOST and PORT, the PaaS convention --------------------------------------------------------

def test_port_is_the_fallback_of_perseus_port(tmp_path: Path) -> None:
    assert settings(tmp_path, PORT="5000").port == 5000
    assert settings(tmp_path, PORT="5000", PERSEUS_PORT="5001").port == 5001
    with pytest.raises(ConfigurationError, match="PORT must be a port number from 1 to 65535, got 'http'"):
        settings(tmp_path, PORT="http")


def test_host_is_the_fallback_of_perseus_host(tmp_path: Path) -> None:
    assert settings(tmp_path, HOST="0.0.0.0").host == "0.0.0.0"
    assert settings(tmp_path, HOST="0.0.0.0", PERSEUS_HOST="127.0.0.2").host == "127.0.0.2"


def _environment(**names: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT", "PERSEUS_HOST", "PERSEUS_PORT")}
    return {**kept, **names}


def test_perseus_serve_listens_on_port_when_perseus_port_is_unset(basic_site: Path) -> None:
    port = free_port()
    server = Server(basic_site, port=port, env=_environment(PORT=str(port)),
                    command=[sys.executable, "-P", "-m", "perseus", "serve", "--no-build"])
    try:
        assert server.get("/").status_code == 200
    finally:
        server.close()


def test_perseus_serve_listens_on_host_when_perseus_host_is_unset(basic_site: Path) -> None:
    port = free_port()
    command = [sys.executable, "-P", "-m", "perseus", "serve", "--no-build", "--port", str(port)]
    process = subprocess.Popen(command, cwd=basic_site, env=_environment(HOST="127.0.0.2"),
                               start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, "the server exited"
            try:
                assert httpx.get(f"http://127.0.0.2:{port}/", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "no answer on 127.0.0.2"
                time.sleep(0.1)
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass  # not on the default host
    finally:
        os.killpg(process.pid, 15)
        process.wait(10)


# --- the README's table, and the one reader of os.environ ---------------------------------------

def test_the_readme_table_is_generated_from_settings() -> None:
    readme = (REPO / "README.md").read_text()
    assert TABLE_START in readme and TABLE_END in readme
    table = readme.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip("\n") + "\n"
    assert table == settings_table(), "README's settings table is stale: paste `python -m perseus.settings`"


def _reads_environ(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr in ENVIRON_NAMES and \
                isinstance(node.value, ast.Name) and node.value.id == "os":
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and \
                any(alias.name in ENVIRON_NAMES for alias in node.names):
            lines.append(node.lineno)
    return lines


def test_only_settings_reads_the_environment() -> None:
    readers = {}
    for path in sorted((REPO / "perseus").rglob("*.py")):
        name = path.relative_to(REPO).as_posix()
        if name in READS_ENVIRON_ITSELF or name == "perseus/settings.py":
            continue
        if lines := _reads_environ(path):
            readers[name] = lines
    assert readers == {}, f"read os.environ through perseus.settings instead: {readers}"
    assert _reads_environ(REPO / "perseus" / "settings.py")  # the check sees what it looks for
