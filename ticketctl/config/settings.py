"""Settings: ``ticketctl.yaml`` < ``TICKETCTL_*`` environment < command-line flags.

Every setting is declared once, as a field of the frozen settings objects with
its parser, default and help in the field's metadata. The table :data:`FIELDS`,
the environment mapping (``ports.mysql`` ↔ ``TICKETCTL_PORTS__MYSQL``), the
building of the objects, ``ticketctl config`` and the flat view the Kubernetes
Job gets are derived from those fields, so they can never disagree.

Errors name where the bad value came from: ``ticketctl.yaml:7: ports.mysql:
…``, ``TICKETCTL_PORTS__MYSQL: …`` or ``--port: …``.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, cast

from ticketctl import __version__
from ticketctl.config.files import read_text
from ticketctl.config.masking import mask_url, remember_url_credentials
from ticketctl.errors import ConfigError

CONFIG_FILENAME = "ticketctl.yaml"
ENV_PREFIX = "TICKETCTL_"
# Environment variables with the prefix that are not settings (read elsewhere).
ENV_NOT_SETTINGS = frozenset({"TICKETCTL_CONFIG", "TICKETCTL_DEBUG", "TICKETCTL_NO_COLOR"})
# Variables of the test harness (scripts/test-services) share the prefix but are not settings.
ENV_TEST_PREFIX = "TICKETCTL_TEST_"

PROJECT_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# Database and user names are interpolated into DDL, so they are kept to a safe subset.
SQL_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
HEAP_RE = re.compile(r"^[1-9][0-9]*[mMgG]$")
SIZE_RE = re.compile(r"^[1-9][0-9]*(b|kb|mb|gb)$", re.IGNORECASE)
INDEX_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,200}$")
# Kubernetes names: a namespace is a DNS-1123 label, a Secret or StorageClass a DNS-1123 subdomain.
DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN_RE = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
STORAGE_SIZE_RE = re.compile(r"^[1-9][0-9]*(Mi|Gi|Ti)$")
CPU_QUANTITY_RE = re.compile(r"^([1-9][0-9]*m|[0-9]+(\.[0-9]{1,3})?)$")
MEMORY_QUANTITY_RE = re.compile(r"^[1-9][0-9]*(Ki|Mi|Gi|Ti|k|M|G|T)?$")
KNOWN_PROFILES = ("apps",)
MAX_MAP_COUNT_CHOICES = ("no-mmap", "node", "init-container")
PULL_POLICIES = ("IfNotPresent", "Always", "Never")
# A registry host (with a port or a dot, or localhost) and an optional path below it.
IMAGE_REGISTRY_RE = re.compile(r"^(localhost|[a-z0-9-]+(\.[a-z0-9-]+)+|[a-z0-9.-]+:[0-9]+)(:[0-9]+)?(/[a-z0-9._-]+)*$")
SEARCH_ENGINES = ("elasticsearch", "opensearch")


# --------------------------------------------------------------------------- value parsers


class _Invalid(ValueError):
    """A value failed its parser; the message says what was expected."""


def _parse_str(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Invalid(f"expected a string, got {_describe(value)}")
    text = str(value).strip()
    if not text:
        raise _Invalid("must not be empty")
    return text


def _parse_optional_str(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.strip() in ("", "null", "~")):
        return None
    return _parse_str(value)


def _parse_int(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise _Invalid(f"expected an integer {low}-{high}, got {_describe(value)}")
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"-?[0-9]+", text):
            raise _Invalid(f"expected an integer {low}-{high}, got {value!r}")
        value = int(text)
    if not isinstance(value, int):
        raise _Invalid(f"expected an integer {low}-{high}, got {_describe(value)}")
    if not low <= value <= high:
        raise _Invalid(f"expected an integer {low}-{high}, got {value}")
    return value


def _port(value: Any) -> int:
    return _parse_int(value, 1, 65535)


def _optional_port(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.strip() in ("", "null")):
        return None
    return _port(value)


def _int_range(low: int, high: int) -> Callable[[Any], int]:
    return lambda value: _parse_int(value, low, high)


def _optional_int_range(low: int, high: int) -> Callable[[Any], int | None]:
    def parse(value: Any) -> int | None:
        if value is None or (isinstance(value, str) and value.strip() in ("", "null", "~")):
            return None
        return _parse_int(value, low, high)

    return parse


def _positive_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _Invalid(f"expected a number of seconds, got {_describe(value)}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Invalid(f"expected a number of seconds, got {value!r}") from None
    if not number > 0 or number != number or number == float("inf"):
        raise _Invalid(f"expected a positive number of seconds, got {value!r}")
    return number


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "no", "off", "0"):
        return False
    raise _Invalid(f"expected true or false, got {value!r}")


def _choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _parse_str(value).lower()
        if text not in choices:
            raise _Invalid(f"expected one of {', '.join(choices)}, got {value!r}")
        return text

    return parse


def _pattern(regex: re.Pattern[str], expected: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _parse_str(value)
        if not regex.fullmatch(text):
            raise _Invalid(f"expected {expected}, got {text!r}")
        return text

    return parse


def _optional_pattern(regex: re.Pattern[str], expected: str) -> Callable[[Any], str | None]:
    parse = _pattern(regex, expected)

    def parse_optional(value: Any) -> str | None:
        return None if _parse_optional_str(value) is None else parse(value)

    return parse_optional


def _pull_policy(value: Any) -> str:
    text = _parse_str(value)
    for policy in PULL_POLICIES:
        if text.lower() == policy.lower():
            return policy
    raise _Invalid(f"expected one of {', '.join(PULL_POLICIES)}, got {text!r}")


def _list_items(value: Any, what: str) -> list[Any]:
    """A YAML list or a comma-separated string (an environment variable), empty items dropped."""
    items = [part.strip() for part in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise _Invalid(f"expected a list of {what}, got {_describe(value)}")
    return [item for item in items if item != ""]


def _secret_names(value: Any) -> tuple[str, ...]:
    names = [] if value is None else _list_items(value, "Secret names")
    for name in names:
        if not isinstance(name, str) or not DNS_SUBDOMAIN_RE.fullmatch(name):
            raise _Invalid(f"expected Kubernetes Secret names, got {name!r}")
    return tuple(dict.fromkeys(names))


def _image(value: Any) -> str:
    text = _parse_str(value)
    if any(ch.isspace() for ch in text) or text.startswith(("-", ":", "@")):
        raise _Invalid(f"expected an image reference like 'mysql:8.4', got {text!r}")
    return text


def _url(value: Any) -> str | None:
    text = _parse_optional_str(value)
    if text is None:
        return None
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", text):
        raise _Invalid(f"expected an http:// or https:// URL, got {text!r}")
    return text.rstrip("/")


def _profiles(value: Any) -> tuple[str, ...]:
    items = [] if value is None else _list_items(value, f"profiles ({', '.join(KNOWN_PROFILES)})")
    for item in items:
        if not isinstance(item, str) or item not in KNOWN_PROFILES:
            raise _Invalid(f"unknown profile {item!r}; known profiles: {', '.join(KNOWN_PROFILES)}")
    return tuple(dict.fromkeys(items))


def _auto_or_bool(value: Any) -> bool | str:
    """``auto`` (decided where it is used), true or false."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        return _parse_bool(value)
    except _Invalid:
        raise _Invalid(f"expected auto, true or false, got {value!r}") from None


