"""``perseus deploy``: a pkg/ that, copied elsewhere with the source gone, installs offline and serves.

The deploy itself (pip downloads for the target) runs once per session.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import httpx
import pytest
from redis import Redis

from perseus import __version__
from perseus.deploy.wheels import app_requirements, download_dependencies, resolve_target
from perseus.errors import DeployError
from tests.conftest import (
    GOLDEN_EXPORT,
    REPO,
    Server,
    copy_example,
    free_port,
    perseus,
    runtime_hash_spelled_out,
)
from tests.processes import children, wait_for
from tests.redis_server import RedisServer

UNREACHABLE_INDEX = "http://127.0.0.1:9/"
PKG_TOP_LEVEL = {"server", "deploy.json", "requirements.txt", "wheels", "app", "dist"}


def can_unshare(namespace: str) -> bool:
    """Whether ``unshare <namespace>`` works here (root, or user namespaces allowed)."""
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", namespace, "true"], capture_output=True).returncode == 0


def offline_command() -> list[str]:
    """``unshare -n`` where this machine allows it: the install then has no network at all."""
    return ["unshare", "-n"] if can_unshare("-n") else []


def target_environment(**extra: str) -> dict[str, str]:
    """A server machine's environment: no pip configuration or sources, no perseus settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PERSEUS_"))}
    return {**env, "PIP_INDEX_URL": UNREACHABLE_INDEX, **extra}


def normalized(distribution: str) -> str:
    return distribution.lower().replace("-", "_").replace(".", "_")


def digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@dataclass
class Deployed:
    written: Path  # pkg/ as deploy wrote it (inside the moved-away project)
    pkg: Path  # the copy on the "server"
    elsewhere: Path  # the working directory it runs from
    machine_paths: list[str]  # absolute paths of the build machine
    deploy_output: str
    install_output: str


@pytest.fixture(scope="session")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    base = tmp_path_factory.mktemp("deploy")
    project = copy_example("basic", base)
    (project / ".git").mkdir()
    (project / ".git" / "config").write_text("[remote] url = private")
    (project / ".env").write_text("SECRET_KEY=do-not-ship\n")
    (project / "static" / ".well-known").mkdir()
    (project / "static" / ".well-known" / "security.txt").write_text("Contact: mailto:security@example.org\n")
    (project / "pyproject.toml").write_text(textwrap.dedent("""
        [project]
        name = "basic-site"
        version = "1"
        dependencies = ["perseus-web", "click>=8"]
    """))
    result = perseus("deploy", cwd=project, env={"PERSEUS_APP": ""}, timeout=300)
    moved = base / "moved-away"
    shutil.move(project, moved)
    pkg = base / "server-machine" / "pkg"
    shutil.copytree(moved / "pkg", pkg, symlinks=True)
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    install = install_offline(pkg, elsewhere)
    machine_paths = [str(project), str(REPO), sys.prefix, sys.base_prefix]
    return Deployed(moved / "pkg", pkg, elsewhere, machine_paths, result.stdout + result.stderr, install)


@pytest.fixture(scope="session")
def pkg_server(deployed: Deployed) -> Iterator[tuple[Server, dict[str, str]]]:
    before = digest(deployed.pkg / "dist")
    port = free_port()
    env = target_environment(PERSEUS_HOST="127.0.0.1", PERSEUS_PORT=str(port), PERSEUS_WORKERS="2")
    server = Server(deployed.pkg, command=[str(deployed.pkg / "server")], env=env, port=port,
                    cwd=deployed.elsewhere)
    yield server, before
    server.close()


def install_offline(pkg: Path, cwd: Path) -> str:
    """Run ``pkg/server --install-only`` as a server machine would, without network where possible."""
    install = subprocess.run([*offline_command(), str(pkg / "server"), "--install-only"], cwd=cwd,
                             env=target_environment(), capture_output=True, text=True, timeout=180)
    assert install.returncode == 0, install.stdout + install.stderr
    return install.stdout + install.stderr


def own_wheel_of(deployed: Deployed) -> Path:
    return next((deployed.written / "wheels").glob("perseus_web-*.whl"))


