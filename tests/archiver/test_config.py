from pathlib import Path

import pytest

from archiver.config import load_config
from archiver.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sunshine.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_full_config_parses_with_paths_relative_to_the_file(tmp_path):
    path = write(tmp_path, """
[department]
name = "Springfield Police Department"
[storage]
backend = "s3"
bucket = "spd-archive"
endpoint_url = "http://127.0.0.1:9000"
object_lock = true
retention_days = 2555
retention = [{platform = "facebook", kind = "reply", days = 1000}]
[search]
backend = "elasticsearch"
url = "http://127.0.0.1:9200"
[[sources]]
name = "spd-facebook"
platform = "facebook"
account = "123456789"
token_env = "SPD_FB_TOKEN"
""")
    config = load_config(path)
    assert config.storage.bucket == "spd-archive"
    assert config.storage.object_lock is True
    assert config.storage.retention_rules[0].days == 1000
    assert config.search.url == "http://127.0.0.1:9200"
    assert config.sources[0].token_env == "SPD_FB_TOKEN"
    assert config.catalog_path == tmp_path.resolve() / "catalog.sqlite"


def test_defaults_are_the_embedded_backends(tmp_path):
    config = load_config(write(tmp_path, ""))
    assert config.storage.backend == "local"
    assert config.search.backend == "sqlite"
    assert config.storage.path == tmp_path.resolve() / "store"


@pytest.mark.parametrize(("text", "expected"), [
    ("[storage]\nbackend = 's4'", "storage.backend: expected one of local, s3, got 's4'"),
    ("[storage]\nbackend = 's3'", "[storage] bucket: required"),
    ("[search]\nbackend = 'elasticsearch'", "[search] url: required"),
    ("[storage]\nretention_days = -1", "storage.retention_days: expected a positive whole number"),
    ("[[sources]]\nname = 'a'\nplatform = 'myspace'\naccount = 'x'", "sources[0].platform: expected one of"),
    ("[[sources]]\nname = 'a'\nplatform = 'rss'", "sources[0].account: expected a string (required)"),
    ("[storage]\nbukket = 'x'", "storage.bukket: expected one of"),
    ("[[sources]]\nname='a'\nplatform='rss'\naccount='x'\n[[sources]]\nname='a'\nplatform='rss'\naccount='y'",
     "duplicate source name"),
    ("not toml [", "not valid TOML"),
])
def test_config_errors_name_file_key_and_expectation(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(path.resolve() if "TOML" not in expected else path) in str(error.value) or str(path) in str(error.value)
    assert expected in str(error.value)


def test_missing_config_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError, match="sunshine demo --data"):
        load_config(tmp_path / "nope.toml")


def test_portal_public_url_is_optional_and_kept_without_its_trailing_slash(tmp_path):
    assert load_config(write(tmp_path, "")).portal_public_url is None
    config = load_config(write(tmp_path, "[portal]\npublic_url = 'https://records.example.gov/archive/'"))
    assert config.portal_public_url == "https://records.example.gov/archive"


@pytest.mark.parametrize("value", ["records.example.gov", "ftp://example.gov", "https://", "https://x.gov/?a=1",
                                   "https://x.gov/#top", "https://user@x.gov", "https://x.gov:port", "''"])
def test_portal_public_url_must_be_an_http_url(tmp_path, value):
    quoted = value if value == "''" else repr(value)
    path = write(tmp_path, f"[portal]\npublic_url = {quoted}")
    with pytest.raises(ConfigError, match=r"portal\.public_url: expected") as error:
        load_config(path)
    assert str(path.resolve()) in str(error.value)


def test_portal_table_refuses_unknown_keys(tmp_path):
    with pytest.raises(ConfigError, match=r"portal\.base_url: expected one of public_url"):
        load_config(write(tmp_path, "[portal]\nbase_url = 'https://x.gov'"))
