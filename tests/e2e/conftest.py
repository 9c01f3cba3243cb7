"""Fixtures of the end-to-end tests: the locally built images, the Docker Engine, a project per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import LocalImages
from tests.support.stacks import IMAGE_KEYS, Project, new_project


@pytest.fixture(scope="session")
def images(local_images: LocalImages) -> dict[str, str]:
    """The locally built images (scripts/test-services), by image setting."""
    return {key: getattr(local_images, key) for key in IMAGE_KEYS}


@pytest.fixture
def project(tmp_path: Path, docker_client: Any, images: dict[str, str]) -> Iterator[Project]:
    stack = new_project(tmp_path, docker_client, images)
    yield stack
    stack.cleanup()
