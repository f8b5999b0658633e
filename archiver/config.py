"""`sunshine.toml`, parsed once into frozen dataclasses and passed down.

Nothing deeper in the code reads the file or the environment: the CLI calls `load_config` and hands
the result on. Relative paths are resolved against the config file's folder, so an archive folder
(as `sunshine demo --data DIR` writes it) can be moved as a whole. Secrets never live in the file:
sources name an environment variable (`token_env`), S3 keys come from the usual AWS variables.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archiver.errors import ConfigError
from archiver.ledger.policy import Policy, PolicyError, parse_policy

PLATFORMS = ("bluesky", "mastodon", "facebook", "instagram", "youtube", "x", "rss", "web")
STORAGE_BACKENDS = ("local", "s3")
SEARCH_BACKENDS = ("sqlite", "elasticsearch")
DEFAULT_CONFIG = "sunshine.toml"


@dataclass(frozen=True)
class RetentionRule:
    """Retention in days for one platform and/or record kind (None matches any)."""

    days: int
    platform: str | None = None
    kind: str | None = None


RETENTION_TRIGGERS = ("last_capture", "created")


@dataclass(frozen=True)
class RetentionSchedule:
    """`[[retention.schedules]]`: a record series (a platform and/or kind; None matches any) kept
    `days` after its trigger event: the record's last capture, or its creation on the platform."""

    series: str
    days: int
    trigger: str = "last_capture"
    platform: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class StorageConfig:
    backend: str = "local"
    path: Path = Path("store")
    bucket: str | None = None
    endpoint_url: str | None = None
    region: str = "us-east-1"
    prefix: str = ""
    object_lock: bool = False
    retention_days: int = 2555
    retention_rules: tuple[RetentionRule, ...] = ()
    spool_path: Path = Path("spool")
    # `[retention] schedules`, kept beside the `[storage] retention` rules so disposition reads one
    # policy (`archiver.retention`): a matching schedule wins over the rules.
    retention_schedules: tuple[RetentionSchedule, ...] = ()


@dataclass(frozen=True)
class ClerkConfig:
    """`[clerk]`: the clerk app (`clerk.create_clerk_app`). `secure_cookies`: the session cookie is
    sent only over HTTPS (turn off only for a clerk app reached over plain HTTP on a private host);
    `secret_key_path`: the key that signs session cookies, created on first start (mode 0600);
    `session_hours`: a session ends this long after sign-in."""

    secure_cookies: bool = True
    secret_key_path: Path = Path("keys/clerk-session.key")
    session_hours: int = 8


@dataclass(frozen=True)
class SearchConfig:
    backend: str = "sqlite"
    path: Path = Path("search.sqlite")
    url: str | None = None
    index: str = "sunshine"


@dataclass(frozen=True)
class ArchiveConfig:
    """`[archive]`: how much of each source a run walks again, and the limits it keeps to.

    `recent_days`: threads whose post is this recent (measured back from the source's newest post)
    are re-swept, and their records checked for deletion, on every run. `revisit_days`: older threads
    are revisited in a rotating slice so each is rechecked within this period. `media_max_bytes`:
    larger media are skipped, with the reason recorded. `pause_after_seconds`: a platform asking to
    wait longer than this (a spent rate-limit window or quota) pauses the source until the next run.
    """

    recent_days: int = 30
    revisit_days: int = 30
    media_max_bytes: int = 100 * 1024 * 1024
    pause_after_seconds: int = 60


@dataclass(frozen=True)
class SourceConfig:
    name: str
    platform: str
    account: str
    token_env: str | None = None
    base_url: str | None = None
    # Units of the platform's daily quota this source may spend (YouTube: 10,000 per API project by
    # default); None: the platform meters no units, or the source is not limited.
    daily_quota: int | None = None

    def token(self) -> str | None:
        """The access token, read from the environment variable the config names (never the file)."""
        return os.environ.get(self.token_env) if self.token_env else None


@dataclass(frozen=True)
class TimestampAuthority:
    """An RFC 3161 time-stamping authority (`[[ledger.timestamp_authorities]]`).

    `name` names its tokens in the store (`ledger/checkpoints/<size>.<name>.tsr`), so it must stay
    the same for as long as those tokens are kept; `ca_file` holds the PEM root certificate(s) its
    signing certificate must chain to, read when a token is requested or verified.
    """

    name: str
    url: str
    ca_file: Path


