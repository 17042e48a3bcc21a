"""The ``perseus`` command: build, serve, export, deploy, revalidate, clean."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from . import __version__
from .cli_options import elsewhere_help, option, setting_option
from .errors import BuildError, BuildTimeout, PerseusError

if TYPE_CHECKING:
    from .app import PerseusApp
    from .builder.build import BuildSummary
    from .deploy.standalone import PkgLayout
    from .settings import Settings

log = logging.getLogger("perseus.server")
# Where `export --serve` previews: this machine only.
PREVIEW_HOST = "127.0.0.1"
ROUTE_MODES = ("auto", "all", "templates")


def _implementation() -> str:
    import perseus_core

    loaded = perseus_core.implementation()
    return ", ".join(f"{kernel}: {impl}" for kernel, impl in sorted(loaded.items()))


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"perseus {__version__} ({_implementation()})")
        ctx.exit()


F = TypeVar("F", bound=Callable[..., Any])


def _no_color(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    # NOTE: click drops every style where ctx.color is False; None leaves it to click,
    # which styles a terminal only (never a pipe). Subcommands inherit it.
    from .settings import no_color

    if value or no_color():
        ctx.color = False


def _color_option(function: F) -> F:
    return click.option("--no-color", is_flag=True, expose_value=False, is_eager=True, callback=_no_color,
                        help=elsewhere_help("No colour in the output (without it: colour on a terminal"
                                            " only).", "NO_COLOR"))(function)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and which build of each compiled kernel is loaded.")
@_color_option
def main() -> None:
    """perseus: render every page with the strategy its author picks."""


def _app_option(function: F) -> F:
    return setting_option("--app", "app_spec", metavar="MODULE:ATTR", setting="app",
                          help="The PerseusApp to use.")(function)


def _dist_option(function: F) -> F:
    return option("--dist", type=click.Path(path_type=Path), default=Path("dist"), default_shown="dist",
                  help="Where the build is written.")(function)


def _strict_option(function: F) -> F:
    return setting_option("--strict", is_flag=True, setting="strict",
                          help="Fail the build on a ctx.link() to a path no template serves.")(function)


def _strictly(settings: Settings, strict: bool) -> Settings:
    from dataclasses import replace

    return replace(settings, strict=True) if strict else settings


def _routes_option(function: F) -> F:
    return option("--routes", type=click.Choice(ROUTE_MODES), default="auto", default_shown="auto",
                  help="The route table: every route, one row per template, or (auto) every route"
                       " up to 30 and per template past that.")(function)


def _fail(error: BaseException) -> NoReturn:
    click.secho(f"error: {error}", fg="red", err=True)
    sys.exit(1)


def _settings(project: Path | None = None) -> Settings:
    """The settings of this command, read once; a bad or unknown one stops it here."""
    from .settings import load_settings

    try:
        return load_settings(project or Path.cwd())
    except PerseusError as error:
        _fail(error)


def run_build(app_spec_value: str | None, dist: Path, settings: Settings, routes: str = "auto") -> None:
    """Load the app and build it into ``dist``, printing progress and the route table."""
    from .builder.build import build_site
    from .builder.workers import AppSource
    from .cli_progress import BuildProgress
    from .loader import app_spec, load_app

    project = Path.cwd()
    try:
        app = load_app(app_spec(app_spec_value, settings), project)
        if settings.dev_reload:
            from .dev_files import write_inputs

            write_inputs(app, dist.resolve())  # what `serve --watch` rebuilds for
        with BuildProgress() as progress:
            source = AppSource(app_spec(app_spec_value, settings), project)
            summary = asyncio.run(build_site(app, dist.resolve(), settings, progress=progress,
                                             say=lambda line: click.echo(f"  {line}"), source=source))
    except BuildError as error:
        from .tracebacks import frame_lines

        click.secho(f"build failed: {len(error.failures)} page(s) could not be built", fg="red", err=True)
        for failure in error.failures:
            # The user's line right below what failed; no framework frames.
            click.echo(f"  - {failure.headline()}", err=True)
            if frames := frame_lines(failure.error, "      "):
                click.echo(frames, err=True)
        if settings.dev_reload:
            _record_failure(dist, [(f"{f.page()}: {f.stage}", f.error) for f in error.failures])
        kept = f"the previous build in {dist} was left as it was" if dist.exists() else "nothing was written"
        click.echo(kept, err=True)
        if any(isinstance(failure.error, BuildTimeout) for failure in error.failures):
            # NOTE: a sync function past its timeout still runs in a thread nothing can stop,
            # and interpreter exit would join it: leave at once instead.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)
        sys.exit(1)
    except PerseusError as error:
        if settings.dev_reload:  # the app's import, say: shown on the open page too
            _record_failure(dist, [("the app", error.__cause__ or error)])
        _fail(error)
    _print_summary(summary, routes)


def _print_summary(summary: BuildSummary, routes: str) -> None:
    from .cli_routes import route_table

    seconds = summary.seconds
    rate = f", {len(summary.routes) / seconds:,.0f} pages/s" if seconds >= 1 else ""
    click.secho(f"built {len(summary.routes)} page(s) in {seconds:.2f}s{rate} (build {summary.build_id})",
                fg="green", bold=True)
    for line in route_table(summary, routes):
        click.echo(line)
    for link in summary.broken_links:
        click.secho(f"warning: {link.message()}", fg="yellow", err=True)
    if summary.broken_links:
        click.secho(f"{len(summary.broken_links)} broken link(s); `--strict` (PERSEUS_STRICT=1) makes"
                    " them fail the build", fg="yellow", err=True)


def _record_failure(dist: Path, failures: list[tuple[str, BaseException]]) -> None:
    """Under ``serve --watch``: the failure, for the browser's overlay (``perseus.dev_files``)."""
    from .dev_files import write_failure

    write_failure(dist.resolve(), failures)


