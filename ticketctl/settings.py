"""Settings: ``ticketctl.yaml`` < ``TICKETCTL_*`` environment < command-line flags.

Every setting is declared once in :data:`FIELDS` with its type, default and
help text. That table drives parsing, validation, the environment mapping
(``ports.mysql`` ↔ ``TICKETCTL_PORTS__MYSQL``), ``ticketctl config`` and the
README's reference, so the four can never disagree.

Errors name where the bad value came from: ``ticketctl.yaml:7: ports.mysql:
…``, ``TICKETCTL_PORTS__MYSQL: …`` or ``--port: …``.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ticketctl import __version__
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
# Workloads whose requests and limits are settings (kubernetes.resources.<name>.requests|limits).
KUBERNETES_WORKLOADS = ("mysql", "redis", "search", "apps", "job")
# Stateful services whose volume size is a setting (kubernetes.storage.<name>).
KUBERNETES_VOLUMES = ("mysql", "redis", "search")
KNOWN_PROFILES = ("apps",)
MAX_MAP_COUNT_CHOICES = ("no-mmap", "node", "init-container")
PULL_POLICIES = ("IfNotPresent", "Always", "Never")
# A registry host (with a port or a dot, or localhost) and an optional path below it.
IMAGE_REGISTRY_RE = re.compile(r"^(localhost|[a-z0-9-]+(\.[a-z0-9-]+)+|[a-z0-9.-]+:[0-9]+)(:[0-9]+)?(/[a-z0-9._-]+)*$")
SEARCH_ENGINES = ("elasticsearch", "opensearch")
IMAGE_NAMES = ("mysql", "redis", "elasticsearch", "opensearch", "apps", "ticketctl")


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


def _optional_int_range(low: int, high: int) -> Callable[[Any], int | None]:
    def parse(value: Any) -> int | None:
        if value is None or (isinstance(value, str) and value.strip() in ("", "null", "~")):
            return None
        return _parse_int(value, low, high)

    return parse


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


def _resource_pairs(text: str | None) -> tuple[tuple[str, str], ...]:
    """``cpu=250m,memory=512Mi`` (already validated) → ``(("cpu", "250m"), ("memory", "512Mi"))``."""
    if not text:
        return ()
    return tuple((key, quantity) for key, _, quantity in (item.partition("=") for item in text.split(",")))


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class FieldSpec:
    """One setting: its dotted path, parser, default and help text."""

    path: str
    parse: Callable[[Any], Any]
    default: Any
    help: str
    secret: bool = False

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.path.upper().replace(".", "__")


def _fields(*specs: FieldSpec) -> dict[str, FieldSpec]:
    return {spec.path: spec for spec in specs}


_DEFAULT_STORAGE = {"mysql": "10Gi", "redis": "2Gi", "search": "10Gi"}
# CPU is requested but not limited by default: a CPU limit throttles a database under load.
_DEFAULT_RESOURCES = {
    "mysql": ("cpu=250m,memory=512Mi", "memory=1Gi"),
    "redis": ("cpu=100m,memory=384Mi", "memory=512Mi"),
    "search": ("cpu=500m,memory=1Gi", "memory=1Gi"),
    "apps": ("cpu=10m,memory=16Mi", "memory=64Mi"),
    "job": ("cpu=100m,memory=128Mi", "memory=512Mi"),
}
_WORKLOAD_TITLES = {
    "mysql": "MySQL",
    "redis": "Redis",
    "search": "the search engine",
    "apps": "each application placeholder",
    "job": "the setup Job (migrate, index create)",
}


def _kubernetes_fields() -> tuple[FieldSpec, ...]:
    """Settings of ``render --target kubernetes``; the Compose target ignores them."""
    specs = [
        FieldSpec(
            "kubernetes.namespace",
            _optional_pattern(DNS_LABEL_RE, "a DNS label: lowercase letters, digits and -, at most 63"),
            None,
            "Namespace of the manifests (default: the project name with _ turned into -).",
        ),
        FieldSpec(
            "kubernetes.existing_secret",
            _optional_pattern(DNS_SUBDOMAIN_RE, "a Kubernetes Secret name"),
            None,
            "Name of an existing Secret holding the stack's passwords; then no Secret manifest is written.",
        ),
        FieldSpec(
            "kubernetes.storage_class",
            _optional_pattern(DNS_SUBDOMAIN_RE, "a StorageClass name"),
            None,
            "StorageClass of the volume claims (default: the cluster's default class).",
        ),
        FieldSpec(
            "kubernetes.max_map_count",
            _choice(*MAX_MAP_COUNT_CHOICES),
            "no-mmap",
            "How the search engine copes with vm.max_map_count: no-mmap (node.store.allow_mmap: false, "
            "Pod Security restricted), node (the nodes already set it to 262144 or more; restricted), "
            "init-container (a privileged init container raises it; the namespace becomes privileged).",
        ),
        FieldSpec(
            "kubernetes.create_namespace",
            _parse_bool,
            True,
            "Render the namespace (with its Pod Security labels); false for a namespace you manage, "
            "which kubectl delete -k then never deletes.",
        ),
        FieldSpec(
            "kubernetes.image_registry",
            _optional_pattern(IMAGE_REGISTRY_RE, "a registry host, maybe with a path: registry.example.com/mirror"),
            None,
            "Registry (and path) put before every image that names none (default: Docker Hub, written docker.io/...).",
        ),
        FieldSpec(
            "kubernetes.image_pull_policy",
            _pull_policy,
            "IfNotPresent",
            "imagePullPolicy of every container: IfNotPresent, Always or Never.",
        ),
        FieldSpec(
            "kubernetes.image_pull_secrets",
            _secret_names,
            (),
            "Secrets (comma-separated names in the namespace) the pods pull their images with.",
        ),
        FieldSpec(
            "kubernetes.job.deadline",
            _int_range(60, 86400),
            1800,
            "Seconds the setup Job may run in all, waiting and retries included (activeDeadlineSeconds); "
            "an image that cannot be pulled fails it then.",
        ),
        FieldSpec(
            "kubernetes.job.ttl",
            _optional_int_range(0, 31536000),
            None,
            "Seconds after which a finished setup Job is deleted (default: kept; a GitOps tool would "
            "otherwise create and run it again).",
        ),
        FieldSpec(
            "kubernetes.pod_disruption_budget",
            _parse_bool,
            False,
            "A PodDisruptionBudget per stateful service (node drains then wait until you move it yourself).",
        ),
        FieldSpec(
            "kubernetes.network_policy",
            _parse_bool,
            True,
            "A default-deny NetworkPolicy for incoming traffic that admits only the stack's own pods.",
        ),
    ]
    specs += [
        FieldSpec(
            f"kubernetes.storage.{name}",
            _pattern(STORAGE_SIZE_RE, "a size such as 10Gi"),
            _DEFAULT_STORAGE[name],
            f"Size of the volume claim of {_WORKLOAD_TITLES[name]}.",
        )
        for name in KUBERNETES_VOLUMES
    ]
    for name in KUBERNETES_WORKLOADS:
        requests, limits = _DEFAULT_RESOURCES[name]
        specs.append(
            FieldSpec(
                f"kubernetes.resources.{name}.requests",
                _resources,
                requests,
                f"CPU and memory requests of {_WORKLOAD_TITLES[name]}, as cpu=…,memory=… ('' for none).",
            )
        )
        specs.append(
            FieldSpec(
                f"kubernetes.resources.{name}.limits",
                _resources,
                limits,
                f"CPU and memory limits of {_WORKLOAD_TITLES[name]}, as cpu=…,memory=… ('' for none).",
            )
        )
    return tuple(specs)


FIELDS: dict[str, FieldSpec] = _fields(
    FieldSpec(
        "project",
        _pattern(PROJECT_NAME_RE, "a Compose project name matching [a-z0-9][a-z0-9_-]*"),
        "ticketing",
        "Compose project name; prefixes containers, network and volumes.",
    ),
    FieldSpec("profiles", _profiles, (), "Optional profiles to start: 'apps' adds the nine application placeholders."),
    FieldSpec(
        "bind_address",
        _pattern(re.compile(r"^[0-9.]+$|^[0-9a-fA-F:]+$"), "an IP address such as 127.0.0.1"),
        "127.0.0.1",
        "Host address that published ports bind to; anything but loopback prints a warning.",
    ),
    FieldSpec("output_dir", _parse_str, ".", "Folder where render writes docker-compose.yml, .env and .env.example."),
    FieldSpec(
        "templates_dir",
        _parse_optional_str,
        None,
        "Folder of your own Jinja2 templates overriding the packaged ones (same file names).",
    ),
    FieldSpec("images.mysql", _image, "mysql:8.4", "MySQL 8 server image (the official image or a compatible one)."),
    FieldSpec("images.redis", _image, "redis:7.4", "Redis server image."),
    FieldSpec(
        "images.elasticsearch",
        _image,
        "docker.elastic.co/elasticsearch/elasticsearch:8.19.21",
        "Elasticsearch image, used when search.engine is elasticsearch.",
    ),
    FieldSpec(
        "images.opensearch",
        _image,
        "opensearchproject/opensearch:3.6.0",
        "OpenSearch image, used when search.engine is opensearch.",
    ),
    FieldSpec(
        "images.apps",
        _image,
        "busybox:1.37",
        "Image of the nine application placeholders (profile 'apps'); needs sh and sleep.",
    ),
    FieldSpec(
        "images.ticketctl",
        _image,
        f"ticketctl:{__version__}",
        "Image of ticketctl itself (Dockerfile at the repository root) for the Kubernetes setup Job.",
    ),
    FieldSpec("ports.mysql", _port, 3306, "Host port published for MySQL."),
    FieldSpec("ports.redis", _port, 6379, "Host port published for Redis."),
    FieldSpec("ports.search", _port, 9200, "Host port published for the search engine's HTTP API."),
    FieldSpec(
        "ports.apps",
        _int_range(1024, 65000),
        8080,
        "First host port of the application placeholders (gateway gets it, the others count up).",
    ),
    FieldSpec("mysql.host", _parse_str, "127.0.0.1", "Host that migrate and doctor connect to."),
    FieldSpec("mysql.port", _optional_port, None, "Port that migrate and doctor connect to (default: ports.mysql)."),
    FieldSpec(
        "mysql.root_user",
        _pattern(SQL_IDENTIFIER_RE, "a MySQL user name of letters, digits and _"),
        "root",
        "Administrative user used to create databases when they are missing.",
    ),
    FieldSpec(
        "mysql.ssl_ca",
        _parse_optional_str,
        None,
        "CA file for TLS to a remote MySQL; when set, TLS is required and the server's certificate and name verified.",
    ),
    FieldSpec(
        "mysql.ssl_cert",
        _parse_optional_str,
        None,
        "Client certificate file for a MySQL account that REQUIRE X509 (with mysql.ssl_key); enables TLS.",
    ),
    FieldSpec("mysql.ssl_key", _parse_optional_str, None, "Private key file of mysql.ssl_cert."),
    FieldSpec("mysql.connect_timeout", _positive_float, 5.0, "Seconds to wait for a MySQL connection."),
    FieldSpec(
        "mysql.lock_timeout",
        _int_range(0, 3600),
        30,
        "Seconds migrate waits for another migrate's lock on the same database.",
    ),
    FieldSpec(
        "mysql.events.name",
        _pattern(SQL_IDENTIFIER_RE, "a database name of letters, digits and _"),
        "events_db",
        "Database of the events service.",
    ),
    FieldSpec(
        "mysql.events.user",
        _pattern(SQL_IDENTIFIER_RE, "a MySQL user name of letters, digits and _"),
        "events_app",
        "Application user of the events database.",
    ),
    FieldSpec(
        "mysql.inventory.name",
        _pattern(SQL_IDENTIFIER_RE, "a database name of letters, digits and _"),
        "inventory_db",
        "Database of the inventory service.",
    ),
    FieldSpec(
        "mysql.inventory.user",
        _pattern(SQL_IDENTIFIER_RE, "a MySQL user name of letters, digits and _"),
        "inventory_app",
        "Application user of the inventory database.",
    ),
    FieldSpec(
        "mysql.bookings.name",
        _pattern(SQL_IDENTIFIER_RE, "a database name of letters, digits and _"),
        "bookings_db",
        "Database of the booking service.",
    ),
    FieldSpec(
        "mysql.bookings.user",
        _pattern(SQL_IDENTIFIER_RE, "a MySQL user name of letters, digits and _"),
        "bookings_app",
        "Application user of the bookings database.",
    ),
    FieldSpec("redis.host", _parse_str, "127.0.0.1", "Host that doctor connects to for Redis."),
    FieldSpec("redis.port", _optional_port, None, "Redis port for doctor (default: ports.redis)."),
    FieldSpec("redis.db", _int_range(0, 15), 0, "Redis logical database for locks and cache."),
    FieldSpec("redis.tls", _parse_bool, False, "Connect to Redis over TLS (a managed Redis)."),
    FieldSpec(
        "redis.ca_certs",
        _parse_optional_str,
        None,
        "CA bundle that verifies the Redis server's certificate with redis.tls (default: the system's CAs).",
    ),
    FieldSpec(
        "redis.maxmemory",
        _pattern(SIZE_RE, "a size such as 256mb"),
        "256mb",
        "Redis memory limit; with noeviction, writes fail at the limit instead of evicting locks.",
    ),
    FieldSpec(
        "search.engine", _choice(*SEARCH_ENGINES), "elasticsearch", "Search engine: elasticsearch or opensearch."
    ),
    FieldSpec("search.url", _url, None, "Search engine URL (default: http://127.0.0.1:<ports.search>)."),
    FieldSpec(
        "search.username", _parse_optional_str, None, "User for a secured remote cluster (password: SEARCH_PASSWORD)."
    ),
    FieldSpec("search.verify_certs", _parse_bool, True, "Verify the TLS certificate of an https:// search URL."),
    FieldSpec("search.ca_certs", _parse_optional_str, None, "CA bundle for an https:// search URL."),
    FieldSpec(
        "search.heap",
        _pattern(HEAP_RE, "a JVM heap size such as 512m or 1g"),
        "512m",
        "JVM heap of the search engine (-Xms and -Xmx).",
    ),
    FieldSpec(
        "search.nofile",
        _int_range(1024, 1048576),
        65536,
        "Open-files limit (ulimit nofile) of the search container; lower it where the Docker Engine's own "
        "limit is lower (rootless Docker, sandboxed CI).",
    ),
    FieldSpec(
        "search.index",
        _pattern(INDEX_NAME_RE, "a lowercase index name"),
        "events",
        "Alias of the events index; concrete indices are <alias>_v<N>.",
    ),
    FieldSpec("search.shards", _int_range(1, 64), 1, "Primary shards of the events index."),
    FieldSpec("search.replicas", _replicas, "auto", "Replicas of the events index; 'auto' is 0 on a single data node."),
    FieldSpec("search.timeout", _positive_float, 10.0, "Seconds per search engine request."),
    FieldSpec(
        "docker.enabled",
        _parse_bool,
        True,
        "Manage the stack with Docker; false for remote endpoints only (doctor skips Docker checks).",
    ),
    FieldSpec("wait_timeout", _positive_float, 300.0, "Seconds up waits for all services to become healthy."),
    *_kubernetes_fields(),
)


# --------------------------------------------------------------------------- the settings objects


@dataclass(frozen=True)
class Images:
    mysql: str
    redis: str
    elasticsearch: str
    opensearch: str
    apps: str
    ticketctl: str


@dataclass(frozen=True)
class Ports:
    mysql: int
    redis: int
    search: int
    apps: int


@dataclass(frozen=True)
class DatabaseSettings:
    """One of the three logical databases: its key, schema name and application user."""

    key: str
    name: str
    user: str

    @property
    def password_env(self) -> str:
        """Name of the secret in ``.env`` that holds this user's password."""
        return f"{self.key.upper()}_DB_PASSWORD"