# Florida's public-records exemptions most often met in police social media (Fla. Stat. ch. 119):
# a department elsewhere lists its own statutes under `[redaction] bases`.
DEFAULT_REDACTION_BASES = (
    "Fla. Stat. 119.071(2)(f)",  # confidential informant / active criminal investigative information
    "Fla. Stat. 119.071(2)(h)",  # identity of a victim of a sexual offense
    "Fla. Stat. 119.071(2)(j)",  # victim's address and phone number, on request
    "Fla. Stat. 119.071(5)(a)",  # social security numbers
    "Fla. Stat. 985.04(1)",  # juvenile (minor) offender records
)


@dataclass(frozen=True)
class Config:
    path: Path
    department: str = "Police Department"
    catalog_path: Path = Path("catalog.sqlite")
    ledger_key_path: Path = Path("keys/ledger.key")
    ledger_name: str = "sunshine.example/log"
    storage: StorageConfig = field(default_factory=StorageConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    sources: tuple[SourceConfig, ...] = ()
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    # Where the public portal is reached (`[portal] public_url`, e.g. "https://records.example.gov"),
    # for commands printed on its pages; never taken from a request's Host header, which anyone sets.
    portal_public_url: str | None = None
    # RFC 3161 TSAs asked to timestamp each signed checkpoint (`archiver.ledger.timestamp`).
    timestamp_authorities: tuple[TimestampAuthority, ...] = ()
    # `[ledger] witness_policy`: the C2SP tlog-policy naming the witnesses that must cosign a
    # checkpoint before it is published as the latest (`archiver.ledger.policy`); None = no witnesses.
    witness_policy: Policy | None = None
    # `[redaction] bases`: the legal bases (statute citations) a clerk may name for a redaction;
    # a redaction naming any other is refused (`archiver.redaction`).
    redaction_bases: tuple[str, ...] = DEFAULT_REDACTION_BASES
    clerk: ClerkConfig = field(default_factory=ClerkConfig)

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def default_config_path() -> Path:
    return Path(os.environ.get("SUNSHINE_CONFIG", DEFAULT_CONFIG))


def load_config(path: Path | str | None = None) -> Config:
    """Read and validate a config file; every problem is a `ConfigError` naming file and key."""
    path = Path(path) if path is not None else default_config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found (pass -c FILE, set SUNSHINE_CONFIG, "
            f"or create one with `sunshine demo --data DIR`)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, path.resolve())


def parse_config(data: dict[str, Any], path: Path) -> Config:
    reader = _Reader(path)
    base = path.parent
    known = {"department", "storage", "search", "sources", "catalog", "ledger", "portal", "archive", "redaction",
             "retention", "clerk"}
    reader.no_unknown(data, known, "")
    department = reader.table(data, "department")
    reader.no_unknown(department, {"name"}, "department")
    catalog = reader.table(data, "catalog")
    reader.no_unknown(catalog, {"path"}, "catalog")
    ledger = reader.table(data, "ledger")
    reader.no_unknown(ledger, {"key_path", "name", "timestamp_authorities", "witness_policy"}, "ledger")
    key_env = os.environ.get("SUNSHINE_LEDGER_KEY")
    key_path = Path(key_env) if key_env else reader.path(ledger, "key_path", "ledger", base, "keys/ledger.key")
    return Config(
        path=path,
        department=reader.string(department, "name", "department", "Police Department"),
        catalog_path=reader.path(catalog, "path", "catalog", base, "catalog.sqlite"),
        ledger_key_path=key_path,
        ledger_name=reader.string(ledger, "name", "ledger", "sunshine.example/log"),
        storage=_storage(reader, reader.table(data, "storage"), base, reader.table(data, "retention")),
        search=_search(reader, reader.table(data, "search"), base),
        sources=_sources(reader, data.get("sources", []), base),
        portal_public_url=_public_url(reader, reader.table(data, "portal")),
        archive=_archive(reader, reader.table(data, "archive")),
        timestamp_authorities=_timestamp_authorities(reader, ledger, base),
        witness_policy=_witness_policy(reader, ledger, base),
        redaction_bases=_redaction_bases(reader, reader.table(data, "redaction")),
        clerk=_clerk(reader, reader.table(data, "clerk"), base),
    )


def _clerk(reader: _Reader, table: dict[str, Any], base: Path) -> ClerkConfig:
    reader.no_unknown(table, {"secure_cookies", "secret_key_path", "session_hours"}, "clerk")
    default = ClerkConfig()
    return ClerkConfig(
        secure_cookies=reader.boolean(table, "secure_cookies", "clerk", default.secure_cookies),
        secret_key_path=reader.path(table, "secret_key_path", "clerk", base, str(default.secret_key_path)),
        session_hours=reader.positive_int(table, "session_hours", "clerk", default.session_hours),
    )


def _retention_schedules(reader: _Reader, table: dict[str, Any]) -> tuple[RetentionSchedule, ...]:
    """`[[retention.schedules]]`: series (unique), days, optional platform, kind and trigger."""
    reader.no_unknown(table, {"schedules"}, "retention")
    schedules: list[RetentionSchedule] = []
    for index, item in enumerate(reader.array(table, "schedules", "retention")):
        where = f"retention.schedules[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{reader.path_name}: [{where}]: expected a table with series, days, platform, kind, "
                              "trigger")
        reader.no_unknown(item, {"series", "days", "platform", "kind", "trigger"}, where)
        series = reader.string(item, "series", where, None)
        if any(schedule.series == series for schedule in schedules):
            raise ConfigError(f"{reader.path_name}: {where}.series: duplicate record series {series!r}")
        platform = reader.optional_choice(item, "platform", where, PLATFORMS)
        kind = reader.optional_choice(item, "kind", where, ("post", "reply", "media"))
        if any((schedule.platform, schedule.kind) == (platform, kind) for schedule in schedules):
            raise ConfigError(f"{reader.path_name}: {where}: another schedule already covers platform "
                              f"{platform or 'any'} and kind {kind or 'any'}")
        schedules.append(RetentionSchedule(
            series=series, days=reader.positive_int(item, "days", where, None),
            trigger=reader.choice(item, "trigger", where, RETENTION_TRIGGERS, "last_capture"),
            platform=platform, kind=kind))
    return tuple(schedules)


def _redaction_bases(reader: _Reader, table: dict[str, Any]) -> tuple[str, ...]:
    """`[redaction] bases`: a non-empty list of distinct, non-empty statute citations."""
    reader.no_unknown(table, {"bases"}, "redaction")
    if "bases" not in table:
        return DEFAULT_REDACTION_BASES
    value = table["bases"]
    expected = "a non-empty array of distinct statute citations (strings)"
    if not isinstance(value, list) or not value or not all(isinstance(item, str) and item.strip() for item in value):
        raise reader._fail("redaction", "bases", expected, value)
    bases = tuple(item.strip() for item in value)
    if len(set(bases)) != len(bases):
        raise reader._fail("redaction", "bases", expected, value)
    return bases


def _witness_policy(reader: _Reader, ledger: dict[str, Any], base: Path) -> Policy | None:
    """`[ledger] witness_policy`: tlog-policy text (several lines) or the path of a file holding it."""
    value = reader.optional_string(ledger, "witness_policy", "ledger")
    if value is None:
        return None
    if "\n" in value:
        source, text = f"{reader.path_name}: ledger.witness_policy", value
    else:
        path = reader.path(ledger, "witness_policy", "ledger", base, "")
        source = f"{reader.path_name}: ledger.witness_policy file {path}"
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        return parse_policy(text, source)
    except PolicyError as exc:
        raise ConfigError(str(exc)) from None


# A TSA's name is part of its tokens' store keys: short, lowercase, no dots (they separate the parts).
_TSA_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")


def _timestamp_authorities(reader: _Reader, ledger: dict[str, Any], base: Path) -> tuple[TimestampAuthority, ...]:
    """`[[ledger.timestamp_authorities]]`: name, url and ca_file, each required; names unique."""
    authorities: list[TimestampAuthority] = []
    for index, item in enumerate(reader.array(ledger, "timestamp_authorities", "ledger")):
        where = f"ledger.timestamp_authorities[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{reader.path_name}: [{where}]: expected a table with name, url, ca_file")
        reader.no_unknown(item, {"name", "url", "ca_file"}, where)
        name = reader.string(item, "name", where, None)
        if not _TSA_NAME.match(name):
            raise reader._fail(where, "name", "1 to 32 lowercase letters, digits and inner hyphens", name)
        if any(authority.name == name for authority in authorities):
            raise ConfigError(f"{reader.path_name}: {where}.name: duplicate timestamp authority name {name!r}")
        url = reader.optional_url(item, "url", where, "https://tsa.example/tsr")
        if url is None:
            raise reader._fail(where, "url", "an http(s) URL (required)")
        reader.string(item, "ca_file", where, None)  # required: a token is only as good as its root
        authorities.append(TimestampAuthority(name=name, url=url,
                                              ca_file=reader.path(item, "ca_file", where, base, "")))
    return tuple(authorities)


