"""Results on disk: a JSON file, a Markdown summary and PNG charts."""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from benchmarks.harness.peers import SOURCE
from benchmarks.harness.scenarios import Check, ScenarioResult
from benchmarks.harness.targets import Row

ROOT = Path(__file__).resolve().parents[2]
DETAIL_KEYS = (
    "role",
    "event_loop",
    "rate_per_s",
    "sent_per_s",
    "received_per_s",
    "empty_receives",
    "snapshots",
    "connections_at_start",
    "server_cpu_us_per_request",
    "generator_cpu_us_per_request",
    "send_lag_p99_ms",
    "load_average",
    "bytes_per_message",
    "overhead_bytes_per_message",
    "rss_after_mib",
)


def machine() -> dict[str, Any]:
    """Describe the machine, the software versions and the commit of this run."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kib = 0
    try:
        memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cores": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "memory_gib": round(memory_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "commit": SOURCE.commit or _git("rev-parse", "--short", "HEAD"),
        "server_code": SOURCE.describe(),
        "dirty": SOURCE.use_worktree
        and bool(
            _git("status", "--porcelain", "--untracked-files=no", "--", "nanoqueue")
        ),
        "versions": _versions(),
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _versions() -> dict[str, str]:
    versions = {}
    for package in ("aiohttp", "uvloop", "lupa", "orjson", "moto", "redis"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    for command, flag in (("wrk", "-v"), ("redis-server", "--version")):
        try:
            output = subprocess.run(
                [command, flag], capture_output=True, text=True, timeout=5, check=False
            )
            first = (output.stdout or output.stderr).strip().splitlines()
            if first:
                # "wrk debian/4.1.0-3 [epoll] Copyright ..." and "Redis server
                # v=7.0.15 sha=..." both carry the version in their first words.
                words = first[0].replace("Redis server ", "").split()
                versions[command] = " ".join(
                    words[:2] if command == "wrk" else words[:1]
                )
        except (OSError, subprocess.TimeoutExpired):
            pass
    return versions


def command_line() -> str:
    return "python -m benchmarks " + shlex.join(sys.argv[1:])


def write(
    results: list[ScenarioResult], out_dir: Path, started: datetime.datetime
) -> Path:
    """Write result.json, summary.md and the charts into a new folder of `out_dir`."""
    folder = out_dir / (
        started.strftime("%Y%m%dT%H%M%SZ")
        + "-"
        + "-".join(r.name for r in results)[:60]
    )
    folder.mkdir(parents=True, exist_ok=True)
    header = {
        "command": command_line(),
        "started_at": started.isoformat(timespec="seconds"),
        "machine": machine(),
    }
    document = {**header, "scenarios": [result.to_json() for result in results]}
    (folder / "result.json").write_bytes(
        orjson.dumps(document, option=orjson.OPT_INDENT_2)
    )
    charts = write_charts(results, folder)
    (folder / "summary.md").write_text(markdown(header, results, charts))
    return folder


def render(folder: Path) -> None:
    """Rebuild summary.md and the charts of `folder` from its result.json."""
    document = orjson.loads((folder / "result.json").read_bytes())
    results = [_scenario_from_json(data) for data in document["scenarios"]]
    header = {key: document[key] for key in ("command", "started_at", "machine")}
    machine_info = header["machine"]
    machine_info.setdefault("server_code", f"commit {machine_info.get('commit', '')}")
    charts = write_charts(results, folder)
    (folder / "summary.md").write_text(markdown(header, results, charts))


def _scenario_from_json(data: dict[str, Any]) -> ScenarioResult:
    rows = []
    for figures in data["rows"]:
        values = {
            key: value for key, value in figures.items() if key != "slow_requests"
        }
        rows.append(Row(**values))
    return ScenarioResult(
        data["name"],
        data["title"],
        data["description"],
        rows=rows,
        checks=[Check(**check) for check in data["checks"]],
        notes=data["notes"],
        figures=data["figures"],
        seconds_taken=data["seconds_taken"],
    )


def markdown(
    header: dict[str, Any],
    results: list[ScenarioResult],
    charts: list[str] | None = None,
) -> str:
    """Render the run's header and every scenario as Markdown."""
    info = header["machine"]
    lines = [
        f"Command: `{header['command']}`",
        "",
        f"Date: {header['started_at']} · server code: {info['server_code']}"
        + (" (with uncommitted changes in nanoqueue/)" if info["dirty"] else ""),
        "",
        f"Machine: {info['cores']} cores, {info['cpu_model']}, {info['memory_gib']} GiB, "
        f"Linux {info['kernel']}, Python {info['python']}; "
        + ", ".join(f"{name} {version}" for name, version in info["versions"].items()),
        "",
    ]
    for result in results:
        lines += _scenario_markdown(result)
    for chart in charts or []:
        lines += [f"![{chart}]({chart})", ""]
    return "\n".join(lines)


def markdown_scenario(result: ScenarioResult) -> str:
    """Render one scenario's table, ratios and checks as Markdown."""
    return "\n".join(_scenario_markdown(result))