def _replicas(value: Any) -> int | str:
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        return _parse_int(value, 0, 10)
    except _Invalid:
        raise _Invalid(f"expected 'auto' or an integer 0-10, got {value!r}") from None


def _resources(value: Any) -> str | None:
    """Validate ``cpu=250m,memory=512Mi`` (either key optional); empty means none."""
    text = _parse_optional_str(value)
    if text is None:
        return None
    patterns = {"cpu": CPU_QUANTITY_RE, "memory": MEMORY_QUANTITY_RE}
    found: dict[str, str] = {}
    for item in text.split(","):
        key, _, quantity = (part.strip() for part in item.partition("="))
        if key not in patterns or not patterns[key].fullmatch(quantity) or key in found:
            raise _Invalid(f"expected cpu=<quantity>,memory=<quantity> such as 'cpu=250m,memory=512Mi', got {text!r}")
        found[key] = quantity
    return ",".join(f"{key}={found[key]}" for key in patterns if key in found)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


# --------------------------------------------------------------------------- declaring a setting


@dataclass(frozen=True)
class _Declared:
    """What a field of a settings object declares about itself (its dataclass field's metadata)."""

    parse: Callable[[Any], Any]
    default: Any
    help: str
    name: str | None = None  # the last part of the dotted path, where it is not the attribute's name
    resolve: Callable[[Any, _Resolving], Any] | None = None  # the value as given → the value the model holds
    show: Callable[[Any], Any] | None = None  # the value the model holds → the value as a user writes it
    url: bool = False  # a URL: the password of its userinfo is a secret, masked wherever the value is shown


def _setting(
    parse: Callable[[Any], Any],
    default: Any,
    help: str,
    *,
    name: str | None = None,
    resolve: Callable[[Any, _Resolving], Any] | None = None,
    show: Callable[[Any], Any] | None = None,
    url: bool = False,
) -> Any:
    """A field that is a setting. ``default`` and ``help`` may name the ``{placeholders}`` of its group."""
    return field(metadata={_SETTING: _Declared(parse, default, help, name, resolve, show, url)})


def _optional_setting(regex: re.Pattern[str], expected: str, help: str) -> Any:
    """A setting that is unset (None) by default and, when set, must match ``regex``."""
    return _setting(_optional_pattern(regex, expected), None, help)


def _group(kind: type, **context: str) -> Any:
    """A field holding a settings object of ``kind``; ``context`` fills its placeholders and plain fields."""
    return field(metadata={_GROUP: (kind, context)})


_SETTING = "ticketctl.setting"
_GROUP = "ticketctl.group"


@dataclass(frozen=True)
class _Resolving:
    """What resolving a value may look at: every setting's value and the folder relative paths start from."""

    values: Mapping[str, Any]
    base_dir: Path


def _relative_path(value: str | None, resolving: _Resolving) -> Path | None:
    """A folder or file setting, relative to the settings file's folder (else the working directory)."""
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else resolving.base_dir / path


