"""The Compose file and the Kubernetes manifests, rendered from the same settings, agree.

Both outputs are parsed as YAML and reduced to what a container sees: image, command,
environment (plain values and which secret each variable holds), container ports and the
healthcheck command. Compose escapes ``$`` as ``$$``; Kubernetes' kubelet does the same for
``$(`` and ``$$``; both are undone before comparing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.kubernetes import (
    FAKE_SECRETS,
    VARIANTS,
    SafeLoader,
    SettingsFactory,
    by_kind,
    documents_in,
    pod_spec,
)
from ticketctl.config.secrets import STACK_SECRETS
from ticketctl.config.settings import Settings
from ticketctl.render.compose import COMPOSE_FILENAME, render_stack
from ticketctl.render.kubernetes import SEARCH_DISK_THRESHOLD, qualified_image, render_kubernetes

pytestmark = pytest.mark.unit

COMPOSE_SECRET_RE = re.compile(r"^\$\{([A-Z_][A-Z0-9_]*):\?")
PARITY_VARIANTS = ["default", "apps", "opensearch-custom", "existing-secret", "init-container"]


def _unescape(text: str) -> str:
    return text.replace("$$", "$")


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"([0-9]+)(ms|s)", duration)
    assert match, duration
    return int(match.group(1)) / (1000 if match.group(2) == "ms" else 1)


def _compose(settings: Settings) -> dict[str, Any]:
    """The services of docker-compose.yml that run with these settings' profiles."""
    files = render_stack(settings, FAKE_SECRETS, start_interval=True)  # with healthcheck.start_interval (Docker 25+)
    content = next(f.content for f in files if f.name == COMPOSE_FILENAME)
    services = yaml.load(content, Loader=SafeLoader)["services"]
    return {
        name: service
        for name, service in services.items()
        if not service.get("profiles") or set(service["profiles"]) & set(settings.profiles)
    }


def _compose_view(service: dict[str, Any]) -> dict[str, Any]:
    env: dict[str, tuple[str, str]] = {}
    for name, value in (service.get("environment") or {}).items():
        secret = COMPOSE_SECRET_RE.match(value)
        env[name] = ("secret", secret.group(1)) if secret else ("value", _unescape(value))
    test = service.get("healthcheck", {}).get("test")
    return {
        "image": _unescape(service["image"]),
        "args": [_unescape(arg) for arg in service.get("command", [])],
        "env": env,
        "ports": sorted((int(port.rsplit(":", 1)[1].split("/")[0]), "TCP") for port in service.get("ports", [])),
        "probe": ["/bin/sh", "-c", _unescape(test[1])] if test and test[0] == "CMD-SHELL" else None,
    }


def _kubernetes_view(document: dict[str, Any]) -> dict[str, Any]:
    container = pod_spec(document)["containers"][0]
    env: dict[str, tuple[str, str]] = {}
    for variable in container.get("env", []):
        if "valueFrom" in variable:
            env[variable["name"]] = ("secret", variable["valueFrom"]["secretKeyRef"]["key"])
        else:
            env[variable["name"]] = ("value", _unescape(variable["value"]))
    probe = container.get("readinessProbe")
    return {
        "image": container["image"],
        "args": [_unescape(arg) for arg in container.get("args", [])],
        "env": env,
        "ports": sorted((port["containerPort"], port["protocol"]) for port in container.get("ports", [])),
        "probe": [_unescape(arg) for arg in probe["exec"]["command"]] if probe else None,
    }


def _kubernetes(make_settings: SettingsFactory, variant: str, tmp_path: Path) -> tuple[Settings, Path]:
    settings = make_settings(VARIANTS[variant])
    out = tmp_path / "manifests"
    render_kubernetes(settings, output_dir=out)
    return settings, out


def _workloads(out: Path) -> dict[str, dict[str, Any]]:
    return {**by_kind(out, "StatefulSet"), **by_kind(out, "Deployment")}


@pytest.mark.parametrize("variant", PARITY_VARIANTS)
def test_images_commands_environment_ports_and_probes_agree(
    make_settings: SettingsFactory, tmp_path: Path, variant: str
) -> None:
    settings, out = _kubernetes(make_settings, variant, tmp_path)
    compose = {name: _compose_view(service) for name, service in _compose(settings).items()}
    kubernetes = {name: _kubernetes_view(document) for name, document in _workloads(out).items()}
    assert sorted(kubernetes) == sorted(compose)
    for name in compose:
        # The documented differences: images name their registry, and in a cluster the search
        # engine keeps its disk watermarks and (max_map_count=no-mmap) does not mmap its files.
        registry = settings.kubernetes.image_registry
        expected = {**compose[name], "image": qualified_image(compose[name]["image"], registry)}
        if name == settings.search.engine:
            env = {key: value for key, value in expected["env"].items() if key != SEARCH_DISK_THRESHOLD}
            if settings.kubernetes.max_map_count == "no-mmap":
                env["node.store.allow_mmap"] = ("value", "false")
            expected["env"] = env
        assert kubernetes[name] == expected, name


