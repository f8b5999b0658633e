"""`[[ledger.timestamp_authorities]]`: parsed into `TimestampAuthority`, every mistake named by key."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.config import load_config
from archiver.errors import ConfigError


def config_with(tmp_path: Path, authorities: str) -> Path:
    path = tmp_path / "sunshine.toml"
    path.write_text('[ledger]\nname = "t.example/log"\n' + authorities, encoding="utf-8")
    return path


def test_authorities_parse_with_paths_relative_to_the_config(tmp_path):
    path = config_with(tmp_path, '[[ledger.timestamp_authorities]]\nname = "local-tsa"\n'
                                 'url = "http://127.0.0.1:8318/tsr"\nca_file = "keys/tsa-ca.pem"\n'
                                 '[[ledger.timestamp_authorities]]\nname = "second"\n'
                                 'url = "https://tsa.example/"\nca_file = "/etc/ca.pem"\n')
    first, second = load_config(path).timestamp_authorities
    assert (first.name, first.url, first.ca_file) == ("local-tsa", "http://127.0.0.1:8318/tsr",
                                                      tmp_path.resolve() / "keys/tsa-ca.pem")
    assert (second.name, second.ca_file) == ("second", Path("/etc/ca.pem"))


def test_no_authorities_by_default(tmp_path):
    assert load_config(config_with(tmp_path, "")).timestamp_authorities == ()


@pytest.mark.parametrize(("table", "named"), [
    ('name = "a"\nurl = "http://127.0.0.1/"\n', "ledger.timestamp_authorities[0].ca_file"),
    ('name = "a"\nca_file = "ca.pem"\n', "ledger.timestamp_authorities[0].url"),
    ('url = "http://127.0.0.1/"\nca_file = "ca.pem"\n', "ledger.timestamp_authorities[0].name"),
    ('name = "A.b"\nurl = "http://127.0.0.1/"\nca_file = "ca.pem"\n', "ledger.timestamp_authorities[0].name"),
    ('name = "a"\nurl = "ftp://127.0.0.1/"\nca_file = "ca.pem"\n', "ledger.timestamp_authorities[0].url"),
    ('name = "a"\nurl = "http://127.0.0.1/"\nca_file = "ca.pem"\ntimeout = 3\n',
     "ledger.timestamp_authorities[0].timeout"),
])
def test_a_wrong_authority_names_file_and_key(tmp_path, table, named):
    path = config_with(tmp_path, "[[ledger.timestamp_authorities]]\n" + table)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path.resolve()) in str(caught.value) and named in str(caught.value)


def test_duplicate_authority_names_are_refused(tmp_path):
    one = '[[ledger.timestamp_authorities]]\nname = "a"\nurl = "http://127.0.0.1/"\nca_file = "ca.pem"\n'
    with pytest.raises(ConfigError, match=r"timestamp_authorities\[1\].name: duplicate"):
        load_config(config_with(tmp_path, one + one))