def _relative_file(value: str | None, resolving: _Resolving) -> str | None:
    """A TLS file setting: relative like output_dir, held as text for the clients' own parameters."""
    path = _relative_path(value, resolving)
    return None if path is None else str(path)


def _or_setting(path: str) -> Callable[[Any, _Resolving], Any]:
    """Unset means the value of the setting ``path`` (mysql.port is ports.mysql unless given)."""
    return lambda value, resolving: value if value is not None else resolving.values[path]


def _snapshots_dir(value: str | None, resolving: _Resolving) -> Path:
    """Unset means ``<output_dir>/snapshots``: the snapshots live beside the stack they were taken from."""
    if value is not None:
        return cast(Path, _relative_path(value, resolving))
    return cast(Path, _relative_path(resolving.values["output_dir"], resolving)) / "snapshots"


def _lower(value: str, resolving: _Resolving) -> str:
    return value.lower()


def _search_url(value: str | None, resolving: _Resolving) -> str:
    return value or f"http://127.0.0.1:{resolving.values['ports.search']}"


def _resource_pairs(text: str | None, resolving: _Resolving) -> tuple[tuple[str, str], ...]:
    """``cpu=250m,memory=512Mi`` (already validated) → ``(("cpu", "250m"), ("memory", "512Mi"))``."""
    if not text:
        return ()
    return tuple((key, quantity) for key, _, quantity in (item.partition("=") for item in text.split(",")))


def _format_resources(pairs: tuple[tuple[str, str], ...]) -> str | None:
    return ",".join(f"{key}={quantity}" for key, quantity in pairs) or None


def _optional_text(value: Path | None) -> str | None:
    return None if value is None else str(value)


class _ByName:
    """Item access by field name, for settings objects that hold one value per stack component."""

    def __getitem__(self, name: str) -> Any:
        if name not in {item.name for item in fields(cast(Any, self))}:
            raise KeyError(name)
        return getattr(self, name)


# --------------------------------------------------------------------------- the settings objects

_SQL_NAME = _pattern(SQL_IDENTIFIER_RE, "a database name of letters, digits and _")
_SQL_USER = _pattern(SQL_IDENTIFIER_RE, "a MySQL user name of letters, digits and _")
_STORAGE_SIZE = _pattern(STORAGE_SIZE_RE, "a size such as 10Gi")


@dataclass(frozen=True)
class Images:
    mysql: str = _setting(_image, "mysql:8.4", "MySQL 8 server image (the official image or a compatible one).")
    redis: str = _setting(_image, "redis:7.4", "Redis server image.")
    elasticsearch: str = _setting(
        _image,
        "docker.elastic.co/elasticsearch/elasticsearch:8.19.21",
        "Elasticsearch image, used when search.engine is elasticsearch.",
    )
    opensearch: str = _setting(
        _image, "opensearchproject/opensearch:3.6.0", "OpenSearch image, used when search.engine is opensearch."
    )
    apps: str = _setting(
        _image, "busybox:1.37", "Image of the nine application placeholders (profile 'apps'); needs sh and sleep."
    )
    ticketctl: str = _setting(
        _image,
        f"ticketctl:{__version__}",
        "Image of ticketctl itself (Dockerfile at the repository root) for the Kubernetes setup Job.",
    )


@dataclass(frozen=True)
class Ports:
    mysql: int = _setting(_port, 3306, "Host port published for MySQL.")
    redis: int = _setting(_port, 6379, "Host port published for Redis.")
    search: int = _setting(_port, 9200, "Host port published for the search engine's HTTP API.")
    apps: int = _setting(
        _int_range(1024, 65000),
        8080,
        "First host port of the application placeholders (gateway gets it, the others count up).",
    )


def database_password_secret(key: str) -> str:
    """Name of the secret in ``.env`` that holds the password of database ``key``'s application user."""
    return f"{key.upper()}_DB_PASSWORD"


@dataclass(frozen=True)
class DatabaseSettings:
    """One of the three logical databases: its key, schema name and application user."""

    key: str
    name: str = _setting(_SQL_NAME, "{key}_db", "Database of the {service}.")
    user: str = _setting(_SQL_USER, "{key}_app", "Application user of the {key} database.")

    @property
    def password_env(self) -> str:
        """Name of the secret in ``.env`` that holds this user's password."""
        return database_password_secret(self.key)