def _public_url(reader: _Reader, table: dict[str, Any]) -> str | None:
    """`[portal] public_url`: an http(s) URL with a host and nothing after the path, no trailing slash."""
    reader.no_unknown(table, {"public_url"}, "portal")
    url = reader.optional_url(table, "public_url", "portal", "https://records.example.gov")
    return url.rstrip("/") if url is not None else None


# S3 general purpose bucket naming rules:
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
# botocore's own rule for a region name (botocore.regions, `_validate_region_name`)
_REGION = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")


def bucket_name_problem(name: str) -> str | None:
    """Why `name` is not a valid S3 bucket name, or None if it is (checked at load, because S3
    would refuse it only at the first request, deep inside a run)."""
    if not _BUCKET.match(name):
        return "3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit"
    if ".." in name:
        return "no two adjacent dots"
    try:
        ipaddress.IPv4Address(name)
        return "a name, not an IP address"
    except ValueError:
        pass
    if name.startswith(_BUCKET_PREFIXES) or name.endswith(_BUCKET_SUFFIXES):
        return (f"a name not starting with {', '.join(_BUCKET_PREFIXES)} nor ending with "
                f"{', '.join(_BUCKET_SUFFIXES)} (reserved by S3)")
    return None


def _storage(reader: _Reader, table: dict[str, Any], base: Path,
             retention: dict[str, Any] | None = None) -> StorageConfig:
    keys = {"backend", "path", "bucket", "endpoint_url", "region", "prefix", "object_lock",
            "retention_days", "retention", "spool_path"}
    reader.no_unknown(table, keys, "storage")
    backend = reader.choice(table, "backend", "storage", STORAGE_BACKENDS, "local")
    bucket = reader.optional_string(table, "bucket", "storage")
    if backend == "s3" and not bucket:
        raise ConfigError(f"{reader.path_name}: [storage] bucket: required when backend = \"s3\"")
    if bucket is not None and (problem := bucket_name_problem(bucket)) is not None:
        raise reader._fail("storage", "bucket", f"an S3 bucket name: {problem}", bucket)
    region = reader.string(table, "region", "storage", "us-east-1")
    if not _REGION.match(region):
        raise reader._fail("storage", "region", "an AWS region name such as \"us-east-1\"", region)
    rules = []
    for index, rule in enumerate(reader.array(table, "retention", "storage")):
        where = f"storage.retention[{index}]"
        if not isinstance(rule, dict):
            raise ConfigError(f"{reader.path_name}: [{where}]: expected a table with days, platform, kind")
        reader.no_unknown(rule, {"days", "platform", "kind"}, where)
        rules.append(RetentionRule(
            days=reader.positive_int(rule, "days", where, None),
            platform=reader.optional_choice(rule, "platform", where, PLATFORMS),
            kind=reader.optional_choice(rule, "kind", where, ("post", "reply", "media")),
        ))
    return StorageConfig(
        backend=backend,
        path=reader.path(table, "path", "storage", base, "store"),
        bucket=bucket,
        endpoint_url=reader.optional_url(table, "endpoint_url", "storage", "http://127.0.0.1:9000"),
        region=region,
        prefix=reader.string(table, "prefix", "storage", ""),
        object_lock=reader.boolean(table, "object_lock", "storage", False),
        retention_days=reader.positive_int(table, "retention_days", "storage", 2555),
        retention_rules=tuple(rules),
        spool_path=reader.path(table, "spool_path", "storage", base, "spool"),
        retention_schedules=_retention_schedules(reader, retention or {}),
    )