@main.command()
@_app_option
@_dist_option
@_strict_option
@_routes_option
@_color_option
def build(app_spec: str | None, dist: Path, strict: bool, routes: str) -> None:
    """Prerender every page into dist/."""
    settings = _strictly(_settings(), strict)
    click.echo("perseus: building")
    run_build(app_spec, dist, settings, routes)


@main.command()
@_app_option
@_dist_option
@option("--no-build", is_flag=True, default_shown="off", help="Serve the existing dist/ without building.")
@option("--watch", "-w", is_flag=True, default_shown="off",
        help="Rebuild on changes, serve the last good build, reload browsers (perseus-web[dev]).")
@setting_option("--host", setting="host", help="The address to listen on.")
@setting_option("--port", type=int, setting="port", help="The port to listen on.")
@setting_option("--workers", type=click.IntRange(1), setting="workers", help="Worker processes.")
@setting_option("--reuse-port", is_flag=True, setting="reuse_port",
                help="Share a port another server listens on (a rolling restart).")
@_strict_option
@click.option("--interface", type=click.Choice(["rsgi", "asgi"]), default="rsgi", hidden=True)
@_color_option
def serve(
    app_spec: str | None, dist: Path, no_build: bool, watch: bool, host: str | None, port: int | None,
    workers: int | None, reuse_port: bool, strict: bool, interface: str,
) -> None:
    """Build (unless --no-build), then serve the site on granian."""
    from .server.ports import port_in_use, port_in_use_message

    settings = _strictly(_settings(), strict)
    host = host or settings.host
    port = settings.port if port is None else port
    workers = workers or settings.workers
    if not (reuse_port or settings.reuse_port) and port_in_use(host, port):
        _fail(PerseusError(port_in_use_message(host, port)))
    if watch:
        from .dev import run_dev

        if settings.standalone:
            raise click.UsageError("PERSEUS_STANDALONE serves a pkg/ as it was built; drop --watch")
        if no_build:
            raise click.UsageError("--watch builds on every change; drop --no-build")
        try:
            sys.exit(run_dev(app_spec, dist, settings, host=host, port=port, workers=workers))
        except PerseusError as error:
            _fail(error)
    from dataclasses import replace

    from .loader import app_spec as resolve_spec
    from .server.log_format import configure_logging
    from .settings import hand_to_workers
    from .stores.immutable import MANIFEST

    # The start-up lines below, in the workers' format (quiet under `serve --watch`).
    configure_logging(settings.log_format, settings.dev_reload)
    project = Path.cwd()
    if settings.standalone:
        project, dist, settings = _standalone_paths(settings)
        no_build = True
    if not no_build:
        _build_in_subprocess(app_spec, dist, settings)
    elif not (dist / MANIFEST).is_file():
        _fail(PerseusError(f"no build in {dist}: run `perseus build` or drop --no-build"))
    build_id = _check_dist(dist)
    app = _check_servable(app_spec, project, dist, settings)
    with _metrics_dir(settings) as metrics_dir:
        # Workers import perseus.server.entry after the fork and read these settings back there.
        hand_to_workers(replace(settings, project=project, app=resolve_spec(app_spec, settings),
                                dist=dist.resolve(), metrics_dir=metrics_dir))
        _serve(app, dist, settings, build_id, host, port, workers, interface)