@dataclass(frozen=True)
class MySQLSettings:
    host: str = _setting(_parse_str, "127.0.0.1", "Host that migrate and doctor connect to.")
    port: int = _setting(
        _optional_port,
        None,
        "Port that migrate and doctor connect to (default: ports.mysql).",
        resolve=_or_setting("ports.mysql"),
    )
    root_user: str = _setting(_SQL_USER, "root", "Administrative user used to create databases when they are missing.")
    ssl_ca: str | None = _setting(
        _parse_optional_str,
        None,
        "CA file for TLS to a remote MySQL; when set, TLS is required and the server's certificate and name verified.",
        resolve=_relative_file,
    )
    ssl_cert: str | None = _setting(
        _parse_optional_str,
        None,
        "Client certificate file for a MySQL account that REQUIRE X509 (with mysql.ssl_key); enables TLS.",
        resolve=_relative_file,
    )
    ssl_key: str | None = _setting(
        _parse_optional_str, None, "Private key file of mysql.ssl_cert.", resolve=_relative_file
    )
    connect_timeout: float = _setting(_positive_float, 5.0, "Seconds to wait for a MySQL connection.")
    lock_timeout: int = _setting(
        _int_range(0, 3600), 30, "Seconds migrate waits for another migrate's lock on the same database."
    )
    events: DatabaseSettings = _group(DatabaseSettings, key="events", service="events service")
    inventory: DatabaseSettings = _group(DatabaseSettings, key="inventory", service="inventory service")
    bookings: DatabaseSettings = _group(DatabaseSettings, key="bookings", service="booking service")

    @property
    def databases(self) -> tuple[DatabaseSettings, ...]:
        """The three databases, in the order of their declaration."""
        return tuple(getattr(self, name) for name in DATABASE_KEYS)

    def database(self, key: str) -> DatabaseSettings:
        for database in self.databases:
            if database.key == key:
                return database
        raise ConfigError(
            f"unknown database {key!r}",
            hint=f"use one of: {', '.join(db.key for db in self.databases)}",
        )


@dataclass(frozen=True)
class RedisSettings:
    host: str = _setting(_parse_str, "127.0.0.1", "Host that doctor connects to for Redis.")
    port: int = _setting(
        _optional_port, None, "Redis port for doctor (default: ports.redis).", resolve=_or_setting("ports.redis")
    )
    db: int = _setting(_int_range(0, 15), 0, "Redis logical database for locks and cache.")
    tls: bool = _setting(_parse_bool, False, "Connect to Redis over TLS (a managed Redis).")
    ca_certs: str | None = _setting(
        _parse_optional_str,
        None,
        "CA bundle that verifies the Redis server's certificate with redis.tls (default: the system's CAs).",
        resolve=_relative_file,
    )
    maxmemory: str = _setting(
        _pattern(SIZE_RE, "a size such as 256mb"),
        "256mb",
        "Redis memory limit; with noeviction, writes fail at the limit instead of evicting locks.",
        resolve=_lower,
    )


@dataclass(frozen=True)
class SearchSettings:
    engine: str = _setting(_choice(*SEARCH_ENGINES), "elasticsearch", "Search engine: elasticsearch or opensearch.")
    url: str = _setting(
        _url,
        None,
        "Search engine URL (default: http://127.0.0.1:<ports.search>).",
        resolve=_search_url,
        url=True,
    )
    username: str | None = _setting(
        _parse_optional_str, None, "User for a secured remote cluster (password: SEARCH_PASSWORD)."
    )
    verify_certs: bool = _setting(_parse_bool, True, "Verify the TLS certificate of an https:// search URL.")
    ca_certs: str | None = _setting(
        _parse_optional_str, None, "CA bundle for an https:// search URL.", resolve=_relative_file
    )
    heap: str = _setting(
        _pattern(HEAP_RE, "a JVM heap size such as 512m or 1g"),
        "512m",
        "JVM heap of the search engine (-Xms and -Xmx).",
        resolve=_lower,
    )
    nofile: int = _setting(
        _int_range(1024, 1048576),
        65536,
        "Open-files limit (ulimit nofile) of the search container; lower it where the Docker Engine's own "
        "limit is lower (rootless Docker, sandboxed CI).",
    )
    mapping: Path | None = _setting(
        _parse_optional_str,
        None,
        "Mapping file of the events index (default: the packaged mappings/events.json).",
        resolve=_relative_path,
        show=_optional_text,
    )
    index: str = _setting(
        _pattern(INDEX_NAME_RE, "a lowercase index name"),
        "events",
        "Alias of the events index; concrete indices are <alias>_v<N>.",
    )
    shards: int = _setting(_int_range(1, 64), 1, "Primary shards of the events index.")
    replicas: int | str = _setting(
        _replicas, "auto", "Replicas of the events index; 'auto' is 0 on a single data node."
    )
    timeout: float = _setting(_positive_float, 10.0, "Seconds per search engine request.")

    @property
    def image_setting(self) -> str:
        return f"images.{self.engine}"


@dataclass(frozen=True)
class KubernetesStorage(_ByName):
    """The size of each stateful service's volume claim."""

    mysql: str = _setting(_STORAGE_SIZE, "10Gi", "Size of the volume claim of MySQL.")
    redis: str = _setting(_STORAGE_SIZE, "2Gi", "Size of the volume claim of Redis.")
    search: str = _setting(_STORAGE_SIZE, "10Gi", "Size of the volume claim of the search engine.")


def _resource_setting(which: str) -> Any:
    """``requests`` or ``limits``: written ``cpu=…,memory=…``, held as (resource, quantity) pairs."""
    return _setting(
        _resources,
        "{" + which + "}",
        f"CPU and memory {which} of {{title}}, as cpu=…,memory=… ('' for none).",
        resolve=_resource_pairs,
        show=_format_resources,
    )


@dataclass(frozen=True)
class WorkloadResources:
    """Requests and limits of one Kubernetes workload, as (resource, quantity) pairs."""

    requests: tuple[tuple[str, str], ...] = _resource_setting("requests")
    limits: tuple[tuple[str, str], ...] = _resource_setting("limits")