def _search(reader: _Reader, table: dict[str, Any], base: Path) -> SearchConfig:
    reader.no_unknown(table, {"backend", "path", "url", "index"}, "search")
    backend = reader.choice(table, "backend", "search", SEARCH_BACKENDS, "sqlite")
    url = reader.optional_url(table, "url", "search", "http://127.0.0.1:9200", path=False)
    if backend == "elasticsearch" and not url:
        raise ConfigError(f"{reader.path_name}: [search] url: required when backend = \"elasticsearch\"")
    return SearchConfig(
        backend=backend,
        path=reader.path(table, "path", "search", base, "search.sqlite"),
        url=url,
        index=reader.string(table, "index", "search", "sunshine"),
    )


def _archive(reader: _Reader, table: dict[str, Any]) -> ArchiveConfig:
    reader.no_unknown(table, {"recent_days", "revisit_days", "media_max_bytes", "pause_after_seconds"}, "archive")
    default = ArchiveConfig()
    return ArchiveConfig(
        recent_days=reader.positive_int(table, "recent_days", "archive", default.recent_days),
        revisit_days=reader.positive_int(table, "revisit_days", "archive", default.revisit_days),
        media_max_bytes=reader.positive_int(table, "media_max_bytes", "archive", default.media_max_bytes),
        pause_after_seconds=reader.positive_int(table, "pause_after_seconds", "archive",
                                                default.pause_after_seconds),
    )


