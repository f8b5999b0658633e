from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from archiver.config import bucket_name_problem, load_config
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


@pytest.mark.parametrize(("text", "key", "found"), [
    ("[storage]\nendpoint_url = 'not a url'", "storage.endpoint_url", "'not a url'"),
    ("[storage]\nendpoint_url = 'ftp://minio:9000'", "storage.endpoint_url", "'ftp://minio:9000'"),
    ("[storage]\nendpoint_url = 'http://127.0.0.1:99999'", "storage.endpoint_url", "'http://127.0.0.1:99999'"),
    ("[storage]\nendpoint_url = 'http://key:secret@minio:9000'", "storage.endpoint_url", "secret@minio"),
    ("[storage]\nbackend = 's3'\nbucket = 'Bad_Bucket!'", "storage.bucket", "'Bad_Bucket!'"),
    ("[storage]\nbackend = 's3'\nbucket = 'ab'", "storage.bucket", "'ab'"),
    ("[storage]\nbackend = 's3'\nbucket = 'my..bucket'", "storage.bucket", "'my..bucket'"),
    ("[storage]\nbackend = 's3'\nbucket = '192.168.5.4'", "storage.bucket", "'192.168.5.4'"),
    ("[storage]\nbackend = 's3'\nbucket = 'xn--bucket'", "storage.bucket", "'xn--bucket'"),
    ("[storage]\nbackend = 's3'\nbucket = 'logs-s3alias'", "storage.bucket", "'logs-s3alias'"),
    ("[storage]\nregion = 'us east 1'", "storage.region", "'us east 1'"),
    ("[search]\nbackend = 'elasticsearch'\nurl = 'localhost-9200'", "search.url", "'localhost-9200'"),
    ("[search]\nurl = 'http://localhost:9200/sunshine?x=1'", "search.url", "?x=1"),
    ("[search]\nurl = 'http://localhost:9200/prefix'", "search.url", "/prefix"),
])
def test_bad_urls_buckets_and_regions_are_refused_at_load(tmp_path, text, key, found):
    """Each was accepted before and failed later: a traceback in the S3 client, a 500 from /healthz."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert message.startswith(f"{path.resolve()}: {key}: expected ")
    assert found in message


@pytest.mark.parametrize("bucket", ["spd-archive", "abc", "a.b.c", "records-2026", "0" * 63])
def test_valid_bucket_names_are_kept(tmp_path, bucket):
    config = load_config(write(tmp_path, f"[storage]\nbackend = 's3'\nbucket = '{bucket}'"))
    assert config.storage.bucket == bucket


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000", "https://s3.us-west-2.amazonaws.com",
                                 "http://[::1]:9000/", "https://minio.internal/s3"])
def test_valid_endpoints_are_kept(tmp_path, url):
    assert load_config(write(tmp_path, f"[storage]\nendpoint_url = '{url}'")).storage.endpoint_url == url


@pytest.mark.parametrize("url", ["http://127.0.0.1:9200", "https://es.internal:9243/", "http://localhost"])
def test_valid_search_urls_are_kept(tmp_path, url):
    assert load_config(write(tmp_path, f"[search]\nurl = '{url}'")).search.url == url


@given(st.from_regex(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", fullmatch=True))
def test_any_name_of_letters_digits_and_inner_hyphens_is_a_bucket(name):
    assume(not name.startswith(("xn--", "sthree-", "amzn-s3-demo-")))
    assume(not name.endswith(("-s3alias", "--ol-s3", "--x-s3", "--table-s3")))
    assert bucket_name_problem(name) is None
    assert bucket_name_problem(name.upper() if name.upper() != name else name + "_") is not None