def _serve(app: PerseusApp, dist: Path, settings: Settings, build_id: str, host: str, port: int,
           workers: int, interface: str) -> None:
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    from .server.log_format import logging_config
    from .server.shutdown import GracefulStop, kill_timeout

    target = f"perseus.server.entry:{interface}_app"
    plural = "s" if workers > 1 else ""
    log.info("perseus: serving http://%s:%d (%d worker%s, %s)", host, port, workers, plural,
             _implementation())
    server = Granian(
        target, address=host, port=port, workers=workers,
        interface=Interfaces.RSGI if interface == "rsgi" else Interfaces.ASGI,
        # The access log is perseus's own (perseus.server.access_log): it knows the cache status.
        log_access=False, log_dictconfig=logging_config(settings.log_format, settings.dev_reload),
        # Under `serve --watch` a server starts and stops on every build: no lines for that.
        log_level=LogLevels.warning if settings.dev_reload else LogLevels.info,
        # SECURITY: slow clients are dropped once their headers take this long.
        http1_settings=HTTP1Settings(header_read_timeout=10_000),
        # A worker that dies (a crash in user code, the OOM killer) is replaced; the others
        # keep serving. granian logs it ("Unexpected exit from worker-N", "Respawning").
        respawn_failed_workers=True,
        workers_kill_timeout=kill_timeout(settings.shutdown_timeout),
    )
    GracefulStop(server, settings.shutdown_timeout, quiet=settings.dev_reload)
    with _serving_recorded(app, dist.resolve(), settings, build_id):
        server.serve()


@contextmanager
def _metrics_dir(settings: Settings) -> Iterator[Path | None]:
    """With PERSEUS_METRICS: the directory where this server's workers keep their metrics,
    empty; one made for it is removed when it stops."""
    import importlib.util
    import tempfile

    if not settings.metrics:
        yield None
        return
    from .errors import ConfigurationError
    from .turbine.metrics import INSTALL, empty_directory

    if importlib.util.find_spec("prometheus_client") is None:
        _fail(ConfigurationError(f"PERSEUS_METRICS=1 needs prometheus_client: {INSTALL}"))
    if settings.metrics_dir is not None:
        empty_directory(settings.metrics_dir)
        yield settings.metrics_dir
        return
    made = Path(tempfile.mkdtemp(prefix="perseus-metrics-"))
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


