"""The rendered manifests on a real Kubernetes API server (``kubectl apply --dry-run=server``).

The server is the one of ``scripts/test-services`` (a real kube-apiserver v1.34, no nodes): it
runs the same validation and admission as a cluster's control plane, Pod Security among them.
Each test renders into a fresh namespace name, applies the rendered ``namespace.yaml`` for real
(so the namespace carries exactly the rendered labels) and everything else with a server-side
dry run, then creates each pod template as a Pod, dry-run too, where Pod Security enforces.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.kube_cluster import KubeCluster, KubeNamespace, pod_security_labels
from ticketctl.config.settings import FIELDS, Settings, load_settings
from ticketctl.errors import ConfigError
from ticketctl.render.kubernetes import JOB_FILE, NAMESPACE_FILE, render_kubernetes

FAKE_ENV = {
    "MYSQL_ROOT_PASSWORD": "fake-root-password-0123",
    "EVENTS_DB_PASSWORD": "fake-events-password-0123",
    "INVENTORY_DB_PASSWORD": "fake-inventory-password-0123",
    "BOOKINGS_DB_PASSWORD": "fake-bookings-password-0123",
    "REDIS_PASSWORD": "fake-redis-password-0123",
}
# The choices a user makes that change what reaches the cluster; each must be accepted.
VARIANTS: dict[str, dict[str, str]] = {
    "default": {},
    "apps-opensearch": {"profiles": "apps", "search.engine": "opensearch", "kubernetes.max_map_count": "node"},
    "init-container": {
        "kubernetes.max_map_count": "init-container",
        "kubernetes.pod_disruption_budget": "true",
        "kubernetes.image_registry": "registry.example.com/mirror",
        "kubernetes.image_pull_secrets": "regcred",
        "kubernetes.job.ttl": "3600",
    },
}
WORKLOAD_KINDS = ("StatefulSet", "Deployment", "Job")


class Project:
    """A project folder with a fixed .env, rendering into one namespace of the test server."""

    def __init__(self, folder: Path, namespace: str) -> None:
        self.folder = folder
        self.namespace = namespace
        env = "".join(f"{name}={value}\n" for name, value in FAKE_ENV.items())
        (folder / ".env").write_text(env, encoding="utf-8")
        (folder / ".env").chmod(0o600)
        self.out = folder / "kubernetes"

    def settings(self, overrides: dict[str, str]) -> Settings:
        environ = {FIELDS[path].env_var: value for path, value in overrides.items()}
        environ[FIELDS["kubernetes.namespace"].env_var] = self.namespace
        return load_settings(environ=environ, cwd=self.folder)

    def render(self, overrides: dict[str, str] | None = None) -> Path:
        render_kubernetes(self.settings(overrides or {}), output_dir=self.out)
        return self.out

    def documents(self) -> list[dict[str, Any]]:
        return [
            document
            for path in sorted(self.out.glob("*.yaml"))
            if path.name != "kustomization.yaml"
            for document in yaml.safe_load_all(path.read_text(encoding="utf-8"))
            if document
        ]


@pytest.fixture
def project(tmp_path: Path, kube_cluster: KubeCluster) -> Iterator[Project]:
    """A project whose namespace (tkt-<hex>) is created by applying its own namespace.yaml."""
    project = Project(tmp_path, f"tkt-{secrets.token_hex(5)}")
    yield project
    KubeNamespace(kube_cluster, project.namespace).delete()


def _create_namespace(cluster: KubeCluster, project: Project) -> KubeNamespace:
    """``kubectl apply`` of the rendered namespace.yaml, and the ServiceAccount a controller would add."""
    cluster.kubectl("apply", "-f", str(project.out / NAMESPACE_FILE))
    cluster.kubectl("--namespace", project.namespace, "create", "serviceaccount", "default")
    return KubeNamespace(cluster, project.namespace)


def _rendered_files(out: Path) -> list[Path]:
    return [path for path in sorted(out.glob("*.yaml")) if path.name not in ("kustomization.yaml", NAMESPACE_FILE)]


def _pods_of(documents: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each workload's pod template as the Pod its controller would create."""
    for document in documents:
        if document["kind"] in WORKLOAD_KINDS:
            name, template = document["metadata"]["name"], document["spec"]["template"]
            spec = dict(template["spec"])
            # The StatefulSet controller adds a volume per claim template, bound to the pod's own claim.
            claims = [claim["metadata"]["name"] for claim in document["spec"].get("volumeClaimTemplates", [])]
            spec["volumes"] = spec.get("volumes", []) + [
                {"name": claim, "persistentVolumeClaim": {"claimName": f"{claim}-{name}-0"}} for claim in claims
            ]
            yield {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"{name}-0", **template.get("metadata", {})},
                "spec": spec,
            }


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_manifest_is_accepted_without_a_warning(
    kube_cluster: KubeCluster, project: Project, variant: str
) -> None:
    out = project.render(VARIANTS[variant])
    namespace = _create_namespace(kube_cluster, project)
    level = "privileged" if VARIANTS[variant].get("kubernetes.max_map_count") == "init-container" else "restricted"
    assert pod_security_labels(level).items() <= namespace.labels().items()

    applied = namespace.apply_dry_run(_rendered_files(out))
    assert applied.returncode == 0, applied.stderr
    assert applied.warnings == []
    created = {line.split()[0] for line in applied.stdout.splitlines()}
    assert {"statefulset.apps/mysql", "statefulset.apps/redis", "service/mysql", "service/mysql-headless"} <= created

    for pod in _pods_of(project.documents()):
        result = namespace.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
        assert result.returncode == 0, f"{pod['metadata']['name']}: {result.stderr}"
        assert result.warnings == []


