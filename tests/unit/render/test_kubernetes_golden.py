"""Golden files: the default settings with a fixed fake .env render exactly these manifests.

A change to a template or the model shows up here as a reviewable diff. To accept it, run
``TICKETCTL_UPDATE_GOLDEN=1 pytest tests/unit/render/test_kubernetes_golden.py`` and review
``git diff tests/unit/render/golden/kubernetes`` (``tests/support/golden.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.golden import Golden
from tests.support.kubernetes import FAKE_SECRETS, write_env
from ticketctl.config.settings import FIELDS, load_settings
from ticketctl.render.kubernetes import render_kubernetes

pytestmark = pytest.mark.unit

CASES = {"default": {}, "apps": {"profiles": "apps"}}


def _render(case: str, tmp_path: Path) -> dict[str, str]:
    write_env(tmp_path, FAKE_SECRETS)
    environ = {FIELDS[path].env_var: value for path, value in CASES[case].items()}
    out = tmp_path / "manifests"
    render_kubernetes(load_settings(environ=environ, cwd=tmp_path), output_dir=out)
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(out.iterdir())}


GOLDEN = Golden(Path(__file__).parent / "golden" / "kubernetes", tuple(CASES), _render)


@pytest.mark.parametrize("case", GOLDEN.cases)
def test_rendered_manifests_match_the_golden_files(case: str, tmp_path: Path) -> None:
    GOLDEN.check(case, tmp_path)