@contextmanager
def _serving_recorded(app: PerseusApp, dist: Path, settings: Settings, build_id: str) -> Iterator[None]:
    """While serving, say which build this server serves from which store (for
    `perseus revalidate`), when the site has pages to revalidate at all."""
    from .server.serving import serving

    if not any(template.uses_mutable_store for template in app.templates):
        yield
        return
    with serving(dist, settings.mutable_dir, build_id) as failed:
        if failed is not None:
            log.warning("perseus: %s; `perseus revalidate` cannot tell whether it reaches this server",
                        failed)
        yield


def _build_in_subprocess(app_spec_value: str | None, dist: Path, settings: Settings) -> None:
    # PERF: a build holds every rendered page; done here, the server's main process (and
    # the workers it forks) would keep that memory: 10,000 pages, ~100 MiB more RSS.
    command = [sys.executable, *(["-P"] if sys.flags.safe_path else []), "-m", "perseus", "build",
               "--dist", str(dist), *(["--app", app_spec_value] if app_spec_value else [])]
    done = subprocess.run(command, check=False, env=settings.child_environment())
    if done.returncode != 0:
        sys.exit(done.returncode)


def _check_dist(dist: Path) -> str:
    """The build id of ``dist``; a build of another format is refused here with "rebuild",
    not in every worker."""
    from .stores.immutable import read_manifest

    try:
        return str(read_manifest(dist.resolve())["build_id"])
    except PerseusError as error:
        _fail(error)


def _standalone(settings: Settings) -> tuple[PkgLayout, Settings]:
    """PERSEUS_STANDALONE: the pkg/ to serve, and the settings of the app it holds."""
    from .deploy.standalone import pkg_layout

    try:
        layout = pkg_layout(settings)
    except PerseusError as error:
        _fail(error)
    return layout, _settings(layout.app)  # the pkg's app has its own pyproject.toml


def _standalone_paths(settings: Settings) -> tuple[Path, Path, Settings]:
    """PERSEUS_STANDALONE: the app and site of the pkg/, and what is written where."""
    from .deploy.standalone import storage_report
    from .loader import app_spec, load_app

    layout, settings = _standalone(settings)
    try:
        app = load_app(app_spec(None, settings), layout.app)
    except PerseusError as error:
        _fail(error)
    log.info("perseus: standalone from %s (no build)", layout.root)
    for line in storage_report(app, layout.dist, settings):
        log.info("  %s", line)
    return layout.app, layout.dist, settings


@main.command()
@_app_option
@_dist_option
@option("--no-build", is_flag=True, default_shown="off", help="Export the existing dist/ without building.")
@option("--serve", "preview", is_flag=True, default_shown="off",
        help="Then preview the export on 127.0.0.1 with Python's http.server.")