def test_the_privileged_init_container_is_refused_where_restricted_is_enforced(
    kube_cluster: KubeCluster, project: Project
) -> None:
    """The labels matter: the init-container choice in a restricted namespace is Forbidden, not silently fine."""
    project.render({"kubernetes.max_map_count": "init-container"})
    namespace = kube_cluster.create_namespace(pod_security_labels("restricted"))
    try:
        (search,) = (pod for pod in _pods_of(project.documents()) if pod["metadata"]["name"] == "elasticsearch-0")
        search["metadata"].pop("namespace", None)
        result = namespace.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(search), check=False)
        assert result.returncode == 1
        assert 'is forbidden: violates PodSecurity "restricted:latest": privileged' in result.stderr
    finally:
        namespace.delete()


def test_a_rerender_after_a_setting_change_applies_or_is_refused_first(
    kube_cluster: KubeCluster, project: Project
) -> None:
    """Applied for real (no node runs anything): new images and resources apply; a new claim size is refused."""
    out = project.render()
    namespace = _create_namespace(kube_cluster, project)
    files = [arg for path in _rendered_files(out) for arg in ("-f", str(path))]
    namespace.kubectl("apply", *files)
    first_job = yaml.safe_load((out / JOB_FILE).read_text())["metadata"]["name"]

    project.render(
        {
            "images.ticketctl": "registry.example.com/ticketctl@sha256:" + "ab" * 32,
            "images.redis": "registry.example.com/redis:7.4.2",
            "kubernetes.resources.mysql.limits": "memory=2Gi",
        }
    )
    second_job = yaml.safe_load((out / JOB_FILE).read_text())["metadata"]["name"]
    assert second_job != first_job, "a new image is a new Job, never an immutable-field error"
    applied = namespace.kubectl("apply", *files, check=False)
    assert applied.returncode == 0, applied.stderr
    assert "field is immutable" not in applied.stderr

    with pytest.raises(ConfigError, match=r"mysql.yaml: StatefulSet mysql: volumeClaimTemplates would change"):
        project.render({"kubernetes.storage.mysql": "20Gi"})
    # What the cluster would have answered, had ticketctl not refused: proof that the refusal is needed.
    refused = tmp_render_with_storage(project, "20Gi")
    answer = namespace.kubectl("apply", "--dry-run=server", "-f", str(refused), check=False)
    assert answer.returncode == 1
    assert "spec: Forbidden: updates to statefulset spec for fields other than" in answer.stderr


def tmp_render_with_storage(project: Project, size: str) -> Path:
    """The manifests ticketctl refused to write, rendered into a folder of their own."""
    other = project.folder / "refused"
    render_kubernetes(project.settings({"kubernetes.storage.mysql": size}), output_dir=other)
    return other / "mysql.yaml"


def test_an_overlay_targets_the_setup_job_by_label(kube_cluster: KubeCluster, project: Project) -> None:
    """The recipe of docs/deployment.md: a kustomize overlay patches the Job by label, whatever its hashed name."""
    out = project.render()
    namespace = _create_namespace(kube_cluster, project)
    overlay = project.folder / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        "resources: [../kubernetes]\n"
        "patches:\n"
        "  - target: {kind: Job, labelSelector: app.kubernetes.io/component=setup}\n"
        "    patch: |\n"
        "      - op: add\n"
        "        path: /spec/template/spec/nodeSelector\n"
        "        value: {pool: jobs}\n",
        encoding="utf-8",
    )
    built = kube_cluster.kubectl("kustomize", str(overlay)).stdout
    jobs = [doc for doc in yaml.safe_load_all(built) if doc and doc["kind"] == "Job"]
    assert [job["spec"]["template"]["spec"]["nodeSelector"] for job in jobs] == [{"pool": "jobs"}]
    applied = namespace.kubectl("apply", "--dry-run=server", "-k", str(overlay), check=False)
    assert applied.returncode == 0, applied.stderr
    assert out.exists()