@dataclass(frozen=True)
class KubernetesResources(_ByName):
    """Requests and limits of each workload; CPU is requested but not limited (a limit throttles a database)."""

    mysql: WorkloadResources = _group(
        WorkloadResources, title="MySQL", requests="cpu=250m,memory=512Mi", limits="memory=1Gi"
    )
    redis: WorkloadResources = _group(
        WorkloadResources, title="Redis", requests="cpu=100m,memory=384Mi", limits="memory=512Mi"
    )
    search: WorkloadResources = _group(
        WorkloadResources, title="the search engine", requests="cpu=500m,memory=1Gi", limits="memory=1Gi"
    )
    apps: WorkloadResources = _group(
        WorkloadResources,
        title="each application placeholder",
        requests="cpu=10m,memory=16Mi",
        limits="memory=64Mi",
    )
    job: WorkloadResources = _group(
        WorkloadResources,
        title="the setup Job (migrate, index create)",
        requests="cpu=100m,memory=128Mi",
        limits="memory=512Mi",
    )


@dataclass(frozen=True)
class KubernetesJob:
    """The setup Job (migrate, index create): how long it may take and how long it is kept."""

    deadline: int = _setting(
        _int_range(60, 86400),
        1800,
        "Seconds the setup Job may run in all, waiting and retries included (activeDeadlineSeconds); "
        "an image that cannot be pulled fails it then.",
    )
    ttl: int | None = _setting(
        _optional_int_range(0, 31536000),
        None,
        "Seconds after which a finished setup Job is deleted (default: kept; a GitOps tool would "
        "otherwise create and run it again).",
    )


@dataclass(frozen=True)
class KubernetesSettings:
    """Settings of ``render --target kubernetes``; the Compose target ignores them."""

    namespace: str | None = _optional_setting(
        DNS_LABEL_RE,
        "a DNS label: lowercase letters, digits and -, at most 63",
        "Namespace of the manifests (default: the project name with _ turned into -).",
    )
    existing_secret: str | None = _optional_setting(
        DNS_SUBDOMAIN_RE,
        "a Kubernetes Secret name",
        "Name of an existing Secret holding the stack's passwords; then no Secret manifest is written.",
    )
    storage_class: str | None = _optional_setting(
        DNS_SUBDOMAIN_RE,
        "a StorageClass name",
        "StorageClass of the volume claims (default: the cluster's default class).",
    )
    max_map_count: str = _setting(
        _choice(*MAX_MAP_COUNT_CHOICES),
        "no-mmap",
        "How the search engine copes with vm.max_map_count: no-mmap (node.store.allow_mmap: false, "
        "Pod Security restricted), node (the nodes already set it to 262144 or more; restricted), "
        "init-container (a privileged init container raises it; the namespace becomes privileged).",
    )
    create_namespace: bool = _setting(
        _parse_bool,
        True,
        "Render the namespace (with its Pod Security labels); false for a namespace you manage, "
        "which kubectl delete -k then never deletes.",
    )
    image_registry: str | None = _optional_setting(
        IMAGE_REGISTRY_RE,
        "a registry host, maybe with a path: registry.example.com/mirror",
        "Registry (and path) put before every image that names none (default: Docker Hub, written docker.io/...).",
    )
    image_pull_policy: str = _setting(
        _pull_policy, "IfNotPresent", "imagePullPolicy of every container: IfNotPresent, Always or Never."
    )
    image_pull_secrets: tuple[str, ...] = _setting(
        _secret_names,
        (),
        "Secrets (comma-separated names in the namespace) the pods pull their images with.",
        show=list,
    )
    job: KubernetesJob = _group(KubernetesJob)
    pod_disruption_budget: bool = _setting(
        _parse_bool,
        False,
        "A PodDisruptionBudget per stateful service (node drains then wait until you move it yourself).",
    )
    network_policy: bool = _setting(
        _parse_bool,
        True,
        "A default-deny NetworkPolicy for incoming traffic that admits only the stack's own pods.",
    )
    storage: KubernetesStorage = _group(KubernetesStorage)
    resources: KubernetesResources = _group(KubernetesResources)