@setting_option("--port", type=int, setting="port", help="The preview's port.")
@_strict_option
@_routes_option
@_color_option
def export(app_spec: str | None, dist: Path, no_build: bool, preview: bool, port: int | None,
           strict: bool, routes: str) -> None:
    """Write the site as static files into dist/exported/ (PERSEUS_BASE_PATH for a sub-path)."""
    from .deploy.project import export_project

    settings = _strictly(_settings(), strict)
    build = None if no_build else lambda: run_build(app_spec, dist, settings, routes)
    try:
        summary = export_project(Path.cwd(), app_spec, dist, build, click.echo, settings)
    except PerseusError as error:
        _fail(error)
    if preview:
        from .builder.preview import preview_server

        port = settings.port if port is None else port
        base_path = settings.base_path
        server = preview_server(summary.output, base_path, PREVIEW_HOST, port)
        click.echo(f"perseus: previewing {summary.output} with Python's http.server on "
                   f"http://{PREVIEW_HOST}:{port}{base_path}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()


@main.command()
@_app_option
@_dist_option
@option("--target", default="linux-x86_64", default_shown="linux-x86_64",
        help="Platform of the server: linux-x86_64 or linux-aarch64.")
@option("--output", type=click.Path(path_type=Path), default=Path("pkg"), default_shown="pkg",
        help="Where the pkg/ is written.")
@option("--export", "export_only", is_flag=True, default_shown="off",
        help="Write the static export alone into the output.")
@_strict_option
@_routes_option
@_color_option
def deploy(app_spec: str | None, dist: Path, target: str, output: Path, export_only: bool, strict: bool,
           routes: str) -> None:
    """Build, then write a self-contained pkg/ that runs with only Python (pkg/server)."""
    from .deploy.project import deploy_project

    settings = _strictly(_settings(), strict)

    def build() -> None:
        click.echo("perseus: building")
        try:
            run_build(app_spec, dist, settings, routes)
        except SystemExit:
            click.secho(f"deploy stopped: the build failed (above); {output} was not written",
                        fg="red", err=True)
            raise

    try:
        deploy_project(Path.cwd(), app_spec, dist, output, target, export_only=export_only,
                       build=build, say=lambda line: click.echo(f"perseus deploy: {line}"), settings=settings)
    except PerseusError as error:
        _fail(error)


def _check_servable(app_spec_value: str | None, project: Path, dist: Path, settings: Settings) -> PerseusApp:
    """The app, once it is known to be servable from ``dist``.

    Fails here, before granian forks, rather than in every worker: a build of other
    templates, or a mutable store that cannot be written.
    """
    from .loader import app_spec, load_app
    from .stores.immutable import Dist
    from .turbine.pages import templates_of
    from .turbine.runtime import check_mutable_store

    try:
        app = load_app(app_spec(app_spec_value, settings), project)
        templates_of(app, Dist(dist.resolve()))
        check_mutable_store(app, dist.resolve(), settings)
    except PerseusError as error:
        _fail(error)
    return app


@main.command()
@click.argument("name")
@_color_option
def new(name: str) -> None:
    """Create a new project NAME in the current directory."""
    from .scaffold import create_project

    try:
        project = create_project(Path.cwd(), name)
    except PerseusError as error:
        _fail(error)
    click.echo(f"created {project}\nnext: cd {name} && perseus serve --watch"
               "   (--watch needs: pip install 'perseus-web[dev]')")


@main.command()
@_dist_option
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@option("--tag", "tags", metavar="TAG", multiple=True, default_shown="none",
        help="Every stored page tagged TAG by its state function (repeatable).")
@option("--template", metavar="NAME", default_shown="none", help="Every stored page of this template.")
@option("--all", "all_pages", is_flag=True, default_shown="off", help="Every stored page.")
@option("--ignore-missing", is_flag=True, default_shown="off",
        help="Exit 0 even if some pages cannot be revalidated.")
@_color_option
def revalidate(dist: Path, paths: tuple[str, ...], tags: tuple[str, ...], template: str | None,
               all_pages: bool, ignore_missing: bool) -> None:
    """Mark pages due: a running server regenerates them on their next request.

    PATH is a URL path such as /news (/en-US/news on a site with locales).
    """
    from .revalidation import revalidate as mark_due

    if not (paths or tags or template or all_pages):
        raise click.UsageError("name the pages: PATH..., --tag TAG, --template NAME or --all")
    settings = _settings()
    if settings.standalone:  # the site of the pkg/ that pkg/server serves
        layout, settings = _standalone(settings)
        dist = layout.dist
    try:
        report = mark_due(dist, paths, tags=tags, template=template, all_pages=all_pages,
                          ignore_missing=True, settings=settings)
    except PerseusError as error:
        _fail(error)
    for url in report.marked:
        click.echo(f"  marked {url}")
    for url, reason in report.skipped:
        click.secho(f"  {url}: {reason}", fg="yellow", err=True)
    click.echo(f"{len(report.marked)} page(s) marked due, {len(report.skipped)} cannot be revalidated")
    if report.skipped and not ignore_missing:
        sys.exit(1)


@main.command()
@_dist_option
@_color_option
def clean(dist: Path) -> None:
    """Remove dist/."""
    if dist.exists():
        shutil.rmtree(dist)
        click.echo(f"removed {dist}")


if __name__ == "__main__":
    main()
