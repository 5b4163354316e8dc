"""Configuration: one frozen dataclass per TOML section, validated on load."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nanoqueue.errors import ConfigError, QueueError
from nanoqueue.queues.model import QueueAttributes, is_valid_queue_name

FSYNC_POLICIES = ("always", "everysec", "no")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8484
    # Largest request body accepted, in bytes. SQS takes up to 1 MiB of
    # messages in one request, and its encodings can triple that: botocore
    # writes "é" as the 6 bytes \u00e9, and the Query protocol writes each
    # non-ASCII byte as %XX. 8 MiB leaves room for that and the framing.
    max_request_bytes: int = 8 * 1024 * 1024
    log_level: str = "INFO"

    def validate(self) -> None:
        _check_range("server.port", self.port, 0, 65535)
        _check_range("server.max_request_bytes", self.max_request_bytes, 1024, 1 << 30)
        _check_choice("server.log_level", self.log_level, LOG_LEVELS)


@dataclass(frozen=True)
class StorageConfig:
    data_dir: str = "data"
    fsync: str = "always"
    snapshot_interval_s: float = 300.0
    snapshot_log_bytes: int = 256 * 1024 * 1024

    def validate(self) -> None:
        if not isinstance(self.data_dir, str) or not self.data_dir:
            raise ConfigError("storage.data_dir must be a non-empty path string")
        _check_choice("storage.fsync", self.fsync, FSYNC_POLICIES)
        _check_range(
            "storage.snapshot_interval_s", self.snapshot_interval_s, 1, 86400 * 7
        )
        _check_range(
            "storage.snapshot_log_bytes", self.snapshot_log_bytes, 1024, 1 << 40
        )


@dataclass(frozen=True)
class ScriptsConfig:
    timeout_ms: int = 1000
    memory_limit_bytes: int = 64 * 1024 * 1024

    def validate(self) -> None:
        _check_range("scripts.timeout_ms", self.timeout_ms, 1, 60_000)
        _check_range(
            "scripts.memory_limit_bytes", self.memory_limit_bytes, 1 << 20, 1 << 34
        )


@dataclass(frozen=True)
class SqsCredential:
    """An access key whose AWS Signature Version 4 signatures are accepted."""

    access_key_id: str = ""
    secret_access_key: str = ""


@dataclass(frozen=True)
class SqsConfig:
    region: str = "us-east-1"
    account_id: str = "000000000000"
    # Base of queue URLs, such as "http://queues.example:8484". Empty means
    # the scheme and Host header the client used.
    public_url: str = ""
    # Empty accepts any request, signed or not. Otherwise every SQS request
    # must carry a valid SigV4 signature by one of these keys.
    credentials: tuple[SqsCredential, ...] = ()

    def validate(self) -> None:
        if not isinstance(self.region, str) or not SQS_REGION.fullmatch(self.region):
            raise ConfigError(
                f"sqs.region is {self.region!r}; use an AWS region name such as "
                "'us-east-1'"
            )
        if not isinstance(self.account_id, str) or not SQS_ACCOUNT_ID.fullmatch(
            self.account_id
        ):
            raise ConfigError(
                f"sqs.account_id is {self.account_id!r}; use 12 digits, such as "
                "'000000000000'"
            )
        if self.public_url and not SQS_PUBLIC_URL.fullmatch(self.public_url):
            raise ConfigError(
                f"sqs.public_url is {self.public_url!r}; use http:// or https://, "
                "a host and an optional port, with no path, such as "
                "'http://localhost:8484'"
            )
        seen: set[str] = set()
        for index, credential in enumerate(self.credentials):
            key = f"sqs.credentials[{index}]"
            if not credential.access_key_id or not credential.secret_access_key:
                raise ConfigError(
                    f"{key} needs a non-empty access_key_id and secret_access_key"
                )
            if credential.access_key_id in seen:
                raise ConfigError(
                    f"{key}.access_key_id {credential.access_key_id!r} is listed "
                    "twice; access key ids must be unique"
                )
            seen.add(credential.access_key_id)


SQS_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
SQS_ACCOUNT_ID = re.compile(r"[0-9]{12}")
SQS_PUBLIC_URL = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+(:[0-9]{1,5})?/?")


@dataclass(frozen=True)
class QueueSpec:
    """A queue that `serve` creates at start; attributes have their native-API names."""

    name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    scripts: ScriptsConfig = field(default_factory=ScriptsConfig)
    sqs: SqsConfig = field(default_factory=SqsConfig)
    # Filled from `[[queues]]` tables rather than one table, so from_mapping
    # reads it with _queue_specs.
    queues: tuple[QueueSpec, ...] = ()

    def validate(self) -> None:
        for section in dataclasses.fields(self):
            value = getattr(self, section.name)
            if hasattr(value, "validate"):
                value.validate()

    def replace(self, section: str, **changes: Any) -> Config:
        """Return a copy with fields of `section` changed, validated."""
        updated = dataclasses.replace(getattr(self, section), **changes)
        config = dataclasses.replace(self, **{section: updated})
        config.validate()
        return config


def _check_choice(key: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(
            f"{key} is {value!r}; allowed values are {', '.join(map(repr, allowed))}"
        )


def _check_range(key: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key} must be a number from {low} to {high}, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{key} is {value}; it must be from {low} to {high}")


def _section(cls: type[Any], name: str, table: object) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}] must be a table, got {type(table).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        spec = known.get(key)
        if spec is None:
            raise ConfigError(
                f"unknown key {name}.{key}; known keys are {', '.join(sorted(known))}"
            )
        default = spec.default
        if (
            isinstance(default, float)
            and isinstance(value, int)
            and not isinstance(value, bool)
        ):
            value = float(value)
        if default is not dataclasses.MISSING and not isinstance(value, type(default)):
            raise ConfigError(
                f"{name}.{key} must be of type {type(default).__name__}, got {value!r}"
            )
        values[key] = value
    if cls is ServerConfig and isinstance(values.get("log_level"), str):
        # Level names are case-insensitive, as for the --log-level flag.
        values["log_level"] = values["log_level"].upper()
    return cls(**values)


QUEUE_ATTRIBUTE_KEYS = frozenset(f.name for f in dataclasses.fields(QueueAttributes))


def _queue_specs(tables: object) -> tuple[QueueSpec, ...]:
    """Read `[[queues]]`: each table has `name`, optional `tags` and attributes."""
    if not isinstance(tables, list):
        raise ConfigError(
            "queues must be an array of tables, written as [[queues]] headers, "
            f"got {type(tables).__name__}"
        )
    specs: list[QueueSpec] = []
    for index, table in enumerate(tables):
        spec = _queue_spec(f"queues[{index}]", table)
        if any(other.name == spec.name for other in specs):
            raise ConfigError(
                f"queues[{index}].name {spec.name!r} is listed twice; names must "
                "be unique"
            )
        specs.append(spec)
    return tuple(specs)


def _queue_spec(key: str, table: object) -> QueueSpec:
    if not isinstance(table, dict):
        raise ConfigError(f"{key} must be a table, got {table!r}")
    attributes = dict(table)
    name = attributes.pop("name", None)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{key}.name is missing: give each [[queues]] a name")
    if not is_valid_queue_name(name):
        raise ConfigError(
            f"{key}.name {name!r} is not a queue name; use 1 to 80 letters, "
            "digits, - and _, with the suffix .fifo for a FIFO queue"
        )
    tags = attributes.pop("tags", {})
    if not isinstance(tags, dict) or not all(
        isinstance(value, str) for value in tags.values()
    ):
        raise ConfigError(f"{key}.tags must be a table of strings, got {tags!r}")
    _check_queue_attributes(key, name, attributes)
    return QueueSpec(name=name, attributes=attributes, tags=tags)


def _check_queue_attributes(key: str, name: str, attributes: dict[str, Any]) -> None:
    for attribute, value in attributes.items():
        if attribute not in QUEUE_ATTRIBUTE_KEYS:
            raise ConfigError(
                f"unknown key {key}.{attribute}; known keys are name, tags, "
                + ", ".join(sorted(QUEUE_ATTRIBUTE_KEYS))
            )
        try:
            QueueAttributes.from_mapping({attribute: value})
        except QueueError as exc:
            raise ConfigError(f"{key}.{attribute}: {exc.message}") from exc

    # A name ending in .fifo makes a FIFO queue, so `fifo` may be left out.
    fifo = attributes.get("fifo", name.endswith(".fifo"))
    if fifo is not name.endswith(".fifo"):
        raise ConfigError(
            f"{key}.fifo is {fifo!r} for queue {name!r}; a FIFO queue's name "
            "ends in .fifo and only a FIFO queue's does"
        )


def _sqs_section(table: object) -> SqsConfig:
    """Read `[sqs]` and its `[[sqs.credentials]]` access keys."""
    if not isinstance(table, dict):
        raise ConfigError(f"[sqs] must be a table, got {type(table).__name__}")
    values = dict(table)
    entries = values.pop("credentials", [])
    if not isinstance(entries, list):
        raise ConfigError(
            "sqs.credentials must be an array of tables, written as "
            f"[[sqs.credentials]] headers, got {type(entries).__name__}"
        )
    credentials = tuple(
        _section(SqsCredential, f"sqs.credentials[{index}]", entry)
        for index, entry in enumerate(entries)
    )
    section: SqsConfig = _section(SqsConfig, "sqs", values)
    return dataclasses.replace(section, credentials=credentials)


def from_mapping(data: dict[str, Any]) -> Config:
    """Build and validate a Config from parsed TOML."""
    sections = {f.name: f for f in dataclasses.fields(Config)}
    values: dict[str, Any] = {}
    for name, table in data.items():
        if name == "queues":
            values[name] = _queue_specs(table)
            continue
        if name == "sqs":
            values[name] = _sqs_section(table)
            continue
        spec = sections.get(name)
        if spec is None:
            raise ConfigError(
                f"unknown section [{name}]; known sections are {', '.join(sorted(sections))}"
            )
        section_type: Any = spec.default_factory
        values[name] = _section(section_type, name, table)
    config = Config(**values)
    config.validate()
    return config


def load(path: str | Path) -> Config:
    """Read a TOML config file; raises ConfigError naming the bad key."""
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {str(path)!r} not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"config file {str(path)!r} is not valid TOML: {exc}"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {str(path)!r} is not valid UTF-8: byte "
            f"0x{exc.object[exc.start]:02x} at offset {exc.start}; save it as UTF-8"
        ) from exc
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {str(path)!r}: {exc.strerror or exc}"
        ) from exc
    return from_mapping(data)
