"""Containers from the locally built images behave like the official images ticketctl's compose file targets.

Each test starts its container the way the rendered compose file does (same
environment, command and healthcheck), publishes the port on a free 127.0.0.1
port, and talks to it from the host. The container carries the test's label and
is removed afterwards.
"""

from __future__ import annotations

import io
import json
import resource
import secrets
import tarfile
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.support.servers import DockerScratch, LocalImages

SECOND = 1_000_000_000  # Docker healthcheck durations are in nanoseconds
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _tar(files: dict[str, tuple[str, int]]) -> bytes:
    """A tar archive of ``name -> (text, mode)``, for ``put_archive``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, (text, mode) in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _healthcheck(command: str, interval: float = 1, retries: int = 120) -> dict[str, Any]:
    return {
        "test": ["CMD-SHELL", command],
        "interval": int(interval * SECOND),
        "timeout": 10 * SECOND,
        "retries": retries,
    }


def _health(container: Any) -> str:
    container.reload()
    if container.status == "exited":
        pytest.fail(f"{container.name} exited:\n{container.logs().decode(errors='replace')[-3000:]}")
    return str(container.attrs["State"].get("Health", {}).get("Status", "none"))


def _wait_healthy(container: Any, wait: Callable[..., Any], timeout: float) -> None:
    wait(lambda: _health(container) == "healthy", timeout, f"{container.name} healthy")


def _published_port(container: Any, port: str) -> int:
    container.reload()
    binding = container.attrs["NetworkSettings"]["Ports"][port][0]
    assert binding["HostIp"] == "127.0.0.1"
    return int(binding["HostPort"])


def _http_json(url: str, method: str = "GET", body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with _http.open(request, timeout=30) as response:
        return json.loads(response.read())


# The rendered compose file's MySQL healthcheck and init script, reduced to one database.
MYSQL_PROBE = (
    'mysql --protocol=TCP -h127.0.0.1 -uroot -p"$MYSQL_ROOT_PASSWORD" -N -s -e '
    "\"SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('events_db')\" "
    "2>/dev/null | grep -qx 1"
)
MYSQL_INIT = """#!/bin/sh
mysql --protocol=socket -uroot -p"$MYSQL_ROOT_PASSWORD" <<SQL
CREATE DATABASE IF NOT EXISTS \\`events_db\\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'events'@'%' IDENTIFIED BY '${EVENTS_DB_PASSWORD}';
GRANT ALL PRIVILEGES ON \\`events_db\\`.* TO 'events'@'%';
FLUSH PRIVILEGES;
SQL
"""
MYSQL_SEED = (
    "CREATE TABLE events_db.venues (id INT PRIMARY KEY, name VARCHAR(40));\n"
    "INSERT INTO events_db.venues VALUES (1, 'Arena');\n"
)


def test_mysql_image_runs_init_scripts_and_answers_over_tcp(
    docker_scratch: DockerScratch, local_images: LocalImages, wait: Callable[..., Any]
) -> None:
    import pymysql

    root_password, events_password = secrets.token_hex(8), secrets.token_hex(8)
    container = docker_scratch.client.containers.create(
        local_images.mysql,
        command=[
            "mysqld",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            "--skip-name-resolve",
        ],
        name=docker_scratch.name("mysql"),
        labels=docker_scratch.labels,
        environment={"MYSQL_ROOT_PASSWORD": root_password, "EVENTS_DB_PASSWORD": events_password},
        ports={"3306/tcp": ("127.0.0.1", None)},
        healthcheck=_healthcheck(MYSQL_PROBE),
    )
    # Mounted by compose as a config file without the executable bit: sourced, like the official image does.
    container.put_archive(
        "/docker-entrypoint-initdb.d",
        _tar({"01-create-databases.sh": (MYSQL_INIT, 0o644), "02-seed.sql": (MYSQL_SEED, 0o644)}),
    )
    container.start()
    _wait_healthy(container, wait, 120)

    port = _published_port(container, "3306/tcp")
    with (
        pymysql.connect(
            host="127.0.0.1", port=port, user="events", password=events_password, database="events_db"
        ) as db,
        db.cursor() as cursor,
    ):
        cursor.execute("SELECT name FROM venues WHERE id = 1")
        assert cursor.fetchone() == ("Arena",)
        cursor.execute("SELECT @@collation_server, VERSION()")
        collation, version = cursor.fetchone()
    assert collation == "utf8mb4_unicode_ci"
    assert "MariaDB" in version
    with pymysql.connect(host="127.0.0.1", port=port, user="root", password=root_password) as db, db.cursor() as cursor:
        cursor.execute("SELECT CURRENT_USER()")
        assert cursor.fetchone() == ("root@%",)


def test_mysql_image_refuses_to_start_without_a_root_password(
    docker_scratch: DockerScratch, local_images: LocalImages
) -> None:
    container = docker_scratch.client.containers.run(
        local_images.mysql, name=docker_scratch.name("mysql-nopw"), labels=docker_scratch.labels, detach=True
    )
    result = container.wait(timeout=60)
    assert result["StatusCode"] == 1
    assert b"MYSQL_ROOT_PASSWORD" in container.logs()


def test_redis_image_requires_its_password(
    docker_scratch: DockerScratch, local_images: LocalImages, wait: Callable[..., Any]
) -> None:
    import redis

    password = secrets.token_hex(8)
    server = (
        "exec redis-server --appendonly yes --appendfsync everysec --maxmemory 64mb "
        '--maxmemory-policy noeviction --requirepass "$REDIS_PASSWORD"'
    )
    container = docker_scratch.client.containers.run(
        local_images.redis,
        command=["sh", "-c", server],
        name=docker_scratch.name("redis"),
        labels=docker_scratch.labels,
        environment={"REDIS_PASSWORD": password},
        ports={"6379/tcp": ("127.0.0.1", None)},
        healthcheck=_healthcheck('REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 ping | grep -q PONG'),
        detach=True,
    )
    _wait_healthy(container, wait, 60)
    port = _published_port(container, "6379/tcp")

    assert redis.Redis(host="127.0.0.1", port=port, password=password).ping() is True
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=port).ping()
    assert container.exec_run("sh -c 'pwd; ls /data'").output.decode().split() == ["/data", "appendonlydir"]


# The compose file asks for nofile 65536; a container cannot go above the Docker
# Engine's own hard limit (20000 on these machines: runc fails with "error
# setting rlimit type 7: operation not permitted"), so ask for what it can give.
NOFILE = min(65536, resource.getrlimit(resource.RLIMIT_NOFILE)[1])

SEARCH_PROBE = "curl -fsS 'http://127.0.0.1:9200/_cluster/health?wait_for_status=yellow&timeout=1s' >/dev/null"


def _search_environment(cluster_name: str) -> dict[str, str]:
    return {
        "cluster.name": cluster_name,
        "discovery.type": "single-node",
        "bootstrap.memory_lock": "false",
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "action.destructive_requires_name": "true",
    }


def _run_search_container(
    scratch: DockerScratch, image: str, suffix: str, environment: dict[str, str], wait: Callable[..., Any]
) -> tuple[Any, str]:
    container = scratch.client.containers.run(
        image,
        name=scratch.name(suffix),
        labels=scratch.labels,
        environment=environment,
        ports={"9200/tcp": ("127.0.0.1", None)},
        ulimits=[{"Name": "nofile", "Soft": NOFILE, "Hard": NOFILE}],
        healthcheck=_healthcheck(SEARCH_PROBE, interval=2),
        detach=True,
    )
    _wait_healthy(container, wait, 240)
    return container, f"http://127.0.0.1:{_published_port(container, '9200/tcp')}"


def _runs_as_uid_1000_and_owns_data(container: Any, home: str) -> None:
    assert container.exec_run("id -u").output.decode().strip() == "1000"
    owner = container.exec_run(["stat", "-c", "%u", f"{home}/data"]).output.decode().strip()
    assert owner == "1000"


def test_elasticsearch_image_takes_settings_from_the_environment(
    docker_scratch: DockerScratch, local_images: LocalImages, wait: Callable[..., Any]
) -> None:
    cluster = f"{docker_scratch.project}-search"
    environment = {
        **_search_environment(cluster),
        "xpack.security.enabled": "false",
        "ES_JAVA_OPTS": "-Xms256m -Xmx256m",
    }
    container, url = _run_search_container(docker_scratch, local_images.elasticsearch, "es", environment, wait)

    health = _http_json(f"{url}/_cluster/health")
    assert health["cluster_name"] == cluster
    assert health["status"] in {"green", "yellow"}
    (settings,) = _http_json(f"{url}/_nodes/_local/settings?flat_settings=true")["nodes"].values()
    assert settings["settings"]["discovery.type"] == "single-node"
    assert settings["settings"]["action.destructive_requires_name"] == "true"
    nodes = _http_json(f"{url}/_nodes/_local/jvm?filter_path=nodes.*.version,nodes.*.jvm.mem.heap_max_in_bytes")
    (node,) = nodes["nodes"].values()
    assert node["version"] == "8.19.21"
    assert node["jvm"]["mem"]["heap_max_in_bytes"] == 256 * 1024 * 1024
    # ticketctl's analysis plugin brings the filters of analysis-common that the mapping uses.
    assert _http_json(f"{url}/_cat/plugins?format=json&h=component") == [{"component": "ticketctl-analysis"}]
    analysis = _http_json(
        f"{url}/_analyze",
        "POST",
        {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"], "text": "São Paulo"},
    )
    assert [token["token"] for token in analysis["tokens"]] == ["sao", "paulo"]
    _runs_as_uid_1000_and_owns_data(container, "/usr/share/elasticsearch")


def test_opensearch_image_takes_settings_from_the_environment(
    docker_scratch: DockerScratch, local_images: LocalImages, wait: Callable[..., Any]
) -> None:
    cluster = f"{docker_scratch.project}-search"
    environment = {
        **_search_environment(cluster),
        "DISABLE_SECURITY_PLUGIN": "true",
        "DISABLE_INSTALL_DEMO_CONFIG": "true",
        "OPENSEARCH_JAVA_OPTS": "-Xms256m -Xmx256m",
    }
    container, url = _run_search_container(docker_scratch, local_images.opensearch, "os", environment, wait)

    root = _http_json(f"{url}/")
    assert root["cluster_name"] == cluster
    assert root["version"]["distribution"] == "opensearch"
    assert _http_json(f"{url}/_cluster/health")["status"] in {"green", "yellow"}
    analysis = _http_json(
        f"{url}/_analyze",
        "POST",
        {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"], "text": "São Paulo"},
    )
    assert [token["token"] for token in analysis["tokens"]] == ["sao", "paulo"]
    nodes = _http_json(f"{url}/_nodes/_local/jvm?filter_path=nodes.*.jvm.mem.heap_max_in_bytes")
    (node,) = nodes["nodes"].values()
    assert node["jvm"]["mem"]["heap_max_in_bytes"] == 256 * 1024 * 1024
    _runs_as_uid_1000_and_owns_data(container, "/usr/share/opensearch")


def test_apps_image_runs_the_placeholder_and_stops_on_term(
    docker_scratch: DockerScratch, local_images: LocalImages, wait: Callable[..., Any]
) -> None:
    placeholder = (
        "trap 'exit 0' TERM INT; echo \"$SERVICE_NAME placeholder: replace images.apps with the real image\"; "
        "while true; do sleep 3600 & wait $!; done"
    )
    container = docker_scratch.client.containers.run(
        local_images.apps,
        command=["sh", "-c", placeholder],
        name=docker_scratch.name("app"),
        labels=docker_scratch.labels,
        environment={"SERVICE_NAME": "api-gateway"},
        detach=True,
    )
    wait(lambda: b"api-gateway placeholder" in container.logs(), 30, "the placeholder's first line")
    container.stop(timeout=10)
    container.reload()
    assert container.attrs["State"]["ExitCode"] == 0


def test_docker_scratch_removes_labelled_objects(docker_scratch: DockerScratch, local_images: LocalImages) -> None:
    client = docker_scratch.client
    network = client.networks.create(docker_scratch.name("net"), labels=docker_scratch.labels)
    volume = client.volumes.create(docker_scratch.name("vol"), labels=docker_scratch.labels)
    container = client.containers.create(
        local_images.apps, command=["sleep", "60"], labels=docker_scratch.labels, name=docker_scratch.name("c")
    )
    docker_scratch.cleanup()
    label = f"io.ticketctl.test={docker_scratch.test_id}"
    assert client.containers.list(all=True, filters={"label": label}) == []
    assert client.networks.list(filters={"label": label}) == []
    assert client.volumes.list(filters={"label": label}) == []
    assert network.name not in {n.name for n in client.networks.list()}
    assert volume.name not in {v.name for v in client.volumes.list()}
    assert container.name not in {c.name for c in client.containers.list(all=True)}


def _run_to_end(scratch: DockerScratch, image: str, command: list[str], suffix: str) -> tuple[int, str]:
    container = scratch.client.containers.run(
        image, command=command, name=scratch.name(suffix), labels=scratch.labels, detach=True
    )
    status = container.wait(timeout=60)["StatusCode"]
    return status, container.logs().decode(errors="replace")


def test_entrypoints_pass_flags_to_the_server_and_run_other_commands(
    docker_scratch: DockerScratch, local_images: LocalImages
) -> None:
    status, output = _run_to_end(docker_scratch, local_images.mysql, ["--version"], "mysql-flag")
    assert (status, "mariadbd  Ver 10.11." in output) == (0, True), output
    status, output = _run_to_end(docker_scratch, local_images.mysql, ["mysql", "--version"], "mysql-cmd")
    assert (status, "Distrib 10.11." in output) == (0, True), output
    status, output = _run_to_end(docker_scratch, local_images.redis, ["--version"], "redis-flag")
    assert (status, output.startswith("Redis server v=7.")) == (0, True), output
    status, output = _run_to_end(docker_scratch, local_images.redis, ["redis-cli", "--version"], "redis-cmd")
    assert (status, output.startswith("redis-cli 7.")) == (0, True), output
    users = {"elasticsearch": "1000", "opensearch": "1000", "apps": "0"}
    for name, uid in users.items():
        image = getattr(local_images, name)
        status, output = _run_to_end(docker_scratch, image, ["sh", "-c", "echo uid=$(id -u)"], f"{name}-sh")
        assert (status, output.strip()) == (0, f"uid={uid}"), name


def test_mysql_image_reads_secrets_from_files(
    docker_scratch: DockerScratch, local_images: LocalImages, wait: Callable[..., Any]
) -> None:
    import pymysql

    root_password, app_password = secrets.token_hex(8), secrets.token_hex(8)
    container = docker_scratch.client.containers.create(
        local_images.mysql,
        name=docker_scratch.name("mysql-files"),
        labels=docker_scratch.labels,
        environment={
            "MYSQL_ROOT_PASSWORD_FILE": "/run/secrets/root",
            "MYSQL_DATABASE": "app_db",
            "MYSQL_USER": "app",
            "MYSQL_PASSWORD_FILE": "/run/secrets/app",
        },
        ports={"3306/tcp": ("127.0.0.1", None)},
        healthcheck=_healthcheck('mysql --protocol=TCP -h127.0.0.1 -uroot -p"$(cat /run/secrets/root)" -e "SELECT 1"'),
    )
    container.put_archive("/run", _tar({"secrets/root": (root_password, 0o644), "secrets/app": (app_password, 0o644)}))
    container.start()
    _wait_healthy(container, wait, 120)
    port = _published_port(container, "3306/tcp")
    with (
        pymysql.connect(host="127.0.0.1", port=port, user="app", password=app_password, database="app_db") as db,
        db.cursor() as cursor,
    ):
        cursor.execute("SELECT DATABASE(), CURRENT_USER()")
        assert cursor.fetchone() == ("app_db", "app@%")