def _sources(reader: _Reader, items: Any, base: Path) -> tuple[SourceConfig, ...]:
    if not isinstance(items, list):
        raise ConfigError(f"{reader.path_name}: sources: expected [[sources]] tables")
    sources: list[SourceConfig] = []
    for index, item in enumerate(items):
        where = f"sources[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{reader.path_name}: {where}: expected a table")
        reader.no_unknown(item, {"name", "platform", "account", "token_env", "base_url", "daily_quota"}, where)
        name = reader.string(item, "name", where, None)
        if any(source.name == name for source in sources):
            raise ConfigError(f"{reader.path_name}: {where}.name: duplicate source name {name!r}")
        sources.append(SourceConfig(
            name=name,
            platform=reader.choice(item, "platform", where, PLATFORMS, None),
            account=reader.string(item, "account", where, None),
            token_env=reader.optional_string(item, "token_env", where),
            base_url=reader.optional_string(item, "base_url", where),
            daily_quota=reader.positive_int(item, "daily_quota", where, None) if "daily_quota" in item else None,
        ))
    return tuple(sources)


class _Reader:
    """Typed access to TOML tables whose errors name the file and the dotted key."""

    def __init__(self, path: Path) -> None:
        self.path_name = str(path)

    def _fail(self, where: str, key: str, expected: str, value: Any = None) -> ConfigError:
        dotted = f"{where}.{key}" if where else key
        got = "" if value is None else f", got {value!r}"
        return ConfigError(f"{self.path_name}: {dotted}: expected {expected}{got}")

    def no_unknown(self, table: dict[str, Any], known: set[str], where: str) -> None:
        for key in table:
            if key not in known:
                raise self._fail(where, key, f"one of {', '.join(sorted(known))} (unknown key)")

    def table(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self._fail("", key, "a table", value)
        return value

    def array(self, data: dict[str, Any], key: str, where: str) -> list[Any]:
        value = data.get(key, [])
        if not isinstance(value, list):
            raise self._fail(where, key, "an array of tables", value)
        return value

    def string(self, data: dict[str, Any], key: str, where: str, default: str | None) -> str:
        if key not in data:
            if default is None:
                raise self._fail(where, key, "a string (required)")
            return default
        value = data[key]
        if not isinstance(value, str) or (default is None and not value.strip()):
            raise self._fail(where, key, "a non-empty string", value)
        return value

    def optional_string(self, data: dict[str, Any], key: str, where: str) -> str | None:
        return self.string(data, key, where, None) if key in data else None

    def choice(self, data: dict[str, Any], key: str, where: str, options: tuple[str, ...],
               default: str | None) -> str:
        value = self.string(data, key, where, default)
        if value not in options:
            raise self._fail(where, key, f"one of {', '.join(options)}", value)
        return value

    def optional_url(self, data: dict[str, Any], key: str, where: str, example: str, *,
                     path: bool = True) -> str | None:
        """An http(s) URL with a host, a valid port if any, and no credentials, query or fragment
        (credentials never live in the file); without `path`, nothing after the port but "/"."""
        url = self.optional_string(data, key, where)
        if url is None:
            return None
        expected = f"an http(s) URL such as \"{example}\"" + ("" if path else " (scheme, host and port only)")
        try:
            parts = urlsplit(url.strip())
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number or out of range
        except ValueError:
            raise self._fail(where, key, expected, url) from None
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
                or parts.username or parts.password or any(char.isspace() for char in url.strip()) \
                or (not path and parts.path not in ("", "/")):
            raise self._fail(where, key, expected, url)
        return url.strip()

    def optional_choice(self, data: dict[str, Any], key: str, where: str,
                        options: tuple[str, ...]) -> str | None:
        return self.choice(data, key, where, options, None) if key in data else None

    def boolean(self, data: dict[str, Any], key: str, where: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise self._fail(where, key, "true or false", value)
        return value

    def positive_int(self, data: dict[str, Any], key: str, where: str, default: int | None) -> int:
        if key not in data and default is not None:
            return default
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self._fail(where, key, "a positive whole number", value)
        return value

    def path(self, data: dict[str, Any], key: str, where: str, base: Path, default: str) -> Path:
        value = Path(self.string(data, key, where, default)).expanduser()
        return value if value.is_absolute() else base / value
