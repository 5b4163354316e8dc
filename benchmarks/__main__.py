"""Command line of the benchmark harness: `python -m benchmarks run SCENARIO`."""

from __future__ import annotations

import datetime
import logging
import sys
import time
from pathlib import Path

import click

from benchmarks.harness import instructions, profile, report
from benchmarks.harness.peers import (
    SOURCE,
    PeerFailed,
    PeerUnavailable,
    raise_keyboard_interrupt_on_sigterm,
)
from benchmarks.harness.registry import SCENARIOS
from benchmarks.harness.scenarios import ALL_PEERS, Options, ScenarioResult

OUT_DIR = Path(__file__).with_name("out")
RESULTS = Path(__file__).with_name("RESULTS.md")
BEGIN = "<!-- harness:begin -->"
END = "<!-- harness:end -->"


@click.group()
def main() -> None:
    """Benchmarks of nanoqueue against the no-op aiohttp app, moto_server and Redis."""
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


@main.command("list")
def list_scenarios() -> None:
    """List the scenarios."""
    for name, (summary, _) in SCENARIOS.items():
        click.echo(f"{name:10} {summary}")


@main.command()
@click.argument("names", nargs=-1, required=True)
@click.option(
    "--clients", default=64, show_default=True, help="Concurrent clients (connections)."
)
@click.option(
    "--seconds", default=20.0, show_default=True, help="Measured seconds per target."
)
@click.option(
    "--warmup",
    default=1.0,
    show_default=True,
    help="Warm-up seconds before each measurement.",
)
@click.option(
    "--peers",
    default=",".join(ALL_PEERS),
    show_default=True,
    help="Comma-separated peers to run: " + ", ".join(ALL_PEERS) + ".",
)
@click.option(
    "--messages",
    default=1_000_000,
    show_default=True,
    help="Messages held by the memory and snapshot scenarios.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=OUT_DIR,
    show_default=True,
)
@click.option(
    "--repeat",
    default=1,
    show_default=True,
    type=click.IntRange(1, 10),
    help="Run the scenarios this many times, one after another.",
)
@click.option(
    "--worktree",
    is_flag=True,
    help="Run the server from the work tree instead of an export of HEAD.",
)
@click.option(
    "--results/--no-results",
    default=False,
    help="Also put the summary into benchmarks/RESULTS.md, between the harness markers.",
)
def run(
    names: tuple[str, ...],
    clients: int,
    seconds: float,
    warmup: float,
    peers: str,
    messages: int,
    out_dir: Path,
    repeat: int,
    worktree: bool,
    results: bool,
) -> None:
    """Run the named scenarios, or `all`, and write JSON, Markdown and charts."""
    SOURCE.use_worktree = worktree
    selected = list(SCENARIOS) if names == ("all",) else list(names)
    unknown = [name for name in selected if name not in SCENARIOS]
    if unknown:
        raise click.UsageError(
            f"unknown scenario {', '.join(unknown)}; known: all, {', '.join(SCENARIOS)}"
        )
    chosen = tuple(peer.strip() for peer in peers.split(",") if peer.strip())
    bad = [peer for peer in chosen if peer not in ALL_PEERS]
    if bad:
        raise click.UsageError(
            f"unknown peer {', '.join(bad)}; known: {', '.join(ALL_PEERS)}"
        )
    options = Options(
        clients=clients,
        seconds=seconds,
        warmup_s=warmup,
        peers=chosen,
        messages=messages,
    )
    raise_keyboard_interrupt_on_sigterm()
    started = datetime.datetime.now(datetime.UTC)
    done: list[ScenarioResult] = []
    try:
        for round_number in range(1, repeat + 1):
            for name in selected:
                click.echo(f"== {name}: {SCENARIOS[name][0]}", err=True)
                began = time.monotonic()
                result = run_scenario(name, options)
                result.seconds_taken = time.monotonic() - began
                if repeat > 1:
                    result.title += f", run {round_number} of {repeat}"
                done.append(result)
                click.echo(report.markdown_scenario(result))
    except KeyboardInterrupt:
        click.echo("interrupted; every started server was stopped", err=True)
        if not done:
            sys.exit(130)
    folder = report.write(done, out_dir, started)
    click.echo(f"wrote {folder}/result.json, summary.md and charts", err=True)
    if results:
        update_results(folder)
        click.echo(f"updated {RESULTS}", err=True)


