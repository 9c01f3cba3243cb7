"""The test Kubernetes API server of ``scripts/test-services`` and a namespace per test.

The server is a real ``kube-apiserver`` (built from the ``k8s.io/kubernetes`` Go module) on
Debian's etcd, without nodes: what it answers is what a cluster's control plane answers
(admission, Pod Security, validation, immutable fields), but no pod ever runs. Tests talk to
it with the ``kubectl`` built from the same release, as a user would.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Pod Security labels of a namespace at one level, enforced, audited and warned about.
POD_SECURITY_MODES = ("enforce", "audit", "warn")
# What a test may create in its namespace; deleted with it.
NAMESPACED_KINDS = ",".join(
    (
        "pods",
        "jobs",
        "statefulsets",
        "deployments",
        "services",
        "configmaps",
        "secrets",
        "serviceaccounts",
        "persistentvolumeclaims",
        "poddisruptionbudgets",
        "networkpolicies",
    )
)


def pod_security_labels(level: str) -> dict[str, str]:
    return {f"pod-security.kubernetes.io/{mode}": level for mode in POD_SECURITY_MODES}


@dataclass(frozen=True)
class KubectlResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def warnings(self) -> list[str]:
        """The API server's warnings, as kubectl prints them (``Warning: ...`` on stderr)."""
        return [line for line in self.stderr.splitlines() if line.startswith("Warning:")]


@dataclass(frozen=True)
class KubeCluster:
    """How to reach the test API server: its kubeconfig and the matching kubectl."""

    kubeconfig: Path
    kubectl_path: Path

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60) -> KubectlResult:
        """``kubectl <args>`` against the test server; with ``check`` a non-zero exit fails the test."""
        completed = subprocess.run(
            [str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        result = KubectlResult(completed.returncode, completed.stdout, completed.stderr)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
        return result

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def create_namespace(self, labels: Mapping[str, str] | None = None, prefix: str = "tkt") -> KubeNamespace:
        """A new namespace ``<prefix>-<10 hex>`` with these labels."""
        name = f"{prefix}-{secrets.token_hex(5)}"
        document = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": dict(labels or {})},
        }
        self.kubectl("create", "-f", "-", input=json.dumps(document))
        # What a cluster's controller manager does for every new namespace; the test server runs none.
        self.kubectl("--namespace", name, "create", "serviceaccount", "default")
        return KubeNamespace(self, name)


@dataclass(frozen=True)
class KubeNamespace:
    """A namespace of one test; removed afterwards with everything in it."""

    cluster: KubeCluster
    name: str

    def kubectl(self, *args: str, **kwargs: Any) -> KubectlResult:
        return self.cluster.kubectl("--namespace", self.name, *args, **kwargs)

    def apply_dry_run(self, paths: Sequence[Path], *, check: bool = False) -> KubectlResult:
        """``kubectl apply --dry-run=server`` of these files or folders, validated strictly."""
        files = [argument for path in paths for argument in ("-f", str(path))]
        return self.kubectl("apply", "--dry-run=server", "--validate=strict", *files, check=check)

    def labels(self) -> dict[str, str]:
        document = self.cluster.get_json("namespace", self.name)
        return dict(document["metadata"].get("labels", {}))

    def delete(self) -> None:
        """Deletes the namespace and what the test put in it.

        Without a controller manager nothing empties a deleted namespace, so this deletes the
        kinds a test creates itself and then finalizes the namespace, as the namespace
        controller would.
        """
        self.kubectl("delete", NAMESPACED_KINDS, "--all", "--wait=false", "--ignore-not-found", check=False)
        self.cluster.kubectl("delete", "namespace", self.name, "--wait=false", "--ignore-not-found", check=False)
        finalized = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": self.name},
            "spec": {"finalizers": []},
        }
        self.cluster.kubectl(
            "replace",
            "--raw",
            f"/api/v1/namespaces/{self.name}/finalize",
            "-f",
            "-",
            input=json.dumps(finalized),
            check=False,
        )
