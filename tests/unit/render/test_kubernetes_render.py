"""What ``render_kubernetes`` writes: files, modes, secrets, the profile, stale files, the Job."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from tests.support.kubernetes import (
    FAKE_SECRETS,
    SettingsFactory,
    by_kind,
    documents_in,
    load_documents,
    pod_spec,
    write_env,
)
from ticketctl.config.secrets import STACK_SECRETS, read_env_file, resolve_secrets
from ticketctl.config.settings import load_settings
from ticketctl.errors import ConfigError
from ticketctl.render.compose import render_stack
from ticketctl.render.kubernetes import JOB_FILE, KUSTOMIZATION, SECRET_FILE, job_environment, render_kubernetes
from ticketctl.stack.model import APPLICATIONS, MYSQL_INIT_SCRIPT, build_stack

pytestmark = pytest.mark.unit

INFRASTRUCTURE_FILES = {
    "namespace.yaml",
    "mysql.yaml",
    "redis.yaml",
    "elasticsearch.yaml",
    "network-policy.yaml",
    JOB_FILE,
    KUSTOMIZATION,
}
APP_FILES = {f"{app.name}.yaml" for app in APPLICATIONS}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {path.name: (path.read_bytes(), _mode(path)) for path in sorted(folder.iterdir())}


def test_rendering_twice_changes_no_byte(make_settings: SettingsFactory, tmp_path: Path) -> None:
    out = tmp_path / "manifests"
    settings = make_settings({"profiles": "apps"})
    first = render_kubernetes(settings, output_dir=out)
    before = _snapshot(out)
    second = render_kubernetes(settings, output_dir=out)
    assert {f.status for f in first.files} == {"created"}
    assert {f.status for f in second.files} == {"unchanged"}
    assert _snapshot(out) == before


def test_default_folder_is_kubernetes_under_output_dir(make_settings: SettingsFactory, project_dir: Path) -> None:
    result = render_kubernetes(make_settings())
    assert result.output_dir == project_dir / "kubernetes"
    assert {p.name for p in result.output_dir.iterdir()} == INFRASTRUCTURE_FILES | {SECRET_FILE}


def test_secret_holds_the_env_values_and_is_private(make_settings: SettingsFactory, tmp_path: Path) -> None:
    out = tmp_path / "manifests"
    render_kubernetes(make_settings(), output_dir=out)
    assert _mode(out / SECRET_FILE) == 0o600
    assert all(_mode(path) == 0o644 for path in out.iterdir() if path.name != SECRET_FILE)
    (secret,) = by_kind(out, "Secret").values()
    decoded = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert decoded == FAKE_SECRETS


def test_missing_env_is_created_once_and_then_kept(make_settings: SettingsFactory, project_dir: Path) -> None:
    (project_dir / ".env").unlink()
    out = project_dir / "manifests"
    result = render_kubernetes(make_settings(), output_dir=out)
    env_file = read_env_file(project_dir / ".env")
    assert env_file is not None
    assert _mode(project_dir / ".env") == 0o600
    assert result.generated_secrets == tuple(spec.name for spec in STACK_SECRETS)
    (secret,) = by_kind(out, "Secret").values()
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {
        spec.name: env_file.values[spec.name] for spec in STACK_SECRETS
    }
    again = render_kubernetes(make_settings(), output_dir=out)
    assert again.generated_secrets == ()
    assert read_env_file(project_dir / ".env") == env_file
    assert {f.status for f in again.files} == {"unchanged"}


def test_new_secrets_are_checked_before_env_is_written(make_settings: SettingsFactory, project_dir: Path) -> None:
    """ticketctl render passes a check of the project's data volumes (a lost .env): it runs before .env exists."""
    (project_dir / ".env").unlink()
    seen: list[tuple[str, ...]] = []

    def refuse(values: object, generated: tuple[str, ...]) -> None:
        seen.append(generated)
        raise ConfigError("the data knows other secrets")

    with pytest.raises(ConfigError, match="the data knows other secrets"):
        render_kubernetes(make_settings(), output_dir=project_dir / "manifests", check_new_secrets=refuse)
    assert seen == [tuple(spec.name for spec in STACK_SECRETS)]
    assert not (project_dir / ".env").exists() and not (project_dir / "manifests").exists()