@dataclass(frozen=True)
class MySQLSettings:
    host: str
    port: int
    root_user: str
    ssl_ca: str | None
    ssl_cert: str | None
    ssl_key: str | None
    connect_timeout: float
    lock_timeout: int
    databases: tuple[DatabaseSettings, ...]

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
    host: str
    port: int
    db: int
    tls: bool
    ca_certs: str | None
    maxmemory: str


@dataclass(frozen=True)
class SearchSettings:
    engine: str
    url: str
    username: str | None
    verify_certs: bool
    ca_certs: str | None
    heap: str
    nofile: int
    index: str
    shards: int
    replicas: int | str
    timeout: float

    @property
    def image_setting(self) -> str:
        return f"images.{self.engine}"


@dataclass(frozen=True)
class WorkloadResources:
    """Requests and limits of one Kubernetes workload, as (resource, quantity) pairs."""

    requests: tuple[tuple[str, str], ...]
    limits: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class KubernetesSettings:
    """Settings of the Kubernetes target (``render --target kubernetes``)."""

    namespace: str | None
    existing_secret: str | None
    storage_class: str | None
    max_map_count: str  # MAX_MAP_COUNT_CHOICES
    create_namespace: bool
    image_registry: str | None
    image_pull_policy: str
    image_pull_secrets: tuple[str, ...]
    job_deadline: int
    job_ttl: int | None
    pod_disruption_budget: bool
    network_policy: bool
    storage: Mapping[str, str]  # KUBERNETES_VOLUMES → size
    resources: Mapping[str, WorkloadResources]  # KUBERNETES_WORKLOADS → requests and limits


