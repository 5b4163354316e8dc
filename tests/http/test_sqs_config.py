"""The [sqs] config section: defaults, TOML loading and validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nanoqueue import config as config_module
from nanoqueue.config import ConfigError, SqsCredential


def test_sqs_defaults() -> None:
    sqs = config_module.Config().sqs

    assert sqs.region == "us-east-1"
    assert sqs.account_id == "000000000000"
    assert sqs.public_url == ""
    assert sqs.credentials == ()


def test_sqs_section_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "nanoqueue.toml"
    path.write_text(
        """
[sqs]
region = "eu-west-1"
account_id = "123456789012"
public_url = "https://queues.example.test:8443"

[[sqs.credentials]]
access_key_id = "AKIDONE"
secret_access_key = "one"

[[sqs.credentials]]
access_key_id = "AKIDTWO"
secret_access_key = "two"
"""
    )

    sqs = config_module.load(path).sqs

    assert sqs.region == "eu-west-1"
    assert sqs.account_id == "123456789012"
    assert sqs.public_url == "https://queues.example.test:8443"
    assert sqs.credentials == (
        SqsCredential("AKIDONE", "one"),
        SqsCredential("AKIDTWO", "two"),
    )


def test_shipped_config_loads() -> None:
    path = Path(__file__).parents[2] / "config" / "nanoqueue.toml"

    assert config_module.load(path).sqs == config_module.Config().sqs


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"region": "Europe"}, "sqs.region is 'Europe'"),
        ({"region": 1}, "sqs.region must be of type str"),
        ({"account_id": "12345"}, "sqs.account_id is '12345'; use 12 digits"),
        ({"public_url": "queues.example:80"}, "sqs.public_url is 'queues.example:80'"),
        ({"public_url": "http://host/path"}, "with no path"),
        ({"colour": "blue"}, "unknown key sqs.colour"),
        ({"credentials": {"access_key_id": "a"}}, "sqs.credentials must be an array"),
        (
            {"credentials": [{"access_key_id": "AKID"}]},
            "sqs.credentials[0] needs a non-empty access_key_id and secret_access_key",
        ),
        (
            {"credentials": [{"access_key_id": "A", "secret_access_key": "s", "x": 1}]},
            "unknown key sqs.credentials[0].x",
        ),
        (
            {
                "credentials": [
                    {"access_key_id": "A", "secret_access_key": "s"},
                    {"access_key_id": "A", "secret_access_key": "t"},
                ]
            },
            "sqs.credentials[1].access_key_id 'A' is listed twice",
        ),
    ],
)
def test_sqs_section_rejects_bad_values(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        config_module.from_mapping({"sqs": section})

    assert message in error.value.message
