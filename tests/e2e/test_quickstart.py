"""``scripts/quickstart`` without an image registry: local images, Elasticsearch (the default), ``doctor`` green.

The script runs as a user runs it (as root, into a new folder). Only two things
are set around it: the project name and the host ports, through ticketctl's own
environment settings, so that it runs beside other stacks; and a ``.curlrc``
(``CURL_HOME``) whose proxy is a closed port, so that the registry probe, the one
``curl`` to the outside, fails the same way on a machine that could reach a
registry (curl calls to 127.0.0.1 pass ``--noproxy '*'``; pip is not affected).
Everything of the stack carries the test's Compose project and is removed afterwards.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.ports import free_port
from tests.support.requirements import missing
from tests.support.stacks import free_ports

if TYPE_CHECKING:
    from tests.support.servers import DockerScratch, LocalImages

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
NO_REGISTRY = "quickstart: no image registry is reachable: building images from Debian packages (a few minutes, once)"


PORT_VARIABLES = tuple(f"TICKETCTL_PORTS__{name}" for name in ("MYSQL", "REDIS", "SEARCH", "APPS"))


@pytest.fixture
def environment(docker_scratch: DockerScratch, tmp_path: Path) -> dict[str, str]:
    if os.geteuid() != 0:
        missing("scripts/quickstart builds the local images as root (debootstrap, docker import)", "run as root")
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith("TICKETCTL_") or k.startswith("TICKETCTL_TEST_")
    }
    curl_home = tmp_path / "curl"
    curl_home.mkdir()
    # Nothing listens on that port once the probe socket is closed.
    (curl_home / ".curlrc").write_text(f'proxy = "http://127.0.0.1:{free_port()}"\n')
    return {
        **inherited,
        "TICKETCTL_PROJECT": docker_scratch.project,
        **dict(zip(PORT_VARIABLES, map(str, free_ports(4, consecutive=9)), strict=True)),  # apps: a block of 9
        "CURL_HOME": str(curl_home),
        "NO_COLOR": "1",
    }


def test_quickstart_brings_up_elasticsearch_with_the_packaged_mapping_and_doctor_is_green(
    tmp_path: Path, environment: dict[str, str], local_images: LocalImages
) -> None:
    folder = tmp_path / "stack"
    done = subprocess.run(
        # Generous budgets: the defaults suit a quiet machine; CI's shared cores can be slower.
        [str(REPO / "scripts" / "quickstart"), str(folder), "--wait-timeout", "600", "--service-timeout", "600"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert NO_REGISTRY in done.stderr.splitlines()
    # "up to date" when the client's retry of a slow PUT finds its own first attempt done (a loaded machine).
    assert re.search(r"^index: done \(events_v1 (created|up to date)\)$", done.stderr, re.M), done.stderr[-2000:]

    config = (folder / "ticketctl.yaml").read_text()
    for key in ("mysql", "redis", "elasticsearch", "opensearch", "apps"):
        reference = getattr(local_images, key)
        assert f"  {key}: {reference.rsplit(':', 1)[0]}:latest\n" in config
    assert "\n  engine:" not in config  # the settings default: Elasticsearch

    doctor = subprocess.run(
        [sys.executable, "-m", "ticketctl", "doctor", "--json", "--timeout", "30"],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert doctor.returncode == 0, doctor.stdout[-4000:] + doctor.stderr[-2000:]
    checks: dict[str, Any] = {check["name"]: check for check in json.loads(doctor.stdout)["checks"]}
    assert {name for name, check in checks.items() if check["status"] not in ("ok", "skip")} == set()
    assert checks["search.health"]["summary"].startswith("Elasticsearch 8.19.21 at ")
    assert checks["search.index"]["summary"].startswith("alias events → events_v1 matches ")
    assert checks["search.analyzer"]["summary"] == "analyzers work: 'São Paulo' → sao paulo"
    assert checks["containers.elasticsearch"]["status"] == "ok"
