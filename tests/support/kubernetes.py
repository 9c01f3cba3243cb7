"""Helpers of the Kubernetes target's tests: fake secrets, settings factories, reading rendered manifests."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ticketctl.config.secrets import STACK_SECRETS
from ticketctl.config.settings import Settings

# ``make_settings({"dotted.path": value})``: the fixture of tests/unit/render/conftest.py.
SettingsFactory = Callable[..., Settings]

# Deterministic secrets for golden files; obviously fake, and long enough for validate_secret.
FAKE_SECRETS = {spec.name: f"fake-{spec.name.lower().replace('_', '-')}-0123" for spec in STACK_SECRETS}


def clear_ticketctl_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's TICKETCTL_* variables must not leak into the settings of these tests."""
    for name in list(os.environ):
        if name.startswith("TICKETCTL_") and not name.startswith("TICKETCTL_TEST_"):
            monkeypatch.delenv(name)


def write_env(folder: Path, values: dict[str, str]) -> Path:
    path = folder / ".env"
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()), encoding="utf-8")
    path.chmod(0o600)
    return path


# libyaml's loader when PyYAML has it: the parity and schema tests parse a few hundred documents.
SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_documents(text: str) -> list[dict[str, Any]]:
    return [document for document in yaml.load_all(text, Loader=SafeLoader) if document is not None]


def documents_in(folder: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(file name, document) of every manifest in a rendered folder, kustomization excluded."""
    for path in sorted(folder.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in load_documents(path.read_text(encoding="utf-8")):
            yield path.name, document


def by_kind(folder: Path, kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in documents_in(folder) if doc["kind"] == kind}


def pod_spec(document: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = document["spec"]["template"]["spec"]
    return spec


# Settings variants rendered by the schema and parity tests: the defaults, the profile,
# every Kubernetes setting changed, OpenSearch with non-default names, ports and images.
NO_RESOURCES = {
    f"kubernetes.resources.{name}.{kind}": ""
    for name in ("mysql", "redis", "search", "apps", "job")
    for kind in ("requests", "limits")
}
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "apps": {"profiles": "apps"},
    "opensearch-custom": {
        "project": "shop_prod",
        "profiles": "apps",
        "search.engine": "opensearch",
        "images.opensearch": "registry.example.com/search/opensearch:3.6.0",
        "images.mysql": "mysql:8.0.40",
        "images.redis": "redis:7.2",
        "images.apps": "busybox:1.36",
        "images.ticketctl": "registry.example.com/ticketctl:0.1.0",
        "ports.mysql": 13306,
        "ports.redis": 16379,
        "ports.search": 19200,
        "ports.apps": 20000,
        "mysql.events.name": "shop_events",
        "mysql.events.user": "shop_events_rw",
        "redis.maxmemory": "128mb",
        "search.heap": "1g",
        "search.index": "shop_events",
        "kubernetes.namespace": "shop",
        "kubernetes.storage_class": "fast-ssd",
        "kubernetes.storage.mysql": "50Gi",
        "kubernetes.resources.search.requests": "cpu=1,memory=2Gi",
        "kubernetes.resources.search.limits": "cpu=2,memory=3Gi",
    },
    "existing-secret": {"kubernetes.existing_secret": "prod-passwords", "kubernetes.max_map_count": "node"},
    # The privileged choice for vm.max_map_count, and every optional object and image setting.
    "init-container": {
        "kubernetes.max_map_count": "init-container",
        "kubernetes.pod_disruption_budget": "true",
        "kubernetes.image_registry": "registry.example.com/mirror",
        "kubernetes.image_pull_policy": "Always",
        "kubernetes.image_pull_secrets": "regcred,backup-regcred",
        "kubernetes.job.ttl": "3600",
        "kubernetes.job.deadline": "900",
    },
    "no-resources": {"profiles": "apps", **NO_RESOURCES},
}