@dataclass(frozen=True)
class Settings:
    """The validated, frozen settings of one ticketctl invocation."""

    project: str = _setting(
        _pattern(PROJECT_NAME_RE, "a Compose project name matching [a-z0-9][a-z0-9_-]*"),
        "ticketing",
        "Compose project name; prefixes containers, network and volumes.",
    )
    profiles: tuple[str, ...] = _setting(
        _profiles, (), "Optional profiles to start: 'apps' adds the nine application placeholders.", show=list
    )
    bind_address: str = _setting(
        _pattern(re.compile(r"^[0-9.]+$|^[0-9a-fA-F:]+$"), "an IP address such as 127.0.0.1"),
        "127.0.0.1",
        "Host address that published ports bind to; anything but loopback prints a warning.",
    )
    output_dir: Path = _setting(
        _parse_str,
        ".",
        "Folder where render writes docker-compose.yml, .env and .env.example.",
        resolve=_relative_path,
        show=str,
    )
    templates_dir: Path | None = _setting(
        _parse_optional_str,
        None,
        "Folder of your own Jinja2 templates overriding the packaged ones (same file names).",
        resolve=_relative_path,
        show=_optional_text,
    )
    schemas_dir: Path | None = _setting(
        _parse_optional_str,
        None,
        "Folder of your migrations, with events/, inventory/ and bookings/ (default: the packaged schemas).",
        resolve=_relative_path,
        show=_optional_text,
    )
    snapshots_dir: Path = _setting(
        _parse_optional_str,
        None,
        "Folder of `ticketctl snapshot` (default: <output_dir>/snapshots).",
        name="snapshots.dir",
        resolve=_snapshots_dir,
        show=str,
    )
    images: Images = _group(Images)
    ports: Ports = _group(Ports)
    mysql: MySQLSettings = _group(MySQLSettings)
    redis: RedisSettings = _group(RedisSettings)
    search: SearchSettings = _group(SearchSettings)
    docker_enabled: bool = _setting(
        _parse_bool,
        True,
        "Manage the stack with Docker; false for remote endpoints only (doctor skips Docker checks).",
        name="docker.enabled",
    )
    docker_start_interval: bool | str = _setting(
        _auto_or_bool,
        "auto",
        "Write healthcheck.start_interval (faster health during start) into docker-compose.yml: auto when the "
        "Docker Engine at hand has it (Engine 25+, API 1.44), true or false; docker compose up refuses it on "
        "older Engines.",
        name="docker.start_interval",
    )
    wait_timeout: float = _setting(_positive_float, 300.0, "Seconds up waits for all services to become healthy.")
    kubernetes: KubernetesSettings = _group(KubernetesSettings)
    config_file: Path | None = None
    # The settings file sets nothing (empty, or comments only): every value is a default or from elsewhere.
    config_empty: bool = False
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def search_image(self) -> str:
        return self.images.elasticsearch if self.search.engine == "elasticsearch" else self.images.opensearch

    @property
    def binds_publicly(self) -> bool:
        """True when published ports are reachable from other hosts."""
        return self.bind_address not in ("127.0.0.1", "::1")

    def source_of(self, path: str) -> str:
        """Where a setting's value came from: a file:line, an env var, a flag or 'default'."""
        return self.sources.get(path, "default")


# --------------------------------------------------------------------------- the table, derived


@dataclass(frozen=True)
class FieldSpec:
    """One setting as the table lists it: its dotted path, parser, default and help, and where the model holds it."""

    path: str
    parse: Callable[[Any], Any]
    default: Any
    help: str
    attributes: tuple[str, ...]  # the attribute names from Settings down to the value
    resolve: Callable[[Any, _Resolving], Any] | None = None
    show: Callable[[Any], Any] | None = None
    url: bool = False

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.path.upper().replace(".", "__")

    def value_in(self, settings: Settings) -> Any:
        """This setting's effective value in ``settings``, as a user would write it."""
        value: Any = settings
        for attribute in self.attributes:
            value = getattr(value, attribute)
        return self.show(value) if self.show is not None else value


def _declared_fields(
    kind: type, path: str = "", attributes: tuple[str, ...] = (), context: Mapping[str, str] | None = None
) -> list[FieldSpec]:
    """Every setting of the settings object ``kind`` and the objects it holds, in declaration order."""
    specs: list[FieldSpec] = []
    for item in fields(kind):
        declared = item.metadata.get(_SETTING)
        if declared is not None:
            default, help_text = declared.default, declared.help
            if context:
                help_text = help_text.format(**context)
                default = default.format(**context) if isinstance(default, str) else default
            specs.append(
                FieldSpec(
                    path + (declared.name or item.name),
                    declared.parse,
                    default,
                    help_text,
                    (*attributes, item.name),
                    declared.resolve,
                    declared.show,
                    declared.url,
                )
            )
        elif _GROUP in item.metadata:
            group_kind, group_context = item.metadata[_GROUP]
            specs += _declared_fields(group_kind, f"{path}{item.name}.", (*attributes, item.name), group_context)
    return specs


FIELDS: dict[str, FieldSpec] = {spec.path: spec for spec in _declared_fields(Settings)}
DATABASE_KEYS = tuple(item.name for item in fields(MySQLSettings) if _GROUP in item.metadata)
# Workloads whose requests and limits are settings, and stateful services whose volume size is one.
KUBERNETES_WORKLOADS = tuple(item.name for item in fields(KubernetesResources))
KUBERNETES_VOLUMES = tuple(item.name for item in fields(KubernetesStorage))


# --------------------------------------------------------------------------- loading


@dataclass
class _Value:
    value: Any
    source: str