@main.command("profile")
@click.argument("scenario", type=click.Choice(profile.PROFILED))
@click.option(
    "--clients", default=64, show_default=True, help="Concurrent wrk connections."
)
@click.option("--seconds", default=20.0, show_default=True, help="Seconds to record.")
@click.option(
    "--fsync",
    type=click.Choice(["always", "everysec", "no"]),
    default="always",
    show_default=True,
    help="storage.fsync of the profiled server.",
)
def profile_server(scenario: str, clients: int, seconds: float, fsync: str) -> None:
    """Record the nanoqueue server with py-spy while wrk runs SCENARIO."""
    raise_keyboard_interrupt_on_sigterm()
    click.echo(f"nanoqueue server code: {SOURCE.describe()}", err=True)
    started = datetime.datetime.now(datetime.UTC)
    folder = OUT_DIR / (started.strftime("%Y%m%dT%H%M%SZ") + f"-profile-{scenario}")
    text = profile.run(scenario, clients, seconds, fsync, folder)
    (folder / f"profile-{scenario}.md").write_text(
        f"Command: `{report.command_line()}`\n\n```\n{text}\n```\n"
    )
    click.echo(text)
    click.echo(f"wrote {folder}", err=True)


@main.command("instructions")
@click.argument("scenario", type=click.Choice(instructions.COUNTED))
@click.option(
    "--clients", default=64, show_default=True, help="Concurrent wrk connections."
)
@click.option(
    "--seconds", default=20.0, show_default=True, help="Seconds counted per server."
)
@click.option(
    "--warmup", default=5.0, show_default=True, help="Seconds of load before counting."
)
def count_instructions(
    scenario: str, clients: int, seconds: float, warmup: float
) -> None:
    """Count the instructions per request of the no-op app and nanoqueue under callgrind."""
    raise_keyboard_interrupt_on_sigterm()
    click.echo(f"nanoqueue server code: {SOURCE.describe()}", err=True)
    started = datetime.datetime.now(datetime.UTC)
    folder = OUT_DIR / (
        started.strftime("%Y%m%dT%H%M%SZ") + f"-instructions-{scenario}"
    )
    counts = instructions.run(scenario, clients, seconds, warmup, folder)
    text = instructions.summary(scenario, counts)
    (folder / f"instructions-{scenario}.md").write_text(
        f"Command: `{report.command_line()}`\n\n"
        f"Server code: {SOURCE.describe()}\n\n{text}\n"
    )
    click.echo(text)
    click.echo(f"wrote {folder}", err=True)


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--results/--no-results", default=False, help="Also update RESULTS.md.")
def render(folder: Path, results: bool) -> None:
    """Write summary.md and the charts of FOLDER again from its result.json."""
    report.render(folder)
    click.echo(f"wrote {folder}/summary.md and charts", err=True)
    if results:
        update_results(folder)
        click.echo(f"updated {RESULTS}", err=True)


def run_scenario(name: str, options: Options) -> ScenarioResult:
    """Run one scenario; a failure becomes a note, so later scenarios still run."""
    summary, function = SCENARIOS[name]
    try:
        return function(options)
    except (PeerFailed, PeerUnavailable, RuntimeError, OSError) as exc:
        logging.getLogger("benchmarks").error("scenario %s failed: %s", name, exc)
        result = ScenarioResult(name, summary, "")
        first = (
            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        )
        result.notes.append(f"the scenario failed: {first}")
        return result


def update_results(folder: Path) -> None:
    """Replace the harness section of RESULTS.md with the summary in `folder`.

    Every other section is kept. The charts stay in the git-ignored output
    folder, so their image links are replaced by one line naming it.
    """
    lines = (folder / "summary.md").read_text().splitlines()
    charts = [line for line in lines if line.startswith("![")]
    kept = [line for line in lines if not line.startswith("![")]
    if charts:
        kept.append(
            f"Charts of this run: `benchmarks/out/{folder.name}/*.png` (not committed)."
        )
    summary = "\n".join(kept).strip()
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    section = f"{BEGIN}\n{summary}\n{END}"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + section + tail
    else:
        text = text.rstrip() + "\n\n## Latest harness run\n\n" + section + "\n"
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
