"""The stack model: the single source of truth every output is rendered from.

:func:`build_stack` turns settings into pure data: services, their images,
commands, environment, ports, volumes, healthchecks and dependencies. The
Compose file, the Kubernetes manifests and the architecture diagram all render
this model; none of them invents a value of its own. Values are what the
container sees at run time; a secret is a :class:`SecretRef`, resolved from
``.env`` by whoever needs the value.

Why each server is configured as it is (one MySQL server with a user per
database, Redis with ``noeviction`` so that a seat lock is never evicted, a
single-node search engine without disk watermarks) is in docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ticketctl.config.settings import Settings
from ticketctl.stack.types import (
    ConfigFile,
    Dependency,
    EnvValue,
    Healthcheck,
    PortBinding,
    SecretRef,
    VolumeMount,
)

NETWORK = "backend"
APPS_PROFILE = "apps"
MYSQL_INIT_SCRIPT = "mysql-init/01-create-databases.sql"
MYSQL_INIT_TARGET = "/docker-entrypoint-initdb.d/01-create-databases.sql"
MYSQL_COLLATION = "utf8mb4_unicode_ci"
# The search engine's snapshot repositories (path.repo): `ticketctl snapshot` writes one there, copies it out
# of the container and removes it, so it lives in the container's own layer and needs no volume.
SEARCH_SNAPSHOT_REPOSITORY = "/tmp/ticketctl-snapshots"
# The ports the servers listen on inside their containers (the host ports are settings).
MYSQL_PORT = 3306
REDIS_PORT = 6379
SEARCH_PORT = 9200
PLACEHOLDER_USER = "65534:65534"
# The search engine refuses to start (or fails to mmap its indices) below this kernel setting.
SEARCH_MIN_MAX_MAP_COUNT = 262144


@dataclass(frozen=True)
class Service:
    """One container of the stack."""

    name: str
    image: str
    image_setting: str
    description: str
    role: str  # "infrastructure" | "application"
    technology: str
    command: tuple[str, ...] | None = None
    environment: tuple[tuple[str, EnvValue], ...] = ()
    ports: tuple[PortBinding, ...] = ()
    volumes: tuple[VolumeMount, ...] = ()
    configs: tuple[ConfigFile, ...] = ()
    healthcheck: Healthcheck | None = None
    depends_on: tuple[Dependency, ...] = ()
    profiles: tuple[str, ...] = ()
    ulimits: tuple[tuple[str, int, int], ...] = ()
    stop_grace_period: float = 10.0
    # The first port the service listens on inside the cluster (for diagrams and Kubernetes).
    internal_port: int | None = None
    # uid:gid to start the container as; None: the image's (whose entrypoint may drop from root).
    user: str | None = None
    # Proves only that the process is alive (Kubernetes' liveness probe), in the healthcheck's
    # form. A failing liveness probe restarts the container, so it must not fail on what a
    # restart cannot fix: a rotated password, exhausted connections, a red index, a replay.
    # Docker has no such probe: the Compose file does not carry it.
    liveness: tuple[str, ...] | None = None
    # Secrets the image writes into the service's data volume on its first start and never reads again from
    # the environment (MySQL's root account): a new value later cannot reach the data.
    data_secrets: tuple[str, ...] = ()

    @property
    def secret_names(self) -> tuple[str, ...]:
        return tuple(value.name for _, value in self.environment if isinstance(value, SecretRef))


@dataclass(frozen=True)
class Stack:
    """The whole stack of one project."""

    project: str
    network: str
    volumes: tuple[str, ...]
    services: tuple[Service, ...]
    search_engine: str
    databases: tuple[str, ...] = ()
    active_profiles: tuple[str, ...] = field(default=())

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    @property
    def active_services(self) -> tuple[Service, ...]:
        """Services without a profile, plus those whose profile is enabled."""
        return tuple(
            service
            for service in self.services
            if not service.profiles or set(service.profiles) & set(self.active_profiles)
        )

    @property
    def infrastructure(self) -> tuple[Service, ...]:
        return tuple(service for service in self.services if service.role == "infrastructure")

    @property
    def search_service(self) -> Service:
        return self.service(self.search_engine)


def build_stack(settings: Settings) -> Stack:
    """The stack model for these settings."""
    search = _search_service(settings)
    services = (_mysql_service(settings), _redis_service(settings), search, *_application_services(settings))
    volumes = tuple(sorted({mount.volume for service in services for mount in service.volumes}))
    return Stack(
        project=settings.project,
        network=NETWORK,
        volumes=volumes,
        services=services,
        search_engine=settings.search.engine,
        databases=tuple(database.name for database in settings.mysql.databases),
        active_profiles=settings.profiles,
    )


def _healthcheck(
    test: tuple[str, ...],
    *,
    interval: float = 5,
    timeout: float = 5,
    retries: int = 20,
    start_period: float = 30,
) -> Healthcheck:
    return Healthcheck(
        test=test,
        interval=interval,
        timeout=timeout,
        retries=retries,
        start_period=start_period,
        start_interval=1.0,
    )


def _server(settings: Settings, name: str, description: str, technology: str, **fields: Any) -> Service:
    """An infrastructure service named as its image setting, ``images.<name>``, which chooses its image."""
    return Service(
        name=name,
        image=getattr(settings.images, name),
        image_setting=f"images.{name}",
        description=description,
        role="infrastructure",
        technology=technology,
        **fields,
    )


def _mysql_service(settings: Settings) -> Service:
    names = ", ".join(f"'{db.name}'" for db in settings.mysql.databases)
    count = len(settings.mysql.databases)
    # The password goes to the client as an option file on stdin (printf is built into sh), so
    # it is in no process's arguments; the query reads names only.
    probe = (
        """printf '[client]\\npassword="%s"\\n' "$MYSQL_ROOT_PASSWORD" | """
        "mysql --defaults-extra-file=/dev/stdin --protocol=TCP -h127.0.0.1 -uroot -N -s -e "
        f'"SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ({names})" '
        f"2>/dev/null | grep -qx {count}"
    )
    # Only root's: the init script makes the databases, `ticketctl migrate` the application users.
    environment: tuple[tuple[str, EnvValue], ...] = (("MYSQL_ROOT_PASSWORD", SecretRef("MYSQL_ROOT_PASSWORD")),)
    return _server(
        settings,
        "mysql",
        "One MySQL 8 server holding events_db, inventory_db and bookings_db",
        "MySQL 8",
        command=(
            "mysqld",
            "--character-set-server=utf8mb4",
            f"--collation-server={MYSQL_COLLATION}",
            "--skip-name-resolve",
        ),
        environment=environment,
        ports=(PortBinding(settings.bind_address, settings.ports.mysql, MYSQL_PORT, setting="ports.mysql"),),
        volumes=(VolumeMount("mysql-data", "/var/lib/mysql"),),
        configs=(ConfigFile("mysql-init", MYSQL_INIT_SCRIPT, MYSQL_INIT_TARGET, mode=0o444),),
        # mysqladmin ping succeeds whenever the server answers, even "Access denied".
        healthcheck=_healthcheck(("CMD-SHELL", probe), start_period=60, retries=30),
        liveness=("CMD-SHELL", "mysqladmin ping -h127.0.0.1 --protocol=TCP --connect-timeout=3 >/dev/null 2>&1"),
        stop_grace_period=30.0,
        internal_port=MYSQL_PORT,
        data_secrets=tuple(name for name, _ in environment),
    )


def _redis_service(settings: Settings) -> Service:
    # Through the image's entrypoint, which (started as root) takes ownership of /data and
    # drops to the redis user; a bare `exec redis-server` would run it as root.
    server = (
        "exec docker-entrypoint.sh redis-server --appendonly yes --appendfsync everysec "
        f"--maxmemory {settings.redis.maxmemory} --maxmemory-policy noeviction "
        '--requirepass "$REDIS_PASSWORD"'
    )
    probe = 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 ping | grep -q PONG'
    # Any reply is life: NOAUTH (asked without the password), LOADING (replaying the AOF), BUSY.
    alive = "redis-cli -h 127.0.0.1 ping 2>&1 | grep -qE '^(PONG|NOAUTH|LOADING|BUSY|MASTERDOWN)'"
    return _server(
        settings,
        "redis",
        "Distributed seat locks and caching",
        "Redis 7",
        command=("sh", "-c", server),
        environment=(("REDIS_PASSWORD", SecretRef("REDIS_PASSWORD")),),
        ports=(PortBinding(settings.bind_address, settings.ports.redis, REDIS_PORT, setting="ports.redis"),),
        volumes=(VolumeMount("redis-data", "/data"),),
        healthcheck=_healthcheck(("CMD-SHELL", probe), start_period=10),
        liveness=("CMD-SHELL", alive),
        internal_port=REDIS_PORT,
    )


def _search_service(settings: Settings) -> Service:
    engine = settings.search.engine
    heap = settings.search.heap
    common: list[tuple[str, EnvValue]] = [
        ("cluster.name", f"{settings.project}-search"),
        ("discovery.type", "single-node"),
        ("bootstrap.memory_lock", "false"),
        ("cluster.routing.allocation.disk.threshold_enabled", "false"),
        ("action.destructive_requires_name", "true"),
        ("path.repo", SEARCH_SNAPSHOT_REPOSITORY),
    ]
    if engine == "elasticsearch":
        environment = [*common, ("xpack.security.enabled", "false"), ("ES_JAVA_OPTS", f"-Xms{heap} -Xmx{heap}")]
        home, technology = "/usr/share/elasticsearch", "Elasticsearch 8"
    else:
        environment = [
            *common,
            ("DISABLE_SECURITY_PLUGIN", "true"),
            ("DISABLE_INSTALL_DEMO_CONFIG", "true"),
            ("OPENSEARCH_JAVA_OPTS", f"-Xms{heap} -Xmx{heap}"),
        ]
        home, technology = "/usr/share/opensearch", "OpenSearch 3"
    probe = f"curl -fsS 'http://127.0.0.1:{SEARCH_PORT}/_cluster/health?wait_for_status=yellow&timeout=1s' >/dev/null"
    # The node answers for itself (local=true), whatever the colour of the cluster.
    alive = f"curl -fsS 'http://127.0.0.1:{SEARCH_PORT}/_cluster/health?local=true' >/dev/null"
    return _server(
        settings,
        engine,
        "Full-text event search (keyword, city, date range, category)",
        technology,
        environment=tuple(environment),
        ports=(PortBinding(settings.bind_address, settings.ports.search, SEARCH_PORT, setting="ports.search"),),
        volumes=(VolumeMount(f"{engine}-data", f"{home}/data"),),
        healthcheck=_healthcheck(("CMD-SHELL", probe), interval=5, timeout=10, retries=40, start_period=90),
        liveness=("CMD-SHELL", alive),
        ulimits=(("nofile", settings.search.nofile, settings.search.nofile),),
        stop_grace_period=30.0,
        internal_port=SEARCH_PORT,
    )


@dataclass(frozen=True)
class _AppSpec:
    name: str
    description: str
    technology: str
    databases: tuple[str, ...] = ()
    redis: bool = False
    search: bool = False
    calls: tuple[str, ...] = ()


# The nine application services of the system's architecture (docs/architecture.md), in port order.
APPLICATIONS: tuple[_AppSpec, ...] = (
    _AppSpec(
        "api-gateway",
        "Single entry point: routing, auth check, rate limiting",
        "FastAPI",
        redis=True,
        calls=("auth-service", "events-service", "inventory-service", "booking-service", "search-service"),
    ),
    _AppSpec("auth-service", "Users, login, JWT issuing and sessions", "FastAPI", redis=True),
    _AppSpec("events-service", "Events and pricing rules; writes the outbox", "FastAPI", databases=("events",)),
    _AppSpec(
        "inventory-service",
        "Seats, holds and reservations under high concurrency",
        "Go",
        databases=("inventory",),
        redis=True,
    ),
    _AppSpec(
        "booking-service",
        "Bookings, idempotency keys, payment orchestration",
        "FastAPI",
        databases=("bookings",),
        redis=True,
        calls=("inventory-service", "payment-adapter"),
    ),
    _AppSpec("payment-adapter", "Adapter to the external payment provider", "FastAPI", databases=("bookings",)),
    _AppSpec("search-service", "Event search API over the search engine", "FastAPI", search=True),
    _AppSpec("notification-service", "E-mail and push notifications for bookings", "FastAPI", redis=True),
    _AppSpec(
        "indexer-service",
        "Reads the events outbox and indexes events for search",
        "FastAPI",
        databases=("events",),
        search=True,
    ),
)


@dataclass(frozen=True)
class Endpoints:
    """Where an application reaches the servers: inside the stack's network, or from outside Docker."""

    mysql_host: str
    mysql_port: int
    redis_host: str
    redis_port: int
    search_url: str


