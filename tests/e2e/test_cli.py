"""`nanoqueue serve`: config files, flags that override them, and start-up errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .server import StartServer, request

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO / "config" / "nanoqueue.toml"


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nanoqueue.toml"
    path.write_text(text)
    return path


def test_default_config_starts(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server("--config", str(DEFAULT_CONFIG))

    reply = request(server, "GET", "/queues")

    assert reply.status == 200
    assert reply.json()["queues"] == ["default", "default-dlq"]
    assert (tmp_path / "data").is_dir()
    server.wait_for_line(r"INFO .*configured queues: 2 created, 0 existed", timeout_s=5)


def test_configured_queues_survive_restart(
    start_server: StartServer, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        """
[[queues]]
name = "jobs"
visibility_timeout_s = 60
redrive_policy = { dead_letter_queue = "jobs-dlq", max_receive_count = 4 }

[[queues]]
name = "jobs-dlq"
""",
    )
    first = start_server("--config", str(config))
    request(first, "POST", "/queues/jobs/messages", {"body": "kept"})
    first.terminate()

    second = start_server("--config", str(config))

    jobs = request(second, "GET", "/queues/jobs").json()
    assert jobs["attributes"]["visibility_timeout_s"] == 60
    assert jobs["attributes"]["redrive_policy"] == {
        "dead_letter_queue": "jobs-dlq",
        "max_receive_count": 4,
    }
    assert jobs["counts"]["visible"] == 1
    second.wait_for_line(r"configured queues: 0 created, 2 existed", timeout_s=5)


def test_flags_override_file(start_server: StartServer, tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """
[server]
host = "127.0.0.2"
port = 1
log_level = "ERROR"

[storage]
data_dir = "from-file"
""",
    )

    server = start_server(
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--data-dir",
        str(tmp_path / "from-flag"),
        "--log-level",
        "debug",
    )

    assert request(server, "GET", "/queues").status == 200
    assert (tmp_path / "from-flag").is_dir()
    assert not (tmp_path / "from-file").exists()
    server.wait_for_line(r"INFO nanoqueue\.server: listening on", timeout_s=5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[storage]\nfsync = "sometimes"\n',
            ["storage.fsync", "'always'", "'everysec'", "'no'"],
        ),
        ("[server]\nport = 70000\n", ["server.port", "65535"]),
        ('[server]\nport = "8484"\n', ["server.port", "int"]),
        ("[server]\nprot = 1\n", ["server.prot", "port"]),
        ("[serve]\nport = 1\n", ["[serve]", "server"]),
        (
            '[[queues]]\nname = "q"\nvisibility_timeout_s = 50000\n',
            ["queues[0].visibility_timeout_s", "43200"],
        ),
        (
            '[[queues]]\nname = "q"\ncolour = "red"\n',
            ["queues[0].colour", "visibility_timeout_s"],
        ),
        ("[server\n", ["not valid TOML"]),
    ],
)
def test_bad_config_stops_start(
    start_server: StartServer, tmp_path: Path, text: str, expected: list[str]
) -> None:
    config = write_config(tmp_path, text)

    server = start_server("--config", str(config), wait=False)
    code = server.wait_exit()

    stderr = server.stderr()
    assert code == 2, stderr
    assert "Traceback" not in stderr
    for fragment in expected:
        assert fragment in stderr


def test_missing_config_file(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server("--config", str(tmp_path / "absent.toml"), wait=False)

    code = server.wait_exit()

    assert code == 2
    assert "absent.toml" in server.stderr()


def test_conflicting_queue_stops_start(
    start_server: StartServer, tmp_path: Path
) -> None:
    first = start_server()
    request(
        first,
        "POST",
        "/queues",
        {"name": "jobs", "attributes": {"visibility_timeout_s": 10}},
    )
    first.terminate()
    config = write_config(
        tmp_path, '[[queues]]\nname = "jobs"\nvisibility_timeout_s = 20\n'
    )

    second = start_server("--config", str(config), wait=False)
    code = second.wait_exit()

    stderr = second.stderr()
    assert code == 2, stderr
    assert "Traceback" not in stderr
    assert "queues[0] (jobs)" in stderr


LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
    r"[a-z_.]+: \S"
)


def test_server_logs_one_line_per_event(
    start_server: StartServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path, "[storage]\nsnapshot_interval_s = 1.0\n")
    server = start_server("--config", str(config))
    request(server, "POST", "/queues", {"name": "items"})
    request(server, "POST", "/queues/items/messages", {"body": "private body text"})
    reply = request(server, "POST", "/queues/items/receive", {})
    (message,) = reply.json()["messages"]

    server.wait_for_line(r"INFO nanoqueue\.storage\.\S+: wrote snapshot", timeout_s=15)
    code = server.terminate()

    assert code == 0
    stderr = server.stderr()
    for line in stderr.splitlines():
        assert LOG_LINE.match(line), line
    assert "INFO nanoqueue.server: listening on http://127.0.0.1:" in stderr
    assert "records replayed" in stderr
    assert "INFO nanoqueue.server: stopped" in stderr
    assert "private body text" not in stderr
    assert message["receipt_handle"] not in stderr


def test_port_in_use_stops_start(start_server: StartServer) -> None:
    first = start_server()

    second = start_server(
        "--port", str(first.port), "--data-dir", "other-data", wait=False
    )
    code = second.wait_exit()

    stderr = second.stderr()
    assert code == 2, stderr
    assert "Traceback" not in stderr
    assert f"cannot listen on 127.0.0.1:{first.port}" in stderr
    assert "address already in use" in stderr


def test_missing_dead_letter_queue_creates_nothing(
    start_server: StartServer, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        '[[queues]]\nname = "ok1"\n\n'
        '[[queues]]\nname = "a"\n'
        'redrive_policy = {dead_letter_queue = "zz", max_receive_count = 3}\n',
    )

    failed = start_server("--config", str(config), wait=False)
    code = failed.wait_exit()

    stderr = failed.stderr()
    assert code == 2, stderr
    assert "queues[1].redrive_policy" in stderr
    assert "'zz'" in stderr
    server = start_server()
    assert request(server, "GET", "/queues").json() == {"queues": []}
