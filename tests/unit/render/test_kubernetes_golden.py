"""Golden files: the default settings with a fixed fake .env render exactly these manifests.

A change to a template or the model shows up here as a reviewable diff. To accept it, run
``TICKETCTL_TEST_UPDATE_GOLDEN=1 pytest tests/unit/render/test_kubernetes_golden.py``
and review ``git diff tests/unit/render/golden/kubernetes``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.kubernetes import SettingsFactory
from ticketctl.render.kubernetes import render_kubernetes

pytestmark = pytest.mark.unit

GOLDEN_DIR = Path(__file__).parent / "golden" / "kubernetes"
UPDATE = os.environ.get("TICKETCTL_TEST_UPDATE_GOLDEN", "") not in ("", "0")


@pytest.mark.parametrize("case, overrides", [("default", {}), ("apps", {"profiles": "apps"})])
def test_rendered_manifests_match_the_golden_files(
    make_settings: SettingsFactory, tmp_path: Path, case: str, overrides: dict[str, str]
) -> None:
    out = tmp_path / "manifests"
    render_kubernetes(make_settings(overrides), output_dir=out)
    golden = GOLDEN_DIR / case
    if UPDATE:
        shutil.rmtree(golden, ignore_errors=True)
        shutil.copytree(out, golden)
    rendered = {path.name: path.read_text(encoding="utf-8") for path in sorted(out.iterdir())}
    expected = {path.name: path.read_text(encoding="utf-8") for path in sorted(golden.iterdir())}
    assert sorted(rendered) == sorted(expected), "files differ; TICKETCTL_TEST_UPDATE_GOLDEN=1 regenerates"
    for name, content in expected.items():
        assert rendered[name] == content, f"{name} differs from {golden / name}; TICKETCTL_TEST_UPDATE_GOLDEN=1"