@dataclass(frozen=True)
class Settings:
    """The validated, frozen settings of one ticketctl invocation."""

    project: str
    profiles: tuple[str, ...]
    bind_address: str
    output_dir: Path
    templates_dir: Path | None
    images: Images
    ports: Ports
    mysql: MySQLSettings
    redis: RedisSettings
    search: SearchSettings
    docker_enabled: bool
    wait_timeout: float
    kubernetes: KubernetesSettings
    config_file: Path | None = None
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

    ``config_file`` is the ``--config`` flag; without it ``ticketctl.yaml`` in
    ``cwd`` is used when it exists (``TICKETCTL_CONFIG`` names one too).
    ``overrides`` maps a dotted path to ``(value, flag name)`` for command-line
    flags, which win over the environment, which wins over the file.
    """
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    path = _find_config_file(config_file, environ, cwd)
    raw: dict[str, _Value] = {}
    if path is not None:
        raw.update(_read_config_file(path, cwd))
    raw.update(_read_environment(environ))
    for key, (value, flag) in (overrides or {}).items():
        if key not in FIELDS:
            raise ConfigError(f"{flag}: internal error, unknown setting {key!r}")
        if value is not None:
            raw[key] = _Value(value, flag)
    values, sources = _validate(raw)
    base_dir = path.parent if path is not None else cwd
    return _build(values, sources, path, base_dir)


def _find_config_file(config_file: str | Path | None, environ: Mapping[str, str], cwd: Path) -> Path | None:
    explicit = config_file if config_file is not None else environ.get("TICKETCTL_CONFIG") or None
    if explicit is not None:
        path = Path(explicit)
        path = path if path.is_absolute() else cwd / path
        if not path.is_file():
            raise ConfigError(
                f"{explicit}: settings file not found",
                hint="check the --config path, or run without it to use ./ticketctl.yaml or the defaults",
            )
        return path
    candidate = cwd / CONFIG_FILENAME
    return candidate if candidate.is_file() else None


def _read_config_file(path: Path, cwd: Path) -> dict[str, _Value]:
    """Parse the YAML file into dotted paths, remembering each key's line."""
    import yaml

    display = _display_path(path, cwd)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"{display}: cannot read settings file: {error}", hint="check the file's permissions"
        ) from error
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
        try:
            values[path] = spec.parse(given.value)
        except _Invalid as error:
            raise ConfigError(f"{given.source}: {path}: {error}", hint=_fix_hint(spec)) from None
        sources[path] = given.source
    return values, sources


