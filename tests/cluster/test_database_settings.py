"""The database settings of `ivr serve`: the URL from the environment, a bad one refused
before anything starts, never shown by the settings' repr, and each instance's name."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ivr.adapters.errors import ConfigError
from ivr.adapters.hosting.config import from_environment
from ivr.adapters.hosting.stores import records_place


def test_the_url_comes_from_the_environment_and_its_password_is_never_shown() -> None:
    url = "postgresql://ivr:hunter2@db.example:5433/center"
    config = from_environment({"IVR_DATABASE_URL": url, "IVR_INSTANCE_ID": "site1-a"})
    assert (config.database_url, config.instance) == (url, "site1-a")
    assert "hunter2" not in repr(config)
    assert records_place(config) == "PostgreSQL ivr@db.example:5433/center (instance site1-a)"


def test_a_flag_overrides_the_environment() -> None:
    config = from_environment({"IVR_DATABASE_URL": "postgresql://a@h/x"}, database_url="postgresql://b@h/y")
    assert config.database_url == "postgresql://b@h/y"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://ivr:hunter2@db/ivr", "must start with postgresql://"),
        ("postgresql://ivr:hunter2@db/ivr?nosuch=1", "cannot be read"),
        ("postgresql://ivr:hunter2@[::1/ivr", "cannot be read"),  # libpq quotes the whole URL
    ],
)
def test_a_bad_url_is_refused_without_its_password(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as refused:
        from_environment({}, database_url=url)
    assert "hunter2" not in str(refused.value)


def test_without_a_url_the_records_stay_in_the_sqlite_file(tmp_path: Path) -> None:
    config = from_environment({}, data_dir=tmp_path)
    assert config.database_url == "" and records_place(config) == str(tmp_path / "calls.sqlite3")


def test_an_instance_is_named_by_its_host_and_port_or_its_folder_when_the_port_is_picked(
    tmp_path: Path,
) -> None:
    host = socket.gethostname()
    assert from_environment({}, sip_port=5071).instance == f"{host}:5071"
    assert from_environment({}, sip_port=0, data_dir=tmp_path).instance == f"{host}:{tmp_path.resolve()}"
