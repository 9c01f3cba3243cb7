"""Policies every rendered manifest meets, in every settings variant (no server needed).

The server-side tests (tests/integration/kubernetes) prove what a cluster accepts; these name
the operational rules a cluster would accept but a day of operation would punish.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.kubernetes import FAKE_SECRETS, VARIANTS, SettingsFactory, documents_in, pod_spec, write_env
from ticketctl.errors import ExitCode
from ticketctl.render.kubernetes import LOCAL_IMAGE_ANNOTATION, render_kubernetes

WORKLOADS = ("StatefulSet", "Deployment", "Job")


def _rendered(make_settings: SettingsFactory, tmp_path: Path, variant: str) -> list[dict[str, Any]]:
    render_kubernetes(make_settings(VARIANTS[variant]), output_dir=tmp_path)
    return [document for _, document in documents_in(tmp_path)]


def _containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(document)
    return [*spec.get("initContainers", []), *spec["containers"]]


def _names_a_registry(image: str) -> bool:
    first, slash, _ = image.partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_liveness_differs_from_readiness(make_settings: SettingsFactory, tmp_path: Path, variant: str) -> None:
    probed = 0
    for document in _rendered(make_settings, tmp_path, variant):
        if document["kind"] not in WORKLOADS:
            continue
        for container in _containers(document):
            if "readinessProbe" in container:
                assert container["livenessProbe"]["exec"] != container["readinessProbe"]["exec"], container["name"]
                probed += 1
    assert probed == 3


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_job_has_a_deadline_and_fails_fast_on_configuration_errors(
    make_settings: SettingsFactory, tmp_path: Path, variant: str
) -> None:
    jobs = [doc for doc in _rendered(make_settings, tmp_path, variant) if doc["kind"] == "Job"]
    assert jobs
    for job in jobs:
        spec = job["spec"]
        assert 60 <= spec["activeDeadlineSeconds"] <= 86400
        rules = spec["podFailurePolicy"]["rules"]
        failing = {rule["onExitCodes"]["containerName"]: rule for rule in rules if rule["action"] == "FailJob"}
        assert set(failing) == {container["name"] for container in pod_spec(job)["containers"]} | {"migrate"}
        for rule in failing.values():
            assert set(rule["onExitCodes"]["values"]) >= {ExitCode.CONFIG, ExitCode.USAGE}
        assert ("ttlSecondsAfterFinished" in spec) == ("kubernetes.job.ttl" in VARIANTS[variant])


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_image_names_a_registry_or_is_declared_local(
    make_settings: SettingsFactory, tmp_path: Path, variant: str
) -> None:
    for document in _rendered(make_settings, tmp_path, variant):
        if document["kind"] not in WORKLOADS:
            continue
        declared = (document["spec"]["template"].get("metadata", {}).get("annotations") or {}).get(
            LOCAL_IMAGE_ANNOTATION
        )
        for container in _containers(document):
            image = container["image"]
            assert _names_a_registry(image) or image == declared, f"{document['metadata']['name']}: {image}"
            assert container["imagePullPolicy"] == VARIANTS[variant].get("kubernetes.image_pull_policy", "IfNotPresent")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_pod_runs_as_a_user_without_privileges(
    make_settings: SettingsFactory, tmp_path: Path, variant: str
) -> None:
    """Pod Security restricted, spelled out; only the init-container choice adds its one privileged container."""
    privileged = []
    for document in _rendered(make_settings, tmp_path, variant):
        if document["kind"] not in WORKLOADS:
            continue
        spec = pod_spec(document)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] > 0
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in _containers(document):
            context = container["securityContext"]
            if context.get("privileged"):
                privileged.append(container["name"])
                continue
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context.get("runAsUser", 1) != 0
    expected = ["sysctl-max-map-count"] if VARIANTS[variant].get("kubernetes.max_map_count") == "init-container" else []
    assert privileged == expected


def test_pull_secrets_reach_every_pod(make_settings: SettingsFactory, tmp_path: Path) -> None:
    for document in _rendered(make_settings, tmp_path, "init-container"):
        if document["kind"] in WORKLOADS:
            assert pod_spec(document)["imagePullSecrets"] == [{"name": "regcred"}, {"name": "backup-regcred"}]


def test_a_namespace_the_user_manages_is_not_rendered(make_settings: SettingsFactory, tmp_path: Path) -> None:
    """Then `kubectl delete -k` can never delete it (nor, with it, someone else's objects)."""
    render_kubernetes(make_settings({"kubernetes.create_namespace": "false"}), output_dir=tmp_path)
    assert not (tmp_path / "namespace.yaml").exists()
    assert all(document["kind"] != "Namespace" for _, document in documents_in(tmp_path))


def test_the_secret_name_follows_its_content(make_settings: SettingsFactory, project_dir: Path) -> None:
    """New passwords are a new Secret, so every pod that uses them is rolled; old pods keep the old one."""

    def secret_name(folder: str) -> str:
        render_kubernetes(make_settings(), output_dir=project_dir / folder)
        (name,) = (d["metadata"]["name"] for _, d in documents_in(project_dir / folder) if d["kind"] == "Secret")
        return name

    first = secret_name("a")
    assert secret_name("b") == first
    write_env(project_dir, {**FAKE_SECRETS, "REDIS_PASSWORD": "fake-rotated-redis-0123"})
    assert secret_name("c") != first
