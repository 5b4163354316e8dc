"""The nanoqueue command line: serve, check-data."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import click

from nanoqueue import config as config_module
from nanoqueue import log
from nanoqueue.errors import ConfigError, NanoqueueError


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """Return uvloop's loop factory where uvloop is installed, else None.

    uvloop runs the same server with less event-loop overhead per request;
    without it the standard asyncio loop serves.
    """
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


@click.group()
@click.version_option(package_name="nanoqueue")
def main() -> None:
    """nanoqueue: a single-node message queue with Amazon SQS semantics."""


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML config file; without it the built-in defaults apply.",
)
@click.option("--host", help="Address to listen on (server.host).")
@click.option(
    "--port", type=int, help="TCP port to listen on; 0 picks a free one (server.port)."
)
@click.option(
    "--data-dir", help="Directory for the log and snapshots (storage.data_dir)."
)
@click.option(
    "--log-level",
    type=click.Choice(config_module.LOG_LEVELS, case_sensitive=False),
    help="Lowest level of log lines written to standard error (server.log_level).",
)
def serve(
    config_path: Path | None,
    host: str | None,
    port: int | None,
    data_dir: str | None,
    log_level: str | None,
) -> None:
    """Start the server and run until SIGTERM or SIGINT."""
    from nanoqueue.server import serve as run_server

    try:
        config = (
            config_module.load(config_path) if config_path else config_module.Config()
        )
        level = log_level.upper() if log_level is not None else None
        server_changes = {
            key: value
            for key, value in (("host", host), ("port", port), ("log_level", level))
            if value is not None
        }
        if server_changes:
            config = config.replace("server", **server_changes)
        if data_dir is not None:
            config = config.replace("storage", data_dir=data_dir)
    except ConfigError as exc:
        raise click.UsageError(exc.message) from exc
    log.configure(config.server.log_level)
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(run_server(config))
    except ConfigError as exc:
        raise click.UsageError(exc.message) from exc
    except NanoqueueError as exc:
        raise click.ClickException(exc.message) from exc


@main.command("check-data")
@click.argument(
    "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--repair",
    is_flag=True,
    help="Cut damaged logs at their last good record, keeping a backup copy "
    "in DATA_DIR/backup-<UTC time>/.",
)
def check_data(data_dir: Path, repair: bool) -> None:
    """Check the snapshots and logs of DATA_DIR; exit 1 if any is damaged."""
    from nanoqueue.storage.check import check
    from nanoqueue.storage.check import repair as repair_files
    from nanoqueue.storage.recovery import DataDir

    directory = DataDir(data_dir)
    try:
        if repair:
            directory.lock()
        report = check(directory)
        for item in report.snapshots + report.logs:
            click.echo(f"{item.path.name}: {item.detail}")
        if not report.snapshots and not report.logs:
            click.echo(f"{data_dir}: no snapshots or logs")
        if report.damaged and repair:
            for action in repair_files(directory, report):
                click.echo(action)
            click.echo("repaired; start the server to recover from what is left")
            return
    except NanoqueueError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        directory.unlock()
    if report.damaged:
        click.echo(
            f"{len(report.damaged)} damaged files; run again with --repair to cut "
            "the logs at their last good record"
        )
        raise SystemExit(1)
