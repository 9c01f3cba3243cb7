"""Every rendered manifest is valid against the Kubernetes OpenAPI schemas (offline, strict).

``kubernetes-validate`` ships the JSON schemas of each Kubernetes release; strict mode also
refuses fields that do not exist, so a misspelt or misplaced key fails here, not in a cluster.
The kustomization is checked by listing and by ``kubectl kustomize``.
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml
from kubernetes_validate.utils import all_versions, major_minor

from tests.support.kubernetes import VARIANTS, SettingsFactory, documents_in
from tests.support.requirements import KUBECTL
from ticketctl.render.kubernetes import KUSTOMIZATION, render_kubernetes

pytestmark = pytest.mark.unit


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


# The newest Kubernetes release the validator knows, and the two before it.
VERSIONS = sorted({major_minor(version) for version in all_versions()}, key=_release)[-3:]


@pytest.fixture(scope="module", autouse=True)
def _schemas_read_once() -> Iterator[None]:
    """The validator reads and parses its schema files for every document; read each once."""
    original = kubernetes_validate.utils.schema_contents
    kubernetes_validate.utils.schema_contents = functools.cache(original)
    yield
    kubernetes_validate.utils.schema_contents = original


def _render(make_settings: SettingsFactory, variant: str, tmp_path: Path) -> Path:
    out = tmp_path / "manifests"
    render_kubernetes(make_settings(VARIANTS[variant]), output_dir=out)
    return out


def test_the_newest_release_is_current() -> None:
    assert _release(VERSIONS[-1]) >= (1, 35), f"kubernetes-validate knows only up to {VERSIONS[-1]}; upgrade it"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_manifest_validates_strictly(
    make_settings: SettingsFactory, tmp_path: Path, variant: str, version: str
) -> None:
    out = _render(make_settings, variant, tmp_path)
    validated: list[str] = []
    for name, document in documents_in(out):
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            pytest.fail(f"{name}: {document['kind']}/{document['metadata']['name']}: {path}: {error.message}")
        validated.append(document["kind"])
    expected = {"Namespace", "ConfigMap", "Service", "StatefulSet", "Job", "NetworkPolicy"}
    if variant != "existing-secret":
        expected.add("Secret")
    if VARIANTS[variant].get("kubernetes.pod_disruption_budget") == "true":
        expected.add("PodDisruptionBudget")
    if "apps" in VARIANTS[variant].get("profiles", ""):
        expected.add("Deployment")
    assert set(validated) == expected


def test_strict_validation_catches_a_misplaced_field() -> None:
    """The validator is not a no-op: a field at the wrong level fails."""
    bad: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"port": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSIONS[-1], strict=True)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_kustomization_lists_every_manifest_once(
    make_settings: SettingsFactory, tmp_path: Path, variant: str
) -> None:
    out = _render(make_settings, variant, tmp_path)
    kustomization = yaml.safe_load((out / KUSTOMIZATION).read_text())
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources))
    assert sorted(resources) == sorted(path.name for path in out.glob("*.yaml") if path.name != KUSTOMIZATION)
    assert resources[0] == "namespace.yaml"


@pytest.mark.parametrize("variant", ["default", "opensearch-custom"])
def test_kubectl_kustomize_builds_the_folder(make_settings: SettingsFactory, tmp_path: Path, variant: str) -> None:
    """What `kubectl apply -k` would send: every object of every file, in one namespace."""
    kubectl = KUBECTL.require()
    out = _render(make_settings, variant, tmp_path)
    built = subprocess.run([kubectl, "kustomize", str(out)], capture_output=True, text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    objects = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    assert len(objects) == len(list(documents_in(out)))
    namespace = VARIANTS[variant].get("kubernetes.namespace", "ticketing")
    for document in objects:
        if document["kind"] == "Namespace":
            assert document["metadata"]["name"] == namespace
        else:
            assert document["metadata"]["namespace"] == namespace
