"""``perseus deploy`` and standalone serving without a pkg/ to install: targets, refusals,
``--export``. (What a pkg/, once installed elsewhere, serves is test_deploy.py's.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from perseus import PerseusApp, Template, __version__
from perseus.deploy.standalone import storage_report
from perseus.deploy.wheels import DeployError, app_requirements
from perseus.settings import Settings
from tests.conftest import GOLDEN_EXPORT, copy_example, golden_form, perseus, tree


def test_an_unsupported_target_is_refused_naming_the_supported_ones(tmp_path: Path) -> None:
    project = copy_example("basic", tmp_path)
    result = perseus("deploy", "--target", "windows-x86_64", cwd=project, check=False)
    assert result.returncode != 0
    assert "unknown deploy target 'windows-x86_64': supported targets are linux-x86_64, linux-aarch64" \
        in result.stderr
    assert not (project / "pkg").exists() and not (project / "dist").exists()


def test_deploy_never_replaces_a_folder_it_did_not_write(tmp_path: Path) -> None:
    project = copy_example("basic", tmp_path)
    (tmp_path / "documents").mkdir()
    (tmp_path / "documents" / "thesis.txt").write_text("years of work")
    documents = str(tmp_path / "documents")
    for args in (["--output", documents], ["--export", "--output", documents]):
        result = perseus("deploy", *args, cwd=project, check=False)
        assert result.returncode != 0
        assert "exists and was not written by perseus deploy" in result.stderr
    assert (tmp_path / "documents" / "thesis.txt").read_text() == "years of work"
    result = perseus("deploy", "--output", str(tmp_path), cwd=project, check=False)
    assert "would replace the project itself" in result.stderr


def test_a_failing_build_makes_deploy_fail_and_say_why(tmp_path: Path) -> None:
    project = copy_example("basic", tmp_path)
    source = (project / "app.py").read_text()
    failing = source.replace("def post_state(info):",
                             'def post_state(info):\n    raise RuntimeError("cms down")')
    (project / "app.py").write_text(failing)
    result = perseus("deploy", cwd=project, check=False)
    assert result.returncode != 0
    assert "RuntimeError: cms down" in result.stderr
    assert "deploy stopped: the build failed (above); pkg was not written" in result.stderr
    assert not (project / "pkg").exists()


def test_deploy_export_writes_the_static_export_alone(tmp_path: Path) -> None:
    project = copy_example("basic", tmp_path)
    perseus("deploy", "--export", "--output", "site", cwd=project)
    assert golden_form(tree(project / "site")) == tree(GOLDEN_EXPORT)


def test_linux_aarch64_gets_the_pure_wheel_and_every_tag_granian_needs(tmp_path: Path) -> None:
    project = copy_example("basic", tmp_path)
    result = perseus("deploy", "--target", "linux-aarch64", "--output", "pkg-arm", cwd=project, timeout=300)
    assert "pure build (this machine cannot compile for the target)" in result.stdout
    wheels = sorted(p.name for p in (project / "pkg-arm" / "wheels").iterdir())
    assert any(w.startswith("perseus_web-") and w.endswith("-py3-none-any.whl") for w in wheels), wheels
    assert not [w for w in wheels if "x86_64" in w], wheels
    granian = [w for w in wheels if w.startswith("granian-")]
    assert len(granian) == 1 and "aarch64" in granian[0], wheels
    from importlib.metadata import version
    # NOTE: with manylinux2014_aarch64 alone pip silently picks an old granian.
    assert granian[0].split("-")[1] == version("granian")


def test_standalone_serve_outside_a_pkg_is_refused(tmp_path: Path) -> None:
    result = perseus("serve", cwd=tmp_path, env={"PERSEUS_STANDALONE": "true", "PERSEUS_PKG": str(tmp_path)},
                     check=False, timeout=30)
    assert result.returncode != 0
    assert "is not a pkg/ written by `perseus deploy`" in result.stderr


def test_standalone_names_the_mutable_store_of_regenerating_templates(tmp_path: Path) -> None:
    feed = Template("feed", view=lambda ctx, state: "")
    feed.revalidate_after = "1h"  # type: ignore[attr-defined]
    app = PerseusApp(templates=[Template("index", view=lambda ctx, state: ""), feed], root=tmp_path)
    lines = storage_report(app, tmp_path / "dist", Settings())
    store = tmp_path / "dist" / "mutable"
    assert any(line.startswith(f"mutable store: {store} (written when templates 'feed' regenerate pages")
               for line in lines), lines


def test_standalone_serve_refuses_watch(tmp_path: Path) -> None:
    result = perseus("serve", "--watch", cwd=tmp_path, env={"PERSEUS_STANDALONE": "true"}, check=False,
                     timeout=30)
    assert result.returncode != 0
    assert "PERSEUS_STANDALONE serves a pkg/ as it was built; drop --watch" in result.stderr



def test_the_requirements_of_a_pkg_keep_the_extras_of_perseus_and_every_other_requirement(
    tmp_path: Path
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "site"\nversion = "1"\ndependencies = ['
        '"perseus-web[redis]>=0.1", "Perseus_Web [Dev]", "httpx[http2]>=0.27; python_version >= \'3.11\'"]\n')
    assert app_requirements(tmp_path).lines() == [
        f"perseus-web[dev,redis]=={__version__}", "httpx[http2]>=0.27; python_version >= '3.11'"]
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "site"\nversion = "1"\n')
    assert app_requirements(tmp_path).lines() == [f"perseus-web=={__version__}"]


def test_a_requirement_on_the_unrelated_perseus_of_pypi_is_refused_naming_ours(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "site"\nversion = "1"\ndependencies = ["Perseus[redis]>=0.1"]\n')
    with pytest.raises(DeployError, match=r"'Perseus\[redis\]>=0.1'.*unrelated project.*'perseus-web'"):
        app_requirements(tmp_path)