def network_endpoints(settings: Settings) -> Endpoints:
    """The servers by their service names on the stack's network, as the application containers see them."""
    return Endpoints("mysql", MYSQL_PORT, "redis", REDIS_PORT, f"http://{settings.search.engine}:{SEARCH_PORT}")


def application_environment(
    settings: Settings, app: _AppSpec, port: int, endpoints: Endpoints
) -> tuple[tuple[str, EnvValue], ...]:
    """What an application service is given: its name and port, and the servers it uses, at ``endpoints``."""
    environment: list[tuple[str, EnvValue]] = [("SERVICE_NAME", app.name), ("PORT", str(port))]
    for key in app.databases:
        database = settings.mysql.database(key)
        environment += [
            ("MYSQL_HOST", endpoints.mysql_host),
            ("MYSQL_PORT", str(endpoints.mysql_port)),
            ("MYSQL_DATABASE", database.name),
            ("MYSQL_USER", database.user),
            ("MYSQL_PASSWORD", SecretRef(database.password_env)),
        ]
    if app.redis:
        environment += [
            ("REDIS_HOST", endpoints.redis_host),
            ("REDIS_PORT", str(endpoints.redis_port)),
            ("REDIS_PASSWORD", SecretRef("REDIS_PASSWORD")),
        ]
    if app.search:
        environment += [("SEARCH_URL", endpoints.search_url), ("SEARCH_INDEX", settings.search.index)]
    return tuple(environment)


