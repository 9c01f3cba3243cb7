"""``ticketctl env``: secrets masked like every other output, and printed only when asked for by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import invoke
from ticketctl.config.secrets import read_env_file


def test_show_secrets_prints_them_through_the_masking_of_every_other_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke(capsys, ["render"]).exit_code == 0
    env_file = read_env_file(tmp_path / ".env")
    assert env_file is not None
    password = env_file.values["EVENTS_DB_PASSWORD"]

    masked = invoke(capsys, ["env"])
    assert masked.exit_code == 0, masked.stderr
    assert 'EVENTS_DB_PASSWORD="***"\n' in masked.stdout and password not in masked.output

    shown = invoke(capsys, ["env", "--show-secrets"])
    assert shown.exit_code == 0, shown.stderr
    assert f"EVENTS_DB_PASSWORD={password}\n" in shown.stdout
