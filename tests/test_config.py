"""Loading and checking the TOML config, and the default file shipped in config/."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from nanoqueue import config
from nanoqueue.config import Config, QueueSpec
from nanoqueue.errors import ConfigError
from nanoqueue.server import dead_letter_queues_first

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "config" / "nanoqueue.toml"


def config_keys() -> list[tuple[str, str]]:
    """Return (section, key) for every key of every table section of Config."""
    keys = []
    for section in dataclasses.fields(Config):
        value = getattr(Config(), section.name)
        if dataclasses.is_dataclass(value):
            keys += [(section.name, key.name) for key in dataclasses.fields(value)]
    return keys


def test_default_file_matches_defaults() -> None:
    loaded = config.load(DEFAULT_CONFIG)

    assert loaded.server == Config().server
    assert loaded.storage == Config().storage
    assert loaded.scripts == Config().scripts
    assert loaded.server.host == "127.0.0.1"
    assert loaded.server.port == 8484
    assert loaded.storage.fsync == "always"


def test_default_file_queues() -> None:
    loaded = config.load(DEFAULT_CONFIG)

    assert [spec.name for spec in loaded.queues] == ["default", "default-dlq"]


def test_queues_read_attributes_and_tags() -> None:
    data = tomllib.loads(
        """
[[queues]]
name = "jobs"
visibility_timeout_s = 60
tags = { team = "billing" }
redrive_policy = { dead_letter_queue = "jobs-dlq", max_receive_count = 5 }
"""
    )

    (spec,) = config.from_mapping(data).queues

    assert spec.name == "jobs"
    assert spec.tags == {"team": "billing"}
    assert spec.attributes == {
        "visibility_timeout_s": 60,
        "redrive_policy": {"dead_letter_queue": "jobs-dlq", "max_receive_count": 5},
    }


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('[queues]\nname = "a"\n', ["[[queues]]"]),
        ("[[queues]]\nvisibility_timeout_s = 1\n", ["queues[0].name"]),
        ('[[queues]]\nname = "no spaces"\n', ["queues[0].name", "'no spaces'"]),
        ('[[queues]]\nname = "a.fifo"\nfifo = false\n', ["queues[0].fifo", "'a.fifo'"]),
        ('[[queues]]\nname = "a"\nfifo = true\n', ["queues[0].fifo", "'a'"]),
        (
            '[[queues]]\nname = "a"\n[[queues]]\nname = "a"\n',
            ["queues[1].name", "twice"],
        ),
        ('[[queues]]\nname = "a"\ntags = { team = 1 }\n', ["queues[0].tags"]),
        ('[[queues]]\nname = "a"\ndelay_s = 901\n', ["queues[0].delay_s", "900"]),
        (
            '[[queues]]\nname = "a"\nVisibilityTimeout = 5\n',
            ["queues[0].VisibilityTimeout", "visibility_timeout_s"],
        ),
        (
            '[[queues]]\nname = "a"\nredrive_policy = { dead_letter_queue = "b" }\n',
            ["queues[0].redrive_policy", "maxReceiveCount"],
        ),
    ],
)
def test_queues_invalid(text: str, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        config.from_mapping(tomllib.loads(text))

    for fragment in fragments:
        assert fragment in caught.value.message


def test_queues_fifo_from_name() -> None:
    data = tomllib.loads('[[queues]]\nname = "orders.fifo"\n')

    (spec,) = config.from_mapping(data).queues

    assert spec.name == "orders.fifo"


def test_dead_letter_queues_come_first() -> None:
    def spec(name: str, dlq: str | None = None) -> QueueSpec:
        attributes = {}
        if dlq is not None:
            attributes["redrive_policy"] = {
                "dead_letter_queue": dlq,
                "max_receive_count": 3,
            }
        return QueueSpec(name=name, attributes=attributes)

    specs = (spec("a", dlq="b"), spec("c"), spec("b", dlq="d"), spec("d"))

    ordered = [s.name for s in dead_letter_queues_first(specs)]

    assert ordered == ["d", "b", "a", "c"]


def test_dead_letter_cycle_rejected() -> None:
    specs = (
        QueueSpec(
            "a", {"redrive_policy": {"dead_letter_queue": "b", "max_receive_count": 1}}
        ),
        QueueSpec(
            "b", {"redrive_policy": {"dead_letter_queue": "a", "max_receive_count": 1}}
        ),
    )

    with pytest.raises(ConfigError, match=r"queues\[0\].*cycle \(a -> b -> a\)"):
        dead_letter_queues_first(specs)


def test_own_dead_letter_queue_rejected() -> None:
    specs = (
        QueueSpec(
            "a", {"redrive_policy": {"dead_letter_queue": "a", "max_receive_count": 1}}
        ),
    )

    with pytest.raises(ConfigError, match=r"cycle \(a -> a\)"):
        dead_letter_queues_first(specs)


@pytest.mark.parametrize(("section", "key"), config_keys())
def test_readme_documents_key(section: str, key: str) -> None:
    readme = (REPO / "README.md").read_text()
    documented = readme[readme.index("## Configuration") :]

    assert f"### `[{section}]`" in documented
    assert re.search(rf"`(\[\[{section}\.)?{key}(\]\])?`", documented), key


@pytest.mark.parametrize(("section", "key"), config_keys())
def test_default_file_shows_key(section: str, key: str) -> None:
    text = DEFAULT_CONFIG.read_text()

    assert f"[{section}]" in text
    assert re.search(rf"^#? ?(\[\[{section}\.)?{key}\b", text, re.MULTILINE), key


def test_invalid_utf8_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(b'[server]\nhost = "\xff"\n')

    with pytest.raises(ConfigError, match="not valid UTF-8: byte 0xff"):
        config.load(path)


def test_directory_as_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        config.load(tmp_path)


def test_log_level_any_case() -> None:
    loaded = config.from_mapping({"server": {"log_level": "debug"}})

    assert loaded.server.log_level == "DEBUG"