def _fix_hint(spec: FieldSpec) -> str:
    default = ", ".join(spec.default) if isinstance(spec.default, tuple) else spec.default
    return f"{spec.help} Default: {default!s}."


def _build(values: Mapping[str, Any], sources: dict[str, str], path: Path | None, base_dir: Path) -> Settings:
    ports = Ports(
        mysql=values["ports.mysql"],
        redis=values["ports.redis"],
        search=values["ports.search"],
        apps=values["ports.apps"],
    )
    _check_distinct_ports(ports, sources)
    databases = tuple(
        DatabaseSettings(key=key, name=values[f"mysql.{key}.name"], user=values[f"mysql.{key}.user"])
        for key in ("events", "inventory", "bookings")
    )
    _check_distinct_databases(databases, sources)
    _check_client_key(values, sources)
    output_dir = Path(values["output_dir"])
    return Settings(
        project=values["project"],
        profiles=values["profiles"],
        bind_address=values["bind_address"],
        output_dir=output_dir if output_dir.is_absolute() else base_dir / output_dir,
        templates_dir=_resolve_optional_dir(values["templates_dir"], base_dir),
        images=Images(**{name: values[f"images.{name}"] for name in IMAGE_NAMES}),
        ports=ports,
        mysql=MySQLSettings(
            host=values["mysql.host"],
            port=values["mysql.port"] or ports.mysql,
            root_user=values["mysql.root_user"],
            ssl_ca=_resolve_optional_file(values["mysql.ssl_ca"], base_dir),
            ssl_cert=_resolve_optional_file(values["mysql.ssl_cert"], base_dir),
            ssl_key=_resolve_optional_file(values["mysql.ssl_key"], base_dir),
            connect_timeout=values["mysql.connect_timeout"],
            lock_timeout=values["mysql.lock_timeout"],
            databases=databases,
        ),
        redis=RedisSettings(
            host=values["redis.host"],
            port=values["redis.port"] or ports.redis,
            db=values["redis.db"],
            tls=values["redis.tls"],
            ca_certs=_resolve_optional_file(values["redis.ca_certs"], base_dir),
            maxmemory=values["redis.maxmemory"].lower(),
        ),
        search=SearchSettings(
            engine=values["search.engine"],
            url=values["search.url"] or f"http://127.0.0.1:{ports.search}",
            username=values["search.username"],
            verify_certs=values["search.verify_certs"],
            ca_certs=_resolve_optional_file(values["search.ca_certs"], base_dir),
            heap=values["search.heap"].lower(),
            nofile=values["search.nofile"],
            index=values["search.index"],
            shards=values["search.shards"],
            replicas=values["search.replicas"],
            timeout=values["search.timeout"],
        ),
        docker_enabled=values["docker.enabled"],
        wait_timeout=values["wait_timeout"],
        kubernetes=KubernetesSettings(
            namespace=values["kubernetes.namespace"],
            existing_secret=values["kubernetes.existing_secret"],
            storage_class=values["kubernetes.storage_class"],
            max_map_count=values["kubernetes.max_map_count"],
            create_namespace=values["kubernetes.create_namespace"],
            image_registry=values["kubernetes.image_registry"],
            image_pull_policy=values["kubernetes.image_pull_policy"],
            image_pull_secrets=values["kubernetes.image_pull_secrets"],
            job_deadline=values["kubernetes.job.deadline"],
            job_ttl=values["kubernetes.job.ttl"],
            pod_disruption_budget=values["kubernetes.pod_disruption_budget"],
            network_policy=values["kubernetes.network_policy"],
            storage={name: values[f"kubernetes.storage.{name}"] for name in KUBERNETES_VOLUMES},
            resources={
                name: WorkloadResources(
                    requests=_resource_pairs(values[f"kubernetes.resources.{name}.requests"]),
                    limits=_resource_pairs(values[f"kubernetes.resources.{name}.limits"]),
                )
                for name in KUBERNETES_WORKLOADS
            },
        ),
        config_file=path,
        sources=dict(sources),
    )