@pytest.mark.parametrize("variant", PARITY_VARIANTS)
def test_every_secret_reference_names_a_key_of_the_one_secret(
    make_settings: SettingsFactory, tmp_path: Path, variant: str
) -> None:
    settings, out = _kubernetes(make_settings, variant, tmp_path)
    secrets = by_kind(out, "Secret")
    secret_name = settings.kubernetes.existing_secret or next(iter(secrets))
    referenced: set[str] = set()
    for _, document in documents_in(out):
        if document["kind"] not in ("StatefulSet", "Deployment", "Job"):
            continue
        spec = pod_spec(document)
        for container in spec.get("initContainers", []) + spec["containers"]:
            for variable in container.get("env", []):
                if "valueFrom" in variable:
                    reference = variable["valueFrom"]["secretKeyRef"]
                    assert reference["name"] == secret_name
                    referenced.add(reference["key"])
    compose_secrets = {
        match.group(1)
        for service in _compose(settings).values()
        for value in (service.get("environment") or {}).values()
        if (match := COMPOSE_SECRET_RE.match(value))
    }
    names = {spec.name for spec in STACK_SECRETS}
    assert compose_secrets <= referenced <= names
    if settings.kubernetes.existing_secret:
        assert secrets == {}
    else:
        assert set(secrets) == {secret_name}
        assert set(secrets[secret_name]["data"]) == names


@pytest.mark.parametrize("variant", ["default", "opensearch-custom"])
def test_probe_timing_maps_the_healthcheck(make_settings: SettingsFactory, tmp_path: Path, variant: str) -> None:
    settings, out = _kubernetes(make_settings, variant, tmp_path)
    compose = _compose(settings)
    checked = 0
    for name, document in _workloads(out).items():
        healthcheck = compose[name].get("healthcheck")
        container = pod_spec(document)["containers"][0]
        if healthcheck is None:
            assert not {"startupProbe", "readinessProbe", "livenessProbe"} & set(container)
            continue
        interval, timeout = _seconds(healthcheck["interval"]), _seconds(healthcheck["timeout"])
        start_period = _seconds(healthcheck["start_period"])
        readiness, liveness = container["readinessProbe"], container["livenessProbe"]
        assert (readiness["periodSeconds"], readiness["timeoutSeconds"]) == (interval, timeout)
        # Liveness gives the process at least as long as the healthcheck's retries before a restart.
        assert liveness["timeoutSeconds"] == timeout
        assert liveness["periodSeconds"] * liveness["failureThreshold"] >= healthcheck["retries"] * interval
        startup = container["startupProbe"]
        assert startup["periodSeconds"] == _seconds(healthcheck.get("start_interval", healthcheck["interval"]))
        assert startup["exec"] == readiness["exec"] != liveness["exec"]
        budget = start_period + healthcheck["retries"] * interval
        given = startup["periodSeconds"] * startup["failureThreshold"]
        assert budget <= given < budget + startup["periodSeconds"]
        checked += 1
    assert checked == 3  # mysql, redis, the search engine


@pytest.mark.parametrize("variant", ["default", "opensearch-custom"])
def test_services_expose_the_container_ports_under_the_compose_names(
    make_settings: SettingsFactory, tmp_path: Path, variant: str
) -> None:
    _, out = _kubernetes(make_settings, variant, tmp_path)
    services = by_kind(out, "Service")
    for name, document in _workloads(out).items():
        container = pod_spec(document)["containers"][0]
        # The Compose name is a ClusterIP Service: it resolves even while no pod is ready.
        names = [name, f"{name}-headless"] if document["kind"] == "StatefulSet" else [name]
        for service_name in names:
            service = services[service_name]["spec"]
            service_ports = {(p["port"], p["targetPort"]) for p in service["ports"]}
            assert service_ports == {(p["containerPort"], p["name"]) for p in container["ports"]}
            assert service["selector"].items() <= document["spec"]["template"]["metadata"]["labels"].items()
            assert (service.get("clusterIP") == "None") == service_name.endswith("-headless")
        if document["kind"] == "StatefulSet":
            assert document["spec"]["serviceName"] == f"{name}-headless"
