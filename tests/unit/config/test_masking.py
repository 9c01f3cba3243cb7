"""One masking mechanism: known secrets and URL passwords never reach stdout or stderr."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from tests.support.cli import invoke
from ticketctl.config.masking import MaskedStream, mask_url, masked_output, remember, scrub_known, url_password
from ticketctl.config.settings import FIELDS, effective_settings, load_settings, shown
from ticketctl.errors import ConfigError, ExitCode

PASSWORD = "S3cretPassw0rd"
URL = f"http://elastic:{PASSWORD}@127.0.0.1:1"


@pytest.mark.parametrize(
    ("url", "password", "masked"),
    [
        (URL, PASSWORD, "http://elastic:***@127.0.0.1:1"),
        ("https://u:p%40ss@h:9200/path?q=1", "p%40ss", "https://u:***@h:9200/path?q=1"),
        ("https://u:a@b@h/", "a@b", "https://u:***@h/"),  # an unencoded @: the authority ends at the last one
        ("https://:only-pw@h", "only-pw", "https://:***@h"),
        ("https://user@h", None, "https://user@h"),  # no password, nothing to hide
        ("http://127.0.0.1:9200", None, "http://127.0.0.1:9200"),
    ],
)
def test_the_password_of_a_url_is_found_and_masked(url: str, password: str | None, masked: str) -> None:
    assert url_password(url) == password
    assert mask_url(url) == masked
    assert mask_url(f"error: {url} is unreachable") == f"error: {masked} is unreachable"


def test_a_remembered_secret_is_masked_in_its_url_forms_too() -> None:
    remember(["p@ss/word-7788"])
    text = "as given p@ss/word-7788, in a URL p%40ss%2Fword-7788, host elastic:p@ss/word-7788@db"
    assert scrub_known(text) == "as given ***, in a URL ***, host elastic:***@db"


def test_short_values_are_masked_only_inside_a_url() -> None:
    remember(["pw"])
    assert scrub_known("pwd: http://u:pw@h") == "pwd: http://u:***@h"


def test_the_masked_stream_masks_every_write_and_hides_its_buffer() -> None:
    remember(["stream-secret-4455"])
    target = io.StringIO()
    stream = MaskedStream(target)  # type: ignore[arg-type]
    stream.write("a stream-secret-4455 b\n")
    stream.write(f"{URL}\n")
    assert target.getvalue() == "a *** b\nhttp://elastic:***@127.0.0.1:1\n"
    assert not hasattr(stream, "buffer")  # nothing can write bytes around the mask
    assert stream.isatty() is False


def test_masked_output_covers_stdout_and_stderr_and_restores_them(capsys: pytest.CaptureFixture[str]) -> None:
    remember(["restored-secret-6677"])
    before = sys.stdout, sys.stderr
    with masked_output():
        print("out restored-secret-6677")
        print(URL, file=sys.stderr)
    assert (sys.stdout, sys.stderr) == before
    captured = capsys.readouterr()
    assert captured.out == "out ***\n"
    assert captured.err == "http://elastic:***@127.0.0.1:1\n"


def test_url_settings_are_declared_once_in_the_field_metadata() -> None:
    assert [path for path, spec in FIELDS.items() if spec.url] == ["search.url"]


def test_a_url_setting_is_shown_masked_and_its_password_is_remembered_as_it_is_read(tmp_path: Path) -> None:
    password = "read-time-secret-8899"
    settings = load_settings(
        None, environ={"TICKETCTL_SEARCH__URL": f"https://admin:{password}@search:9200"}, cwd=tmp_path
    )
    assert settings.search.url == f"https://admin:{password}@search:9200"  # the client still gets it
    row = next(row for row in effective_settings(settings) if row["setting"] == "search.url")
    assert row["value"] == "https://admin:***@search:9200"
    assert shown(FIELDS["search.url"], settings.search.url) == row["value"]
    assert scrub_known(f"host admin:{password}@search") == "host admin:***@search"  # known, even outside a URL


def test_a_refused_url_is_quoted_without_its_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, environ={"TICKETCTL_SEARCH__URL": "htp://admin:refused-pw-1122@search"}, cwd=tmp_path)
    assert "'htp://admin:refused-pw-1122@search'" in caught.value.message  # the library's message is exact…
    assert scrub_known(caught.value.message).endswith("got 'htp://admin:***@search'")  # …and known by then


@pytest.mark.parametrize("args", [["config"], ["config", "--json"], ["--debug", "config"]])
def test_config_never_prints_the_password_of_search_url(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TICKETCTL_SEARCH__URL", URL)
    result = invoke(capsys, args)
    assert result.exit_code == 0, result.stderr
    assert PASSWORD not in result.output and PASSWORD[:8] not in result.output
    if "--json" in args:
        rows = {row["setting"]: row["value"] for row in json.loads(result.stdout)["settings"]}
        assert rows["search.url"] == "http://elastic:***@127.0.0.1:1"
    else:
        assert "http://elastic:***@" in result.stdout


def test_an_error_naming_the_url_is_masked_at_the_boundary(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TICKETCTL_SEARCH__URL", "htp://elastic:boundary-pw-3344@127.0.0.1:1")
    result = invoke(capsys, ["config"])
    assert result.exit_code == ExitCode.CONFIG
    assert result.stderr.startswith(
        "error: TICKETCTL_SEARCH__URL: search.url: expected an http:// or https:// URL, got 'htp://elastic:***@127.0.0.1:1'"
    )