@pytest.fixture(scope="session")
def i18n_pkg_server(deployed: Deployed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """examples/i18n deployed with the wheel the first deploy built (PERSEUS_SOURCE=<wheel>)."""
    base = tmp_path_factory.mktemp("deploy-i18n")
    project = copy_example("i18n", base)
    wheel = own_wheel_of(deployed)
    deploy = perseus("deploy", cwd=project, env={"PERSEUS_SOURCE": str(wheel)}, timeout=300)
    assert f"perseus wheel: {wheel.name} from PERSEUS_SOURCE, as it is" in deploy.stdout
    pkg = base / "server-machine" / "pkg"
    shutil.copytree(project / "pkg", pkg)
    shutil.rmtree(project)
    install_offline(pkg, base)
    port = free_port()
    server = Server(pkg, command=[str(pkg / "server")], port=port, cwd=base,
                    env=target_environment(PERSEUS_PORT=str(port)))
    yield server
    server.close()


@dataclass
class StrategiesPkg:
    server: Server
    pkg: Path
    immutable_before: dict[str, str]


@pytest.fixture(scope="session")
def strategies_pkg(deployed: Deployed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StrategiesPkg]:
    """examples/strategies (every strategy, asking for perseus-web[redis]) deployed, moved to a server
    machine, installed there offline, served by pkg/server."""
    base = tmp_path_factory.mktemp("deploy-strategies")
    project = copy_example("strategies", base)
    # An extra of perseus, which pkg/server must install (offline) for PERSEUS_STORE=redis://.
    (project / "pyproject.toml").write_text(textwrap.dedent("""
        [project]
        name = "strategies-site"
        version = "1"
        dependencies = ["perseus-web[redis]"]
    """))
    perseus("deploy", cwd=project, env={"PERSEUS_SOURCE": str(own_wheel_of(deployed))}, timeout=300)
    pkg = base / "server-machine" / "pkg"
    shutil.copytree(project / "pkg", pkg)
    shutil.rmtree(project)
    install_offline(pkg, base)
    before = {name: sha for name, sha in digest(pkg / "dist").items() if not name.startswith("mutable/")}
    port = free_port()
    env = target_environment(PERSEUS_PORT=str(port), PERSEUS_WORKERS="2",
                             STRATEGIES_LOG=str(base / "generations.log"))
    server = Server(pkg, command=[str(pkg / "server")], port=port, cwd=base, env=env)
    yield StrategiesPkg(server, pkg, before)
    server.close()


def generation_of(response: httpx.Response) -> str:
    found = re.search(r'<p id="gen">([^<]+)</p>', response.text)
    assert found, response.text
    return found.group(1)


def test_every_strategy_is_served_from_a_moved_pkg(strategies_pkg: StrategiesPkg) -> None:
    server = strategies_pkg.server
    assert "<h1>Strategies</h1>" in server.get("/").text
    greet = server.get("/greet?name=Ann", headers={"x-visitor": "Zoe"})
    assert "Hello, Ann!" in greet.text and '<p id="visitor">Zoe</p>' in greet.text  # request state
    merged = server.get("/merged?q=tea").text
    assert '<p id="merged">at build time + tea (from the request)</p>' in merged  # amalgamation
    assert server.get("/clock").status_code == 200  # revalidation by time
    old = generation_of(server.get("/news"))  # revalidation by logic
    (strategies_pkg.pkg / "app" / "data" / "news.stale").touch()
    for _ in range(200):  # bounded: regeneration happens in the background
        if generation_of(server.get("/news")) != old:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("/news was never regenerated from the deployed pkg")
    fresh = server.get("/post/fresh")  # incremental generation, then kept
    assert fresh.status_code == 200 and "<h1>Post fresh</h1>" in fresh.text
    assert generation_of(server.get("/post/fresh")) == generation_of(fresh)
    assert server.get("/post/missing-one").status_code == 404


def test_a_deployed_site_writes_its_mutable_store_only(strategies_pkg: StrategiesPkg) -> None:
    server, pkg = strategies_pkg.server, strategies_pkg.pkg
    assert server.get("/post/written").status_code == 200
    log = server.log.read_text()
    assert f"mutable store: {pkg / 'dist' / 'mutable'} (written when templates" in log
    now = {name: sha for name, sha in digest(pkg / "dist").items() if not name.startswith("mutable/")}
    assert now == strategies_pkg.immutable_before


def test_a_pkg_installs_the_extras_of_perseus_the_app_asks_for_and_serves_from_redis(
    strategies_pkg: StrategiesPkg, tmp_path: Path
) -> None:
    pkg = strategies_pkg.pkg
    assert (pkg / "requirements.txt").read_text().splitlines()[0] == f"perseus-web[redis]=={__version__}"
    redis = RedisServer(tmp_path)
    try:
        port = free_port()
        env = target_environment(PERSEUS_PORT=str(port), PERSEUS_STORE=redis.url,
                                 PERSEUS_MUTABLE_DIR=str(tmp_path / "local-cache"),
                                 STRATEGIES_LOG=str(tmp_path / "generations.log"))
        # The venv the fixture installed without network, redis-py included.
        server = Server(pkg, command=[str(pkg / "server")], port=port, cwd=tmp_path, env=env)
        try:
            page = server.get("/post/on-redis")  # incremental: generated, stored in Redis
            assert page.status_code == 200 and "<h1>Post on-redis</h1>" in page.text
            assert generation_of(server.get("/post/on-redis")) == generation_of(page)
            assert "installing" not in server.log.read_text()
        finally:
            server.close()
        assert Redis.from_url(redis.url).dbsize() > 0
    finally:
        redis.stop()


def test_an_extra_perseus_does_not_have_is_refused(deployed: Deployed, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1"\ndependencies = ["perseus-web[reddis]", "click>=8"]\n')
    requirements = app_requirements(tmp_path)
    assert requirements.others == ("click>=8",)
    with pytest.raises(DeployError,
                       match=r"asks for perseus-web\[reddis\].*did you mean 'perseus-web\[redis\]'"):
        download_dependencies(own_wheel_of(deployed), requirements, resolve_target("linux-x86_64"),
                              tmp_path, lambda line: None)


def test_deploy_says_what_it_built_and_from_where(deployed: Deployed) -> None:
    assert "perseus wheel: building from the directory perseus was installed from (compiled core)" \
        in deployed.deploy_output
    assert "wheels for linux-x86_64, CPython" in deployed.deploy_output
    assert "installing from" in deployed.install_output and "(offline)" in deployed.install_output


def test_pkg_server_answers_every_page_static_file_and_alias(
    pkg_server: tuple[Server, dict[str, str]]
) -> None:
    server, _ = pkg_server
    checked = 0
    for golden in sorted(GOLDEN_EXPORT.rglob("*")):
        name = golden.relative_to(GOLDEN_EXPORT).as_posix()
        if not golden.is_file() or name in (".nojekyll", "404.html"):
            continue
        # Pages at their folder; static files, page data, client.js and aliases at their own path.
        url = "/" + (name.removesuffix("index.html").rstrip("/") if name.endswith("index.html") else name)
        response = server.get(url)
        assert response.status_code == 200, url
        assert runtime_hash_spelled_out(response.content) == golden.read_bytes(), url
        checked += 1
    assert checked == 21  # 6 pages, 6 page data, 4 static files at both of their names, 1 alias
    client = server.get("/.perseus/client.js")
    assert client.status_code == 200
    assert client.content == resources.files("perseus.client").joinpath("client.js").read_bytes()
    assert server.get("/.perseus/static/.well-known/security.txt").text.startswith("Contact:")
    missing = server.get("/post/unknown")
    assert missing.status_code == 404
    assert runtime_hash_spelled_out(missing.content) == (GOLDEN_EXPORT / "404.html").read_bytes()


def test_pkg_server_says_where_it_listens_and_builds_nothing(
    deployed: Deployed, pkg_server: tuple[Server, dict[str, str]]
) -> None:
    server, _ = pkg_server
    log = server.log.read_text()
    assert f"serving http://127.0.0.1:{server.port} (2 workers" in log
    assert f"standalone from {deployed.pkg} (no build)" in log
    assert "runs from a read-only filesystem" in log
    assert "building" not in log


def test_pkg_server_replaces_a_worker_that_dies(pkg_server: tuple[Server, dict[str, str]]) -> None:
    server, _ = pkg_server
    workers = children(server.process.pid)  # pkg/server became `perseus serve` (exec)
    assert len(workers) == 2
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: (now := children(server.process.pid)) and len(now) == 2 and victim not in now,
             30, "two workers again")

    def answers() -> bool:
        try:
            return server.get("/").status_code == 200
        except httpx.TransportError:  # NOTE: CI saw one refused connection right after the respawn
            return False
    wait_for(answers, 15, "answering 200 after the respawn")
    assert "Respawning worker-" in server.log.read_text()


def test_the_immutable_site_is_never_written(
    deployed: Deployed, pkg_server: tuple[Server, dict[str, str]]
) -> None:
    server, before = pkg_server
    assert server.get("/").status_code == 200
    assert digest(deployed.pkg / "dist") == before


def test_the_server_runs_perseus_installed_from_pkg_wheels(deployed: Deployed) -> None:
    version = subprocess.run([str(deployed.pkg / ".venv" / "bin" / "perseus"), "--version"],
                             capture_output=True, text=True, check=True, cwd=deployed.elsewhere,
                             env=target_environment()).stdout
    kernels = dict(part.split(": ") for part in version.strip().rpartition("(")[2].rstrip(")").split(", "))
    assert kernels and set(kernels.values()) <= {"cython", "mypyc"}, version  # the compiled wheel
    installed = subprocess.run([str(deployed.pkg / ".venv" / "bin" / "python"), "-c",
                                "import perseus; print(perseus.__file__)"],
                               capture_output=True, text=True, check=True, cwd=deployed.elsewhere).stdout
    assert installed.startswith(str(deployed.pkg / ".venv"))


def test_pkg_holds_no_absolute_path_of_the_build_machine(deployed: Deployed) -> None:
    needles = [path.encode() for path in deployed.machine_paths]
    leaks = []
    for path in sorted(deployed.written.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as wheel:
                contents = [(f"{path.name}!{member}", wheel.read(member)) for member in wheel.namelist()]
        else:
            contents = [(path.relative_to(deployed.written).as_posix(), path.read_bytes())]
        leaks += [(name, needle) for name, body in contents for needle in needles if needle in body]
    assert not leaks


def test_pkg_holds_nothing_that_should_not_be_public(deployed: Deployed) -> None:
    pkg = deployed.written
    assert {p.name for p in pkg.iterdir()} == PKG_TOP_LEVEL
    names = [p.relative_to(pkg).as_posix() for p in pkg.rglob("*")]
    private = [n for n in names
               if any(p.startswith(".") and p != ".well-known" or p == "__pycache__" for p in n.split("/"))]
    assert not private
    assert sorted(n for n in names if n.startswith("app/")) == [
        "app/app.py", "app/pyproject.toml", "app/static", "app/static/.well-known",
        "app/static/.well-known/security.txt", "app/static/favicon.svg", "app/static/robots.txt",
        "app/static/search.js",
        "app/static/style.css"]
    assert (pkg / "dist" / "manifest.json").is_file() and not (pkg / "dist" / "exported").exists()
    wheels = {normalized(p.name.split("-")[0]) for p in (pkg / "wheels").iterdir()}
    assert {"click", "granian", "lmdb", "orjson", "perseus_web"} <= wheels
    # Every wheel shipped is one the server installs: nothing extra rides along.
    listing = "import importlib.metadata as m; print(*(d.metadata['Name'] for d in m.distributions()))"
    installed = subprocess.run([str(deployed.pkg / ".venv" / "bin" / "python"), "-c", listing],
                               capture_output=True, text=True, check=True).stdout.split()
    assert wheels <= {normalized(name) for name in installed}


def test_an_i18n_pkg_negotiates_and_serves_its_translations(i18n_pkg_server: Server) -> None:
    server = i18n_pkg_server
    redirect = server.get("/about", headers={"accept-language": "fr-CH, fr;q=0.9"})
    assert redirect.status_code == 307 and redirect.headers["location"] == "/fr-FR/about"
    french = server.get("/fr-FR/about")
    assert french.status_code == 200 and "<title>À propos de ce site</title>" in french.text
    assert server.get("/.perseus/translations/fr-FR").status_code == 200
    assert server.get("/.perseus/page/en-US/post/first.json").status_code == 200
    assert server.get("/robots.txt").status_code == 200


def test_a_given_wheel_for_another_platform_is_refused(deployed: Deployed, tmp_path: Path) -> None:
    project = copy_example("basic", tmp_path)
    result = perseus("deploy", "--target", "linux-aarch64", cwd=project, check=False,
                     env={"PERSEUS_SOURCE": str(own_wheel_of(deployed))})
    assert result.returncode != 0
    assert "is for linux_x86_64, not linux-aarch64" in result.stderr
    assert not (project / "pkg").exists()


def read_only_server(pkg: Path) -> list[str]:
    """``pkg/server`` in a private mount namespace where pkg/ is read-only (for it alone)."""
    if not can_unshare("-m"):
        pytest.skip("needs `unshare -m` to mount pkg/ read-only")
    quoted = shlex.quote(str(pkg))
    script = f"mount --bind {quoted} {quoted} && mount -o remount,bind,ro {quoted} && exec {quoted}/server"
    return ["unshare", "-m", "sh", "-c", script]


def test_a_read_only_pkg_serves_unchanged(deployed: Deployed) -> None:
    port = free_port()
    server = Server(deployed.pkg, command=read_only_server(deployed.pkg), port=port,
                    env=target_environment(PERSEUS_PORT=str(port)), cwd=deployed.elsewhere)
    try:
        assert server.get("/post/first").status_code == 200
        assert server.get("/robots.txt").status_code == 200
        assert "runs from a read-only filesystem" in server.log.read_text()
    finally:
        server.close()


def test_a_read_only_pkg_with_revalidation_needs_a_writable_mutable_store(
    strategies_pkg: StrategiesPkg, tmp_path: Path
) -> None:
    pkg = strategies_pkg.pkg
    env = target_environment(PERSEUS_PORT="1", STRATEGIES_LOG=str(tmp_path / "log"))
    refused = subprocess.run(read_only_server(pkg), env=env, cwd=tmp_path, capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode != 0
    assert "not writable" in refused.stderr and "PERSEUS_MUTABLE_DIR" in refused.stderr
    assert "Traceback" not in refused.stderr
    port = free_port()
    store = tmp_path / "writable-store"
    env = target_environment(PERSEUS_PORT=str(port), PERSEUS_MUTABLE_DIR=str(store),
                             STRATEGIES_LOG=str(tmp_path / "log"))
    server = Server(pkg, command=read_only_server(pkg), port=port, env=env, cwd=tmp_path)
    try:
        assert "<h1>Post elsewhere</h1>" in server.get("/post/elsewhere").text
        assert f"mutable store: {store} (written when templates" in server.log.read_text()
    finally:
        server.close()
    assert (store / "data.mdb").exists()


def test_a_pkg_moved_after_its_install_is_installed_again(deployed: Deployed, tmp_path: Path) -> None:
    moved = tmp_path / "moved" / "pkg"
    # The stale venv's scripts and install mark are enough to tempt a reuse; its
    # libraries (most of its size) are left behind.
    venv_lib = deployed.pkg / ".venv"
    shutil.copytree(deployed.pkg, moved, symlinks=True,
                    ignore=lambda folder, names: {"lib"} if Path(folder) == venv_lib else set())
    assert (moved / ".venv" / "perseus-pkg-installed.txt").is_file()
    again = install_offline(moved, tmp_path)
    assert f"installing from {moved / 'wheels'} into {moved / '.venv'} (offline)" in again
    version = subprocess.run([str(moved / ".venv" / "bin" / "perseus"), "--version"], capture_output=True,
                             text=True, env=target_environment())
    assert version.stdout.startswith("perseus ")


def test_pkg_server_refuses_a_python_it_has_no_wheels_for(deployed: Deployed, tmp_path: Path) -> None:
    shutil.copy(deployed.pkg / "server", tmp_path / "server")
    config = json.loads((deployed.pkg / "deploy.json").read_text())
    (tmp_path / "deploy.json").write_text(json.dumps({**config, "python": "3.99"}))
    result = subprocess.run([str(tmp_path / "server")], capture_output=True, text=True, timeout=30,
                            env=target_environment())
    assert result.returncode == 2
    assert "this pkg/ holds wheels for CPython 3.99" in result.stderr
    assert not (tmp_path / ".venv").exists()