def application_port(settings: Settings, app: _AppSpec) -> int:
    """The gateway gets ``ports.apps``, the others count up in the order of :data:`APPLICATIONS`."""
    return settings.ports.apps + APPLICATIONS.index(app)


def _application_services(settings: Settings) -> tuple[Service, ...]:
    services = []
    placeholder = (
        "trap 'exit 0' TERM INT; echo \"$SERVICE_NAME placeholder: replace images.apps with the real image\"; "
        "while true; do sleep 3600 & wait $!; done"
    )
    for app in APPLICATIONS:
        port = application_port(settings, app)
        depends: list[Dependency] = [Dependency("mysql", "service_healthy") for _ in app.databases]
        if app.redis:
            depends.append(Dependency("redis", "service_healthy"))
        if app.search:
            depends.append(Dependency(settings.search.engine, "service_healthy"))
        depends += [Dependency(callee, "service_started") for callee in app.calls]
        services.append(
            Service(
                name=app.name,
                image=settings.images.apps,
                image_setting="images.apps",
                description=app.description,
                role="application",
                technology=app.technology,
                command=("sh", "-c", placeholder),
                environment=application_environment(settings, app, port, network_endpoints(settings)),
                ports=(PortBinding(settings.bind_address, port, port, setting="ports.apps"),),
                depends_on=tuple(dict.fromkeys(depends)),
                profiles=(APPS_PROFILE,),
                stop_grace_period=5.0,
                internal_port=port,
                # The placeholders need no root; nobody:nogroup exists in every image.
                user=PLACEHOLDER_USER,
            )
        )
    return tuple(services)