def _resolve_optional_dir(value: str | None, base_dir: Path) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    return path if path.is_absolute() else base_dir / path


def _resolve_optional_file(value: str | None, base_dir: Path) -> str | None:
    """A TLS file setting, relative to the settings file's folder (else the working directory) like output_dir."""
    if value is None:
        return None
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else base_dir / path)


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
    """The value and source of every setting, for ``ticketctl config``."""
    flat = flatten_settings(settings)
    return [{"setting": path, "value": flat[path], "source": settings.source_of(path)} for path in FIELDS]


def flatten_settings(settings: Settings) -> dict[str, Any]:
    """Dotted path → effective value (derived defaults filled in)."""
    flat: dict[str, Any] = {
        "project": settings.project,
        "profiles": list(settings.profiles),
        "bind_address": settings.bind_address,
        "output_dir": str(settings.output_dir),
        "templates_dir": str(settings.templates_dir) if settings.templates_dir else None,
        "mysql.host": settings.mysql.host,
        "mysql.port": settings.mysql.port,
        "mysql.root_user": settings.mysql.root_user,
        "mysql.ssl_ca": settings.mysql.ssl_ca,
        "mysql.ssl_cert": settings.mysql.ssl_cert,
        "mysql.ssl_key": settings.mysql.ssl_key,
        "mysql.connect_timeout": settings.mysql.connect_timeout,
        "mysql.lock_timeout": settings.mysql.lock_timeout,
        "docker.enabled": settings.docker_enabled,
        "wait_timeout": settings.wait_timeout,
    }
    for name in IMAGE_NAMES:
        flat[f"images.{name}"] = getattr(settings.images, name)
    for name in ("mysql", "redis", "search", "apps"):
        flat[f"ports.{name}"] = getattr(settings.ports, name)
    for database in settings.mysql.databases:
        flat[f"mysql.{database.key}.name"] = database.name
        flat[f"mysql.{database.key}.user"] = database.user
    for name in ("host", "port", "db", "tls", "ca_certs", "maxmemory"):
        flat[f"redis.{name}"] = getattr(settings.redis, name)
    for name in (
        "engine",
        "url",
        "username",
        "verify_certs",
        "ca_certs",
        "heap",
        "nofile",
        "index",
        "shards",
        "replicas",
        "timeout",
    ):
        flat[f"search.{name}"] = getattr(settings.search, name)
    kubernetes = settings.kubernetes
    flat["kubernetes.namespace"] = kubernetes.namespace
    flat["kubernetes.existing_secret"] = kubernetes.existing_secret
    flat["kubernetes.storage_class"] = kubernetes.storage_class
    flat["kubernetes.max_map_count"] = kubernetes.max_map_count
    flat["kubernetes.create_namespace"] = kubernetes.create_namespace
    flat["kubernetes.image_registry"] = kubernetes.image_registry
    flat["kubernetes.image_pull_policy"] = kubernetes.image_pull_policy
    flat["kubernetes.image_pull_secrets"] = kubernetes.image_pull_secrets
    flat["kubernetes.job.deadline"] = kubernetes.job_deadline
    flat["kubernetes.job.ttl"] = kubernetes.job_ttl
    flat["kubernetes.pod_disruption_budget"] = kubernetes.pod_disruption_budget
    flat["kubernetes.network_policy"] = kubernetes.network_policy
    for name in KUBERNETES_VOLUMES:
        flat[f"kubernetes.storage.{name}"] = kubernetes.storage[name]
    for name in KUBERNETES_WORKLOADS:
        resources = kubernetes.resources[name]
        flat[f"kubernetes.resources.{name}.requests"] = _format_resources(resources.requests)
        flat[f"kubernetes.resources.{name}.limits"] = _format_resources(resources.limits)
    return flat


def _format_resources(pairs: tuple[tuple[str, str], ...]) -> str | None:
    return ",".join(f"{key}={quantity}" for key, quantity in pairs) or None
