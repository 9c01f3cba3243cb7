"""A container beside the create body: each differing field named in the Engine's terms, secrets never shown."""

from __future__ import annotations

from typing import Any

from ticketctl.config.secrets import remember
from ticketctl.runtime.compare import SECRET_MARK, compare_container, is_secret, word_difference
from ticketctl.runtime.docker import Container, Image

IMAGE = Image(id="sha256:" + "a" * 64, environment={"PATH": "/usr/bin"})
BODY: dict[str, Any] = {
    "Image": "redis:7",
    "Env": ["REDIS_PASSWORD=s3cret-value-123", "MODE=fast"],
    "Cmd": ["redis-server", "--maxmemory", "256mb"],
    "StopTimeout": 10,
    "Healthcheck": {"Test": ["CMD-SHELL", "redis-cli ping"], "Interval": 5_000_000_000, "Retries": 3},
    "HostConfig": {
        "PortBindings": {"6379/tcp": [{"HostIp": "127.0.0.1", "HostPort": "6379"}]},
        "Mounts": [{"Type": "volume", "Source": "p_redis-data", "Target": "/data", "ReadOnly": False}],
        "RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0},
        "Ulimits": [],
        "NetworkMode": "p_backend",
    },
}


def container(**changes: Any) -> Container:
    """What the Engine reports for a container made from BODY, with ``changes`` applied to Config/HostConfig."""
    config = {
        "Image": BODY["Image"],
        "Env": [*BODY["Env"], "PATH=/usr/bin"],
        "Cmd": list(BODY["Cmd"]),
        "StopTimeout": 10,
        "Healthcheck": dict(BODY["Healthcheck"]),
        "Labels": {"com.docker.compose.project": "p"},
    }
    host = {
        "PortBindings": BODY["HostConfig"]["PortBindings"],
        "Mounts": [{"Type": "volume", "Source": "p_redis-data", "Target": "/data"}],  # the Engine omits ReadOnly false
        "RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0},
        "Ulimits": None,
        "NetworkMode": "p_backend",
        "Memory": 0,
        "PidsLimit": None,
    }
    config.update(changes.pop("config", {}))
    host.update(changes.pop("host", {}))
    return Container(
        {
            "Id": "c1",
            "Name": "/p-redis-1",
            "Image": changes.get("image_id", IMAGE.id),
            "Config": config,
            "HostConfig": host,
        },
        runtime=None,  # type: ignore[arg-type]  # comparing never asks the Engine
    )


def described(found: Any) -> list[str]:
    return [change.describe() for change in found]


def test_a_container_made_from_the_body_has_no_difference() -> None:
    assert compare_container(container(), BODY, IMAGE) == []


def test_each_field_is_named_with_both_values() -> None:
    changed = container(
        config={"Cmd": ["redis-server", "--maxmemory", "128mb"], "StopTimeout": 30},
        host={
            "PortBindings": {"6379/tcp": [{"HostIp": "127.0.0.1", "HostPort": "6380"}]},
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
        },
    )
    found = compare_container(changed, BODY, IMAGE, settings={"ports": "ports.redis"})
    assert described(found) == [
        "command: redis-server --maxmemory 128mb → redis-server --maxmemory 256mb",
        "ports (ports.redis): 127.0.0.1:6380->6379/tcp → 127.0.0.1:6379->6379/tcp",
        "restart policy: on-failure:3 → unless-stopped",
        "stop timeout: 30s → 10s",
    ]


def test_environment_values_are_compared_with_the_image_s_own_variables_left_alone() -> None:
    changed = container(config={"Env": ["REDIS_PASSWORD=other-secret-456", "MODE=slow", "TZ=UTC", "PATH=/usr/bin"]})
    assert described(compare_container(changed, BODY, IMAGE)) == [
        "environment MODE: slow → fast",
        f"environment REDIS_PASSWORD: {SECRET_MARK} → {SECRET_MARK}",
        "environment TZ: UTC → (none)",
    ]


def test_a_value_known_to_be_secret_is_never_shown_whatever_its_name() -> None:
    remember(["hunter2-but-longer"])
    assert is_secret("DATABASE_URL", "mysql://u:hunter2-but-longer@h/db")
    assert is_secret("APP_TOKEN", "x") and is_secret("MYSQL_PASSWORD", "x")
    assert not is_secret("MODE", "fast")


def test_an_image_tag_that_points_elsewhere_and_an_image_still_to_pull() -> None:
    moved = Image(id="sha256:" + "b" * 64, environment={"PATH": "/usr/bin"})
    assert described(compare_container(container(), BODY, moved, settings={"image": "images.redis"})) == [
        "image ID (images.redis): aaaaaaaaaaaa → bbbbbbbbbbbb (redis:7 points to it now)"
    ]
    assert described(compare_container(container(), BODY, None)) == [
        "image ID: aaaaaaaaaaaa → redis:7 is not present: up pulls it"
    ]
    retagged = container(config={"Image": "redis:6"})
    assert described(compare_container(retagged, BODY, IMAGE))[0] == "image: redis:6 → redis:7"


def test_limits_set_with_docker_update_are_named() -> None:
    updated = container(host={"Memory": 512 * 2**20, "NanoCpus": 500_000_000, "PidsLimit": 100})
    assert described(compare_container(updated, BODY, IMAGE)) == [
        "memory limit (HostConfig.Memory, set by docker update): 512 MiB → (none)",
        "CPU limit (HostConfig.NanoCpus, set by docker update): 0.5 CPUs → (none)",
        "process limit (HostConfig.PidsLimit, set by docker update): 100 → (none)",
    ]


def test_healthcheck_and_file_labels() -> None:
    changed = container(
        config={"Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000, "Retries": 3}}
    )
    found = compare_container(changed, BODY, IMAGE, file_labels=[("io.example.team", "tickets")])
    assert described(found) == [
        "healthcheck: test CMD-SHELL true, interval 5s, retries 3 → "
        "test CMD-SHELL redis-cli ping, interval 5s, retries 3",
        "label io.example.team: (none) → tickets",
    ]


def test_word_difference_keeps_only_the_part_that_changed() -> None:
    before = "sh -c exec redis-server --appendonly yes --appendfsync everysec --maxmemory 256mb --maxmemory-policy x"
    after = before.replace("256mb", "300mb")
    assert word_difference(before, after) == (
        "… --maxmemory 256mb --maxmemory-policy …",
        "… --maxmemory 300mb --maxmemory-policy …",
    )
    assert word_difference("a b", "a c") == ("a b", "a c")  # short values stay whole
