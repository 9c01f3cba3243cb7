"""The Dockerfile builds the image the setup Job expects (checked statically; building needs a base image)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ticketctl.render.kubernetes import TICKETCTL_IMAGE_UID

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]


def test_image_runs_as_the_user_the_job_declares() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"--uid {TICKETCTL_IMAGE_UID} " in dockerfile
    assert re.search(rf"^USER {TICKETCTL_IMAGE_UID}:{TICKETCTL_IMAGE_UID}$", dockerfile, re.MULTILINE)
    assert re.search(r"pip install [^\n]*\.\s", dockerfile), "the image installs the repository with pip install ."


def test_secrets_never_enter_the_build_context() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {"**/.env", "**/secret.yaml", ".git", ".venv"} <= set(ignored)