def test_env_lacking_a_secret_is_refused(make_settings: SettingsFactory, project_dir: Path) -> None:
    write_env(project_dir, {k: v for k, v in FAKE_SECRETS.items() if k != "REDIS_PASSWORD"})
    with pytest.raises(ConfigError, match="REDIS_PASSWORD missing") as caught:
        render_kubernetes(make_settings(), output_dir=project_dir / "manifests")
    assert "ticketctl render" in (caught.value.hint or "")
    assert not (project_dir / "manifests").exists()


def test_existing_secret_writes_no_secret_and_references_the_name(
    make_settings: SettingsFactory, project_dir: Path
) -> None:
    (project_dir / ".env").unlink()
    out = project_dir / "manifests"
    settings = make_settings({"kubernetes.existing_secret": "prod-passwords", "profiles": "apps"})
    render_kubernetes(settings, output_dir=out)
    assert not (project_dir / ".env").exists(), "no .env is needed or created"
    assert not (out / SECRET_FILE).exists()
    assert SECRET_FILE not in (out / KUSTOMIZATION).read_text()
    references = [
        variable["valueFrom"]["secretKeyRef"]["name"]
        for _, document in documents_in(out)
        if document["kind"] in ("StatefulSet", "Deployment", "Job")
        for container in pod_spec(document).get("initContainers", []) + pod_spec(document)["containers"]
        for variable in container.get("env", [])
        if "valueFrom" in variable
    ]
    assert len(references) > 15
    assert set(references) == {"prod-passwords"}


def test_apps_profile_switches_the_nine_placeholders(make_settings: SettingsFactory, tmp_path: Path) -> None:
    without = tmp_path / "without"
    render_kubernetes(make_settings(), output_dir=without)
    assert by_kind(without, "Deployment") == {}
    with_apps = tmp_path / "with"
    render_kubernetes(make_settings({"profiles": "apps"}), output_dir=with_apps)
    deployments = by_kind(with_apps, "Deployment")
    assert sorted(deployments) == sorted(app.name for app in APPLICATIONS)
    assert {p.name for p in with_apps.iterdir()} >= APP_FILES
    infrastructure = ["mysql", "redis", "elasticsearch"]
    headless = [f"{name}-headless" for name in infrastructure]
    assert sorted(by_kind(with_apps, "Service")) == sorted([*deployments, *infrastructure, *headless])


def test_files_a_previous_render_listed_are_removed(make_settings: SettingsFactory, tmp_path: Path) -> None:
    out = tmp_path / "manifests"
    render_kubernetes(make_settings({"profiles": "apps"}), output_dir=out)
    (out / "notes.yaml").write_text("# mine\n")
    result = render_kubernetes(make_settings({"kubernetes.existing_secret": "prod-passwords"}), output_dir=out)
    removed = {f.path.name for f in result.files if f.status == "removed"}
    assert removed == APP_FILES | {SECRET_FILE}
    assert {p.name for p in out.iterdir()} == INFRASTRUCTURE_FILES | {"notes.yaml"}


def test_a_listed_file_without_our_header_is_kept(make_settings: SettingsFactory, tmp_path: Path) -> None:
    out = tmp_path / "manifests"
    render_kubernetes(make_settings({"profiles": "apps"}), output_dir=out)
    (out / "api-gateway.yaml").write_text("# edited by hand\n")
    render_kubernetes(make_settings(), output_dir=out)
    assert (out / "api-gateway.yaml").read_text() == "# edited by hand\n"


