"""``ticketctl render --target kubernetes`` as a user runs it: exit codes, output, errors."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from tests.support.cli import without_notes
from tests.support.kubernetes import FAKE_SECRETS, clear_ticketctl_environment, write_env
from ticketctl.cli.main import run
from ticketctl.config.resources import templates_dir
from ticketctl.config.secrets import read_env_file

pytestmark = pytest.mark.unit


def _ticketctl(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        run(list(args))
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, without_notes(captured.err)


def _forms(value: str) -> set[str]:
    """A secret as it could leak: itself, and its base64 as in the Secret manifest."""
    return {value, base64.b64encode(value.encode()).decode()}


@pytest.fixture(autouse=True)
def _no_ticketctl_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_ticketctl_environment(monkeypatch)


@pytest.fixture
def in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder holding the fixed fake .env, as the working directory."""
    write_env(tmp_path, FAKE_SECRETS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_render_writes_manifests_and_prints_no_secret(in_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _ticketctl(capsys, "render", "--target", "kubernetes")
    assert code == 0, err
    assert f"into {in_project / 'kubernetes'}" in out
    assert "created   secret.yaml (mode 0600" in out
    assert f"kubectl apply -k {in_project / 'kubernetes'}" in out
    assert "secret.yaml holds the stack's passwords" in err
    manifests = "".join(p.read_text() for p in (in_project / "kubernetes").iterdir())
    for value in FAKE_SECRETS.values():
        assert base64.b64encode(value.encode()).decode() in manifests, "the Secret does hold the value"
        for form in _forms(value):
            assert form not in out + err


def test_generated_secrets_are_named_never_shown(in_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (in_project / ".env").unlink()
    code, out, err = _ticketctl(capsys, "render", "-t", "kubernetes", "--out", "k8s")
    assert code == 0, err
    assert "generated MYSQL_ROOT_PASSWORD, EVENTS_DB_PASSWORD" in out
    code, json_out, json_err = _ticketctl(capsys, "render", "-t", "kubernetes", "--out", "k8s", "--json")
    assert code == 0
    assert {f["status"] for f in json.loads(json_out)["files"]} == {"unchanged"}
    env_file = read_env_file(in_project / ".env")
    assert env_file is not None, "--out moves the manifests, not .env"
    assert (in_project / "k8s" / "kustomization.yaml").is_file()
    for value in env_file.values.values():
        for form in _forms(value):
            assert form not in out + err + json_out + json_err


def test_missing_template_variable_is_one_line_naming_template_and_line(
    in_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    custom = in_project / "my-templates"
    shutil.copytree(templates_dir() / "kubernetes", custom / "kubernetes")
    job = custom / "kubernetes" / "job.yaml.j2"
    lines = job.read_text().splitlines(keepends=True)
    line = next(number for number, text in enumerate(lines, start=1) if "backoffLimit" in text)
    lines[line - 1] = "  backoffLimit: {{ job.backof_limit }}\n"
    job.write_text("".join(lines))
    monkeypatch.setenv("TICKETCTL_TEMPLATES_DIR", str(custom))
    code, _, err = _ticketctl(capsys, "render", "-t", "kubernetes")
    assert code == 3
    assert err.count("\n") == 1
    assert err.startswith(f"error: {job}:{line}: template variable ")
    assert "backof_limit" in err
    assert not (in_project / "kubernetes").exists(), "nothing is written when a template fails"


def test_refused_settings_exit_with_the_config_code(
    in_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETCTL_KUBERNETES__RESOURCES__SEARCH__LIMITS", "memory=256Mi")
    code, _, err = _ticketctl(capsys, "render", "-t", "kubernetes")
    assert code == 3
    assert err.count("\n") == 1
    assert err.startswith(
        "error: TICKETCTL_KUBERNETES__RESOURCES__SEARCH__LIMITS: kubernetes.resources.search.limits: memory 256Mi"
    )


def test_invalid_kubernetes_setting_names_its_source(
    in_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (in_project / "ticketctl.yaml").write_text("kubernetes:\n  resources:\n    mysql:\n      limits: gpu=1\n")
    code, _, err = _ticketctl(capsys, "render", "-t", "kubernetes")
    assert code == 3
    assert err.startswith("error: ticketctl.yaml:4: kubernetes.resources.mysql.limits: expected cpu=")


def test_unknown_target_lists_kubernetes(in_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _ticketctl(capsys, "render", "--target", "helm")
    assert code == 2
    assert "use compose, kubernetes or mermaid" in err


def test_help_describes_the_kubernetes_target(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _ticketctl(capsys, "render", "--help")
    assert code == 0
    assert "kubernetes:" in out
    assert "kubectl apply -k" in out
