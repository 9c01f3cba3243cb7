"""The order of a rotation and its journal, with the servers replaced by recorders (the real ones: tests/e2e)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from ticketctl import rotation
from ticketctl.errors import ConfigError
from ticketctl.render.compose import render


class Recorder:
    def __init__(self, settings: Any):
        self.settings = settings
        self.calls: list[str] = []
        self.fail_at: str | None = None

    def step(self, name: str, pairs: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.calls.append(name)
        journal = json.loads(rotation.journal_path(self.settings).read_text())
        assert journal["step"] == name  # the journal names the step before it runs
        if self.fail_at == name:
            raise ConfigError(f"failed at {name}")

    def recreate(self) -> list[str]:
        self.step("recreate")
        return ["mysql", "redis"]


@pytest.fixture
def rotating(make_settings: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Recorder]:
    settings = make_settings()
    render(settings)
    recorder = Recorder(settings)
    monkeypatch.setattr(rotation, "apply_live", lambda s, pairs: recorder.step("apply", pairs))
    monkeypatch.setattr(rotation, "finalize", lambda s, pairs: recorder.step("finalize", pairs))
    return settings, recorder


def _env(settings: Any) -> dict[str, str]:
    lines = (settings.output_dir / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def test_apply_then_env_then_recreate_then_finalize(rotating: tuple[Any, Recorder]) -> None:
    settings, recorder = rotating
    before = _env(settings)
    report = rotation.rotate(settings, ["REDIS_PASSWORD", "EVENTS_DB_PASSWORD"], recreate=recorder.recreate)
    assert recorder.calls == ["apply", "recreate", "finalize"]
    after = _env(settings)
    assert after["REDIS_PASSWORD"] != before["REDIS_PASSWORD"]
    assert after["EVENTS_DB_PASSWORD"] != before["EVENTS_DB_PASSWORD"]
    assert after["MYSQL_ROOT_PASSWORD"] == before["MYSQL_ROOT_PASSWORD"]
    assert (settings.output_dir / ".env").stat().st_mode & 0o777 == 0o600
    assert report.rotated == ("REDIS_PASSWORD", "EVENTS_DB_PASSWORD") and report.recreated == ("mysql", "redis")
    assert not rotation.journal_path(settings).exists()


def test_a_failure_leaves_the_journal_and_the_rerun_finishes_with_the_same_values(
    rotating: tuple[Any, Recorder],
) -> None:
    settings, recorder = rotating
    before = _env(settings)
    recorder.fail_at = "recreate"
    with pytest.raises(ConfigError, match="failed at recreate"):
        rotation.rotate(settings, None, recreate=recorder.recreate)
    journal = json.loads(rotation.journal_path(settings).read_text())
    assert rotation.journal_path(settings).stat().st_mode & 0o777 == 0o600
    assert journal["step"] == "recreate"
    new = {name: pair["new"] for name, pair in journal["secrets"].items()}
    assert {name: pair["old"] for name, pair in journal["secrets"].items()} == {k: before[k] for k in new}
    assert _env(settings) == {**before, **new}  # .env was written before the failing step

    recorder.fail_at = None
    recorder.calls.clear()
    report = rotation.rotate(settings, ["REDIS_PASSWORD"], recreate=recorder.recreate)
    assert report.resumed and recorder.calls == ["recreate", "finalize"]  # apply is not run again
    assert set(report.rotated) == set(rotation.rotatable())
    assert _env(settings) == {**before, **new}
    assert not rotation.journal_path(settings).exists()


def test_dry_run_changes_nothing(rotating: tuple[Any, Recorder]) -> None:
    settings, recorder = rotating
    before = (settings.output_dir / ".env").read_bytes()
    report = rotation.rotate(settings, None, recreate=recorder.recreate, dry_run=True)
    assert report.dry_run and len(report.plan) == len(rotation.rotatable()) + 1
    assert recorder.calls == [] and (settings.output_dir / ".env").read_bytes() == before
    assert not rotation.journal_path(settings).exists()


def test_only_generated_secrets_can_be_rotated(rotating: tuple[Any, Recorder]) -> None:
    settings, recorder = rotating
    with pytest.raises(ConfigError, match="cannot rotate SEARCH_PASSWORD, NOPE"):
        rotation.rotate(settings, ["SEARCH_PASSWORD", "NOPE"], recreate=recorder.recreate)


def test_env_values_keep_every_other_line(tmp_path: Any) -> None:
    from ticketctl.rotation import write_env_values

    path = tmp_path / ".env"
    path.write_text("# comment\nA=1\n\nexport B=2\nMINE=x\n")
    write_env_values(path, {"B": "3", "C": "4"})
    assert path.read_text() == "# comment\nA=1\n\nB=3\nMINE=x\nC=4\n"
    assert path.stat().st_mode & 0o777 == 0o600
