"""The compiled-template cache: same files, never stale, never in the way."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from ticketctl.config.settings import load_settings
from ticketctl.errors import ConfigError
from ticketctl.render.compose import render


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the templates Jinja2 compiles from source."""
    names: list[str] = []
    original = jinja2.Environment.compile

    def counting(self, source, name=None, filename=None, raw=False, defer_init=False):  # type: ignore[no-untyped-def]
        names.append(str(name))
        return original(self, source, name, filename, raw, defer_init)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    return names


def _project(path: Path, text: str = "") -> Path:
    path.mkdir(parents=True)
    if text:
        (path / "ticketctl.yaml").write_text(text)
    return path


def _render(folder: Path) -> dict[str, bytes]:
    render(load_settings(None, environ={}, cwd=folder))
    return {name: (folder / name).read_bytes() for name in ("docker-compose.yml", ".env.example")}


def test_a_second_render_loads_the_compiled_templates_and_writes_the_same_files(
    tmp_path: Path, cache_home: Path, compiles: list[str]
) -> None:
    first = _render(_project(tmp_path / "a"))
    assert sorted(compiles) == ["docker-compose.yml.j2", "env.example.j2", "env.j2", "mysql-init.sql.j2"]
    (folder,) = (cache_home / "ticketctl").iterdir()
    assert len(list(folder.glob("*.cache"))) == 4

    compiles.clear()
    second = _render(_project(tmp_path / "b"))
    assert compiles == []
    assert second["docker-compose.yml"] == first["docker-compose.yml"]
    assert second[".env.example"] == first[".env.example"]


def test_an_edited_template_is_compiled_again(tmp_path: Path, cache_home: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    template = templates / "env.example.j2"
    template.write_text("# first {{ project }}\n")
    folder = _project(tmp_path / "p", f"templates_dir: {templates}\n")
    assert _render(folder)[".env.example"] == b"# first ticketing\n"
    template.write_text("# second {{ project }}\n")
    assert _render(folder)[".env.example"] == b"# second ticketing\n"


def test_a_cached_template_still_names_the_line_of_an_undefined_variable(tmp_path: Path, cache_home: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "env.example.j2").write_text("# example\n\nPROJECT={{ project }}\nX={{ no_such_variable }}\n")
    folder = _project(tmp_path / "p", f"templates_dir: {templates}\n")
    expected = f"{templates / 'env.example.j2'}:4: template variable 'no_such_variable' is undefined"
    for _ in range(2):  # compiled, then loaded from the cache
        with pytest.raises(ConfigError) as info:
            render(load_settings(None, environ={}, cwd=folder))
        assert info.value.message == expected


def test_a_corrupt_cache_file_is_compiled_over(tmp_path: Path, cache_home: Path, compiles: list[str]) -> None:
    first = _render(_project(tmp_path / "a"))
    for cached in (cache_home / "ticketctl").glob("*/*.cache"):
        cached.write_bytes(b"j2 not really bytecode")
    compiles.clear()
    assert _render(_project(tmp_path / "b")) == first
    assert len(compiles) == 4


def test_a_cache_folder_that_cannot_be_created_means_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiles: list[str]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    first = _render(_project(tmp_path / "a"))
    second = _render(_project(tmp_path / "b"))
    assert first == second
    assert len(compiles) == 8  # compiled both times
    assert blocker.read_text() == "a file where the cache folder would go"