def load_settings(
    config_file: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, tuple[Any, str]] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Load and validate settings.

    ``config_file`` is the ``--config`` flag; without it (and without
    ``TICKETCTL_CONFIG``) the nearest ``ticketctl.yaml`` in ``cwd`` or a parent
    folder is used (:func:`find_config_file`). ``overrides`` maps a dotted path
    to ``(value, flag name)`` for command-line flags, which win over the
    environment, which wins over the file.
    """
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    path = _explicit_config_file(config_file, environ, cwd)
    if path is None and config_file is None:
        path = find_config_file(cwd, _home(environ))
    raw: dict[str, _Value] = {}
    if path is not None:
        raw.update(_read_config_file(path, cwd))
    empty = path is not None and not raw
    raw.update(_read_environment(environ))
    for key, (value, flag) in (overrides or {}).items():
        if key not in FIELDS:
            raise ConfigError(f"{flag}: internal error, unknown setting {key!r}")
        if value is not None:
            raw[key] = _Value(value, flag)
    values, sources = _validate(raw)
    base_dir = path.parent if path is not None else cwd
    return _build(values, sources, path, base_dir, empty=empty)


def _explicit_config_file(config_file: str | Path | None, environ: Mapping[str, str], cwd: Path) -> Path | None:
    """The file named by --config or TICKETCTL_CONFIG, which must exist; None when neither names one."""
    explicit = config_file if config_file is not None else environ.get("TICKETCTL_CONFIG") or None
    if explicit is None:
        return None
    path = Path(explicit).expanduser()
    path = path if path.is_absolute() else cwd / path
    if not path.is_file():
        raise ConfigError(
            f"{explicit}: settings file not found",
            hint="check the --config path, or run without it to use the nearest ticketctl.yaml or the defaults",
        )
    return path


def find_config_file(start: Path, home: Path | None) -> Path | None:
    """The nearest ``ticketctl.yaml`` in ``start`` or a parent folder, as git and Compose find theirs.

    The search stops after the home folder (a file above it belongs to nobody's project) and at
    the boundary of the file system ``start`` is on, as git does without GIT_DISCOVERY_ACROSS_FILESYSTEM.
    """
    folder = start.absolute()
    try:
        device = folder.stat().st_dev
    except OSError:
        device = None
    while True:
        candidate = folder / CONFIG_FILENAME
        if candidate.is_file():
            return candidate
        parent = folder.parent
        if parent == folder or (home is not None and folder == home):
            return None
        try:
            if device is not None and parent.stat().st_dev != device:
                return None
        except OSError:
            return None
        folder = parent


def _home(environ: Mapping[str, str]) -> Path | None:
    home = environ.get("HOME")
    return Path(home).absolute() if home else None


def _read_config_file(path: Path, cwd: Path) -> dict[str, _Value]:
    """Parse the YAML file into dotted paths, remembering each key's line."""
    import yaml

    display = _display_path(path, cwd)
    text = read_text(path, display, unreadable="cannot read settings file")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{display}:{mark.line + 1}" if mark is not None else display
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(
            f"{where}: invalid YAML: {problem}",
            hint="fix the YAML syntax at that line (indentation, a missing ':' or an unclosed quote)",
        ) from error
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(
            f"{display}:{node.start_mark.line + 1}: expected a mapping of settings at the top level",
            hint="start the file with 'project: <name>' style keys; see 'ticketctl config --help'",
        )
    values: dict[str, _Value] = {}
    _flatten_node(node, "", display, values)
    return values


def _flatten_node(node: Any, prefix: str, display: str, out: dict[str, _Value]) -> None:
    import yaml

    seen: set[str] = set()
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        key = str(key_node.value)
        path = f"{prefix}{key}"
        where = f"{display}:{line}"
        if path in seen:
            raise ConfigError(f"{where}: {path}: set twice in the same file", hint="keep one of the two lines")
        seen.add(path)
        if path in FIELDS:
            out[path] = _Value(_node_to_python(value_node), where)
        elif any(name.startswith(path + ".") for name in FIELDS):
            if isinstance(value_node, yaml.MappingNode):
                _flatten_node(value_node, path + ".", display, out)
            elif isinstance(value_node, yaml.ScalarNode) and value_node.value in ("", "~", "null"):
                continue
            else:
                raise ConfigError(
                    f"{where}: {path}: expected a mapping of settings, got {_describe(_node_to_python(value_node))}",
                    hint=f"write the keys under '{key}:' indented, for example {_example_child(path)}",
                )
        else:
            raise ConfigError(f"{where}: {path}: unknown setting", hint=_did_you_mean(path))


def _node_to_python(node: Any) -> Any:
    import yaml

    return yaml.safe_load(yaml.serialize(node))


def _example_child(path: str) -> str:
    child = next(name for name in FIELDS if name.startswith(path + "."))
    return f"'{child[len(path) + 1 :]}: {FIELDS[child].default}'"


def _did_you_mean(path: str) -> str:
    candidates = list(FIELDS) + sorted({name.rsplit(".", 1)[0] for name in FIELDS if "." in name})
    close = difflib.get_close_matches(path, candidates, n=1, cutoff=0.6)
    if not close:
        leaf = path.rsplit(".", 1)[-1]
        close = [name for name in FIELDS if name.rsplit(".", 1)[-1] == leaf][:1]
    if close:
        return f"did you mean '{close[0]}'? ('ticketctl config --list' shows every setting)"
    return "remove it; 'ticketctl config --list' shows every setting"


def _read_environment(environ: Mapping[str, str]) -> dict[str, _Value]:
    by_env = {spec.env_var: spec for spec in FIELDS.values()}
    values: dict[str, _Value] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in ENV_NOT_SETTINGS or name.startswith(ENV_TEST_PREFIX):
            continue
        spec = by_env.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, list(by_env) + sorted(ENV_NOT_SETTINGS), n=1, cutoff=0.7)
            hint = f"did you mean {close[0]}?" if close else "unset it; 'ticketctl config --list' shows every setting"
            raise ConfigError(f"{name}: unknown setting in the environment", hint=hint)
        values[spec.path] = _Value(value, name)
    return values