def test_init_script_configmap_is_the_compose_script(make_settings: SettingsFactory, tmp_path: Path) -> None:
    settings = make_settings({"mysql.inventory.name": "seats", "mysql.inventory.user": "seats_rw"})
    out = tmp_path / "manifests"
    render_kubernetes(settings, output_dir=out)
    script = next(f for f in render_stack(settings, FAKE_SECRETS) if f.name == MYSQL_INIT_SCRIPT)
    configmap = by_kind(out, "ConfigMap")["mysql-init"]
    assert configmap["data"] == {"01-create-databases.sql": script.content}
    mysql = pod_spec(by_kind(out, "StatefulSet")["mysql"])
    (mount,) = [m for m in mysql["containers"][0]["volumeMounts"] if m["name"] == "mysql-init"]
    assert mount["mountPath"] == "/docker-entrypoint-initdb.d"
    (volume,) = [v for v in mysql["volumes"] if v["name"] == "mysql-init"]
    assert volume["configMap"]["items"] == [
        {"key": "01-create-databases.sql", "path": "01-create-databases.sql", "mode": 0o444}
    ]


def test_kubernetes_settings_reach_the_manifests(make_settings: SettingsFactory, tmp_path: Path) -> None:
    out = tmp_path / "manifests"
    overrides = {
        "project": "shop_prod",
        "kubernetes.storage_class": "fast-ssd",
        "kubernetes.storage.mysql": "50Gi",
        "kubernetes.storage.search": "20Gi",
        "kubernetes.resources.mysql.limits": "cpu=2,memory=4Gi",
        "kubernetes.resources.redis.requests": "",
        "kubernetes.resources.redis.limits": "",
    }
    render_kubernetes(make_settings(overrides), output_dir=out)
    names = {doc["metadata"].get("namespace", doc["metadata"]["name"]) for _, doc in documents_in(out)}
    assert names == {"shop-prod"}, "the namespace derives from the project, _ made -"
    statefulsets = by_kind(out, "StatefulSet")
    sizes = {
        name: [
            (claim["spec"].get("storageClassName"), claim["spec"]["resources"]["requests"]["storage"])
            for claim in document["spec"]["volumeClaimTemplates"]
        ]
        for name, document in statefulsets.items()
    }
    assert sizes == {
        "mysql": [("fast-ssd", "50Gi")],
        "redis": [("fast-ssd", "2Gi")],
        "elasticsearch": [("fast-ssd", "20Gi")],
    }
    mysql = pod_spec(statefulsets["mysql"])["containers"][0]
    assert mysql["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    assert "resources" not in pod_spec(statefulsets["redis"])["containers"][0]


def test_max_map_count_choices(make_settings: SettingsFactory, tmp_path: Path) -> None:
    """no-mmap (the default) and node keep the pod restricted; init-container is privileged, and says so."""
    for choice, level in (("no-mmap", "restricted"), ("node", "restricted"), ("init-container", "privileged")):
        out = tmp_path / choice
        render_kubernetes(make_settings({"kubernetes.max_map_count": choice}), output_dir=out)
        search = pod_spec(by_kind(out, "StatefulSet")["elasticsearch"])
        env = {var["name"]: var.get("value") for var in search["containers"][0]["env"]}
        assert (env.get("node.store.allow_mmap") == "false") == (choice == "no-mmap")
        (namespace,) = by_kind(out, "Namespace").values()
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == level
        assert search["securityContext"]["fsGroup"] == 1000
        if choice != "init-container":
            assert "initContainers" not in search
            assert "privileged" not in (out / "elasticsearch.yaml").read_text()
            continue
        (init,) = search["initContainers"]
        assert init["securityContext"] == {"privileged": True, "runAsNonRoot": False, "runAsUser": 0}
        assert "sysctl -w vm.max_map_count=262144" in init["command"][2]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"kubernetes.resources.mysql.requests": "memory=2Gi"}, "requests: memory 2Gi is above the limit 1Gi"),
        ({"kubernetes.resources.mysql.limits": "memory=256Mi"}, "limits: memory 256Mi is below the request 512Mi"),
        ({"kubernetes.resources.job.requests": "cpu=2", "kubernetes.resources.job.limits": "cpu=1500m"}, "cpu 2 is"),
        ({"search.heap": "1g"}, "search.heap: 1g does not fit in the memory limit 1Gi"),
        (
            {"kubernetes.resources.search.limits": "memory=512Mi", "kubernetes.resources.search.requests": ""},
            "512Mi is not above search.heap 512m",
        ),
        ({"redis.maxmemory": "512mb"}, "redis.maxmemory: 512mb does not fit in the memory limit 512Mi"),
        ({"project": "shop-"}, "cannot be a Kubernetes label value"),
    ],
)
def test_settings_kubernetes_would_refuse_are_refused(
    make_settings: SettingsFactory, tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        render_kubernetes(make_settings(overrides), output_dir=tmp_path / "manifests")
    assert not (tmp_path / "manifests").exists()


def test_a_refused_value_names_where_it_came_from(make_settings: SettingsFactory, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        render_kubernetes(make_settings({"search.heap": "2g"}), output_dir=tmp_path / "manifests")
    assert caught.value.message.startswith("TICKETCTL_SEARCH__HEAP: search.heap: 2g does not fit")


# --------------------------------------------------------------------------- the Job


def _job(folder: Path) -> dict:  # type: ignore[type-arg]
    (job,) = by_kind(folder, "Job").values()
    return job


def test_job_runs_migrate_then_index_create_after_waiting(make_settings: SettingsFactory, tmp_path: Path) -> None:
    settings = make_settings({"images.ticketctl": "registry.example.com/ticketctl:0.1.0"})
    render_kubernetes(settings, output_dir=tmp_path)
    spec = pod_spec(_job(tmp_path))
    steps = [(c["name"], c["command"]) for c in spec["initContainers"] + spec["containers"]]
    assert [name for name, _ in steps] == ["wait-for-services", "migrate", "index-create"]
    assert steps[0][1][:2] == ["python", "-c"]
    assert steps[0][1][3:] == ["300", "mysql:3306", "elasticsearch:9200"]
    assert steps[1][1] == ["ticketctl", "migrate", "--sync-users"]
    assert steps[2][1] == ["ticketctl", "index", "create"]
    images = {c["image"] for c in spec["initContainers"] + spec["containers"]}
    assert images == {"registry.example.com/ticketctl:0.1.0"}
    assert spec["restartPolicy"] == "Never"
    assert spec["securityContext"]["runAsNonRoot"] is True


def test_job_settings_point_at_the_cluster_and_keep_the_users_choices(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    """The Job's environment, read by ticketctl's own loader, is a valid and in-cluster configuration."""
    overrides = {
        "search.engine": "opensearch",
        "mysql.events.name": "shop_events",
        "mysql.lock_timeout": "90",
        "search.index": "shop_events",
        "search.replicas": "0",
        "ports.mysql": "13306",
        "mysql.host": "db.example.com",
        "mysql.ssl_ca": "/home/me/ca.pem",
        "mysql.ssl_cert": "/home/me/client.pem",
        "mysql.ssl_key": "/home/me/client-key.pem",
        "redis.tls": "true",
        "redis.ca_certs": "/home/me/redis-ca.pem",
        "search.url": "https://search.example.com:9243",
        "search.username": "admin",
        "search.ca_certs": "/home/me/search-ca.pem",
        "output_dir": "/home/me/stack",
        "kubernetes.namespace": "shop",
    }
    render_kubernetes(make_settings(overrides), output_dir=tmp_path / "manifests")
    spec = pod_spec(_job(tmp_path / "manifests"))
    containers = {c["name"]: c for c in spec["initContainers"] + spec["containers"]}
    container = containers["migrate"]
    assert not any("valueFrom" in v for v in containers["index-create"]["env"]), "index creation needs no password"
    assert "env" not in containers["wait-for-services"]
    environ = {v["name"]: v["value"] for v in container["env"] if "value" in v}
    secrets = {v["name"]: v["valueFrom"]["secretKeyRef"]["key"] for v in container["env"] if "valueFrom" in v}
    # migrate gets MySQL's passwords only (root: to create a missing database).
    mysql_secrets = ("MYSQL_ROOT_PASSWORD", "EVENTS_DB_PASSWORD", "INVENTORY_DB_PASSWORD", "BOOKINGS_DB_PASSWORD")
    assert secrets == {name: name for name in mysql_secrets}
    loaded = load_settings(environ=environ, cwd=tmp_path)
    assert (loaded.mysql.host, loaded.mysql.port, loaded.mysql.ssl_ca) == ("mysql", 3306, None)
    assert (loaded.search.engine, loaded.search.url, loaded.search.username) == (
        "opensearch",
        "http://opensearch:9200",
        None,
    )
    assert (loaded.redis.host, loaded.redis.port) == ("redis", 6379)
    assert (loaded.mysql.ssl_cert, loaded.mysql.ssl_key, loaded.redis.tls, loaded.redis.ca_certs) == (
        None,
        None,
        False,
        None,
    )
    assert loaded.search.ca_certs is None
    assert not any("/home/me" in value for value in environ.values()), "no file of this machine is passed on"
    assert loaded.docker_enabled is False
    assert loaded.mysql.database("events").name == "shop_events"
    assert (loaded.mysql.lock_timeout, loaded.search.index, loaded.search.replicas) == (90, "shop_events", 0)
    assert loaded.output_dir == tmp_path, "a path of this machine is not passed on"
    assert not any(name.startswith(("TICKETCTL_PORTS__", "TICKETCTL_KUBERNETES__")) for name in environ)
    assert resolve_secrets(None, {**environ, **FAKE_SECRETS}).require("MYSQL_ROOT_PASSWORD")


def test_job_environment_of_the_defaults_is_only_the_endpoints(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    assert dict(job_environment(settings, build_stack(settings))) == {
        "TICKETCTL_DOCKER__ENABLED": "false",
        "TICKETCTL_MYSQL__HOST": "mysql",
        "TICKETCTL_MYSQL__PORT": "3306",
        "TICKETCTL_REDIS__HOST": "redis",
        "TICKETCTL_REDIS__PORT": "6379",
        "TICKETCTL_SEARCH__ENGINE": "elasticsearch",
        "TICKETCTL_SEARCH__URL": "http://elasticsearch:9200",
    }


def test_job_name_changes_with_its_spec_only(make_settings: SettingsFactory, tmp_path: Path) -> None:
    def job_name(overrides: dict[str, str], folder: str) -> str:
        render_kubernetes(make_settings(overrides), output_dir=tmp_path / folder)
        name: str = _job(tmp_path / folder)["metadata"]["name"]
        return name

    default = job_name({}, "a")
    assert default.startswith("ticketctl-setup-")
    assert job_name({}, "b") == default
    assert job_name({"profiles": "apps", "kubernetes.storage.mysql": "99Gi"}, "c") == default
    assert job_name({"images.ticketctl": "ticketctl:0.2.0"}, "d") != default
    assert job_name({"search.index": "other"}, "e") != default
    assert len(default) <= 63


def test_kustomization_lists_files_in_a_stable_order(make_settings: SettingsFactory, tmp_path: Path) -> None:
    render_kubernetes(make_settings({"profiles": "apps"}), output_dir=tmp_path)
    (kustomization,) = load_documents((tmp_path / KUSTOMIZATION).read_text())
    resources = kustomization["resources"]
    assert resources[:5] == ["namespace.yaml", SECRET_FILE, "mysql.yaml", "redis.yaml", "elasticsearch.yaml"]
    assert resources[-1] == JOB_FILE