def _scenario_markdown(result: ScenarioResult) -> list[str]:
    lines = [f"### {result.title} (`{result.name}`)", "", result.description, ""]
    if result.rows:
        lines += [
            "| target | clients | requests/s | messages/s | p50 ms | p90 ms | p99 ms | max ms | errors | server CPU | server peak RSS | details |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for row in result.rows:
            if row.skipped:
                lines.append(f"| {row.target} | skipped: {row.skipped} |||||||||||")
                continue
            latency = row.latency_ms
            server = row.server
            details = ", ".join(
                f"{key}={row.extra[key]}" for key in DETAIL_KEYS if key in row.extra
            )
            if server.get("runqueue_wait_fraction"):
                waited = (
                    f"server waited for a CPU {server['runqueue_wait_fraction']:.0%}"
                )
                details = f"{details}, {waited}" if details else waited
            lines.append(
                f"| {row.target} | {row.clients} | {row.requests_per_s:,.0f} | {row.messages_per_s:,.0f} | "
                f"{_ms(latency, 'p50')} | {_ms(latency, 'p90')} | {_ms(latency, 'p99')} | {_ms(latency, 'max')} | "
                f"{row.errors} | {_cores(server)} | {_mib(server)} | {details} |"
            )
        lines.append("")
    ratios = result.to_json()["comparisons"]
    if ratios:
        lines.append("Ratios in this run (same generator):")
        lines.append("")
        for ratio in ratios:
            value = ratio["ratio"]
            shown = (
                "n/a"
                if value is None
                else (f"{value:.2f}" if value < 10 else f"{value:,.0f}")
            )
            lines.append(
                f"- {ratio['nanoqueue']} / {ratio['peer']}: {shown} ({ratio['kind']})"
            )
        lines.append("")
    if result.checks:
        lines += ["| figure | target | measured | met |", "| --- | --- | --- | --- |"]
        for check in result.checks:
            met = {True: "yes", False: "**no**", None: "n/a"}[check.passed]
            lines.append(
                f"| {check.figure} | {check.target} | {check.measured} | {met} |"
            )
        lines.append("")
    if result.figures:
        lines.append("Figures: `" + orjson.dumps(result.figures).decode() + "`")
        lines.append("")
    for note in result.notes:
        lines += [f"Note: {note}", ""]
    return lines


def _ms(latency: dict[str, float], key: str) -> str:
    return f"{latency[key]:.2f}" if key in latency else ""


def _cores(server: dict[str, Any]) -> str:
    return f"{server['cpu_cores']:.0%}" if "cpu_cores" in server else ""


def _mib(server: dict[str, Any]) -> str:
    return f"{server['peak_rss_mib']:.0f} MiB" if "peak_rss_mib" in server else ""


def write_charts(results: list[ScenarioResult], folder: Path) -> list[str]:
    """Draw throughput against concurrency and latency percentiles; return file names."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    names = []
    for result in results:
        if result.name == "sweep":
            names.append(_sweep_chart(plt, result, folder))
        rows = [
            row for row in result.rows if not row.skipped and row.latency_ms.get("p99")
        ]
        if rows and result.name not in ("memory", "sweep"):
            names.append(_latency_chart(plt, result, rows, folder))
    return names


def _sweep_chart(plt: Any, result: ScenarioResult, folder: Path) -> str:
    figure, axis = plt.subplots(figsize=(7, 4.5))
    series: dict[str, list[tuple[int, float]]] = {}
    for row in result.rows:
        if not row.skipped:
            series.setdefault(row.target, []).append(
                (row.clients, row.messages_per_s or row.requests_per_s)
            )
    for label, points in series.items():
        points.sort()
        axis.plot(
            [p[0] for p in points], [p[1] for p in points], marker="o", label=label
        )
    levels = sorted({row.clients for row in result.rows if not row.skipped})
    axis.set_xscale("log", base=2)
    axis.set_xticks(levels, [str(level) for level in levels])
    axis.set_xlabel("concurrent clients")
    axis.set_ylabel("single sends per second")
    axis.set_title("Throughput against concurrency")
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)
    name = "throughput-vs-clients.png"
    figure.tight_layout()
    figure.savefig(folder / name, dpi=110)
    plt.close(figure)
    return name


def _latency_chart(
    plt: Any, result: ScenarioResult, rows: list[Any], folder: Path
) -> str:
    figure, axis = plt.subplots(figsize=(8, 0.5 * len(rows) + 2))
    percentiles = ("p50", "p90", "p99", "max")
    height = 0.8 / len(percentiles)
    for index, key in enumerate(percentiles):
        axis.barh(
            [position + index * height for position in range(len(rows))],
            [row.latency_ms.get(key, 0) for row in rows],
            height=height,
            label=key,
        )
    axis.set_yticks([position + 0.4 - height / 2 for position in range(len(rows))])
    axis.set_yticklabels([row.target for row in rows], fontsize=7)
    axis.invert_yaxis()
    axis.set_xscale("log")
    axis.set_xlabel("latency, ms (log scale)")
    axis.set_title(f"Latency percentiles: {result.title}")
    axis.legend(fontsize=8)
    axis.grid(True, axis="x", alpha=0.3)
    name = f"latency-{result.name}.png"
    figure.tight_layout()
    figure.savefig(folder / name, dpi=110)
    plt.close(figure)
    return name