def _validate(raw: Mapping[str, _Value]) -> tuple[dict[str, Any], dict[str, str]]:
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for path, spec in FIELDS.items():
        if path not in raw:
            values[path] = spec.default
            continue
        given = raw[path]
        if spec.url and isinstance(given.value, str):
            remember_url_credentials(given.value)  # before anything, even this value's error, can show it
        try:
            values[path] = spec.parse(given.value)
        except _Invalid as error:
            raise ConfigError(f"{given.source}: {path}: {error}", hint=_fix_hint(spec)) from None
        sources[path] = given.source
    return values, sources


def _fix_hint(spec: FieldSpec) -> str:
    default = ", ".join(spec.default) if isinstance(spec.default, tuple) else spec.default
    return f"{spec.help} Default: {default!s}."


def _build(
    values: Mapping[str, Any], sources: dict[str, str], path: Path | None, base_dir: Path, *, empty: bool = False
) -> Settings:
    settings: Settings = _build_object(
        Settings, "", {}, _Resolving(values, base_dir), config_file=path, config_empty=empty, sources=sources
    )
    _check_distinct_ports(settings.ports, sources)
    _check_distinct_databases(settings.mysql.databases, sources)
    _check_client_key(values, sources)
    return settings


def _build_object(kind: type, path: str, context: Mapping[str, str], resolving: _Resolving, **given: Any) -> Any:
    """The settings object ``kind`` at ``path``, from the validated values of its settings."""
    arguments = dict(given)
    for item in fields(kind):
        declared = item.metadata.get(_SETTING)
        if declared is not None:
            spec = FIELDS[path + (declared.name or item.name)]
            value = resolving.values[spec.path]
            arguments[item.name] = value if spec.resolve is None else spec.resolve(value, resolving)
        elif _GROUP in item.metadata:
            group_kind, group_context = item.metadata[_GROUP]
            arguments[item.name] = _build_object(group_kind, f"{path}{item.name}.", group_context, resolving)
        elif item.name in context:
            arguments[item.name] = context[item.name]
    return kind(**arguments)


def _check_client_key(values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    if values["mysql.ssl_key"] is not None and values["mysql.ssl_cert"] is None:
        raise ConfigError(
            f"{sources.get('mysql.ssl_key', 'default')}: mysql.ssl_key is set but mysql.ssl_cert is not",
            hint="set mysql.ssl_cert to the client certificate that goes with the key",
        )


def _check_distinct_ports(ports: Ports, sources: Mapping[str, str]) -> None:
    seen: dict[int, str] = {}
    app_range = range(ports.apps, ports.apps + 9)
    for name in ("mysql", "redis", "search"):
        port = getattr(ports, name)
        path = f"ports.{name}"
        if port in seen:
            raise ConfigError(
                f"{sources.get(path, 'default')}: {path}: port {port} is also used by {seen[port]}",
                hint="give each service its own host port",
            )
        if port in app_range:
            raise ConfigError(
                f"{sources.get(path, 'default')}: {path}: port {port} falls in the application ports "
                f"{app_range.start}-{app_range.stop - 1} (ports.apps)",
                hint="move ports.apps or this port",
            )
        seen[port] = path


def _check_distinct_databases(databases: tuple[DatabaseSettings, ...], sources: Mapping[str, str]) -> None:
    for attribute in ("name", "user"):
        seen: dict[str, str] = {}
        for database in databases:
            value = getattr(database, attribute)
            path = f"mysql.{database.key}.{attribute}"
            if value in seen:
                raise ConfigError(
                    f"{sources.get(path, 'default')}: {path}: {value!r} is also {seen[value]}",
                    hint="each database needs its own name and its own application user",
                )
            seen[value] = path


def _display_path(path: Path, cwd: Path) -> str:
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)


def describe_fields() -> list[dict[str, Any]]:
    """Every setting with its env var, default and help, for ``config --list`` and docs."""
    return [
        {
            "setting": spec.path,
            "env": spec.env_var,
            "default": list(spec.default) if isinstance(spec.default, tuple) else spec.default,
            "help": spec.help,
        }
        for spec in FIELDS.values()
    ]


def effective_settings(settings: Settings) -> list[dict[str, Any]]:
    """The value and source of every setting, for ``ticketctl config``; a URL's password shows as ``***``."""
    flat = flatten_settings(settings)
    return [
        {"setting": path, "value": shown(spec, flat[path]), "source": settings.source_of(path)}
        for path, spec in FIELDS.items()
    ]


def shown(spec: FieldSpec, value: Any) -> Any:
    """A setting's value as any output may show it: a URL without the password of its userinfo."""
    return mask_url(value) if spec.url and isinstance(value, str) else value


def flatten_settings(settings: Settings) -> dict[str, Any]:
    """Dotted path → effective value (derived defaults filled in)."""
    return {path: spec.value_in(settings) for path, spec in FIELDS.items()}
