"""Rendering: golden files, Compose schema validity, secrets kept, atomic writes."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.compose_schema import compose_schema, docker_compose_binary
from tests.support.golden import Golden
from ticketctl.config.secrets import STACK_SECRETS, read_env_file
from ticketctl.config.settings import load_settings
from ticketctl.errors import ConfigError, FileWriteError
from ticketctl.render.compose import render, render_stack
from ticketctl.runtime.translate import writes_start_interval
from ticketctl.stack.model import build_stack

FIXED_SECRETS = {spec.name: f"fixed-{spec.name.lower().replace('_', '-')}" for spec in STACK_SECRETS}


def settings_for(tmp_path: Path, text: str = "", **environ: str):
    if text:
        (tmp_path / "ticketctl.yaml").write_text(text)
    return load_settings(None, environ=environ, cwd=tmp_path)


VARIANTS = {
    "default": "",
    "opensearch-apps": "search:\n  engine: opensearch\n  heap: 1g\nprofiles: [apps]\nproject: shop\n"
    "ports:\n  mysql: 13306\n  redis: 16379\n  search: 19200\n  apps: 18080\n"
    "docker:\n  start_interval: true\n",
}


def _render_variant(variant: str, tmp_path: Path) -> dict[str, str]:
    settings = settings_for(tmp_path, VARIANTS[variant])
    rendered = render_stack(settings, FIXED_SECRETS, start_interval=writes_start_interval(settings, None))
    return {f.name: f.content for f in rendered}


GOLDEN = Golden(Path(__file__).parent / "golden" / "compose", tuple(sorted(VARIANTS)), _render_variant)


@pytest.mark.parametrize("variant", GOLDEN.cases)
def test_golden_files(tmp_path: Path, variant: str) -> None:
    GOLDEN.check(variant, tmp_path)


def _all_compose_outputs(tmp_path: Path) -> list[dict]:
    outputs = []
    for index, text in enumerate([*VARIANTS.values(), "bind_address: 0.0.0.0\n", "search:\n  engine: opensearch\n"]):
        folder = tmp_path / str(index)
        folder.mkdir()
        files = {f.name: f.content for f in render_stack(settings_for(folder, text), FIXED_SECRETS)}
        outputs.append(yaml.safe_load(files["docker-compose.yml"]))
    return outputs


def test_compose_output_is_valid_against_the_compose_specification_schema(tmp_path: Path) -> None:
    schema = compose_schema()
    import jsonschema

    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema)
    for document in _all_compose_outputs(tmp_path):
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
        assert errors == []
    (tmp_path / "broken").mkdir()
    broken = _all_compose_outputs(tmp_path / "broken")[0]
    broken["services"]["mysql"]["healthchek"] = broken["services"]["mysql"].pop("healthcheck")
    assert list(validator.iter_errors(broken)), "the schema must reject a broken file"


def test_docker_compose_accepts_the_file_as_it_is(tmp_path: Path) -> None:
    binary = docker_compose_binary()
    settings = settings_for(tmp_path, VARIANTS["opensearch-apps"])
    render(settings)
    result = subprocess.run(
        [binary, "--profile", "apps", "config", "--quiet"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    services = subprocess.run(
        [binary, "--profile", "apps", "config", "--services"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(services) == 12
    assert "opensearch" in services and "elasticsearch" not in services


def test_every_published_port_binds_to_loopback_by_default(tmp_path: Path) -> None:
    document = _all_compose_outputs(tmp_path)[0]
    ports = [port for service in document["services"].values() for port in service.get("ports", [])]
    assert len(ports) == 12
    assert all(port.startswith("127.0.0.1:") for port in ports)


def test_public_bind_address_warns(tmp_path: Path) -> None:
    result = render(settings_for(tmp_path, "bind_address: 0.0.0.0\n"))
    assert result.warnings and "0.0.0.0" in result.warnings[0] and "ticketctl.yaml:1" in result.warnings[0]


def test_applications_are_under_a_profile_that_is_off_by_default(tmp_path: Path) -> None:
    document = _all_compose_outputs(tmp_path)[0]
    apps = [name for name, service in document["services"].items() if service.get("profiles") == ["apps"]]
    assert apps == [
        "api-gateway",
        "auth-service",
        "events-service",
        "inventory-service",
        "booking-service",
        "payment-adapter",
        "search-service",
        "notification-service",
        "indexer-service",
    ]
    infrastructure = [name for name, service in document["services"].items() if "profiles" not in service]
    assert infrastructure == ["mysql", "redis", "elasticsearch"]


def test_healthchecks_cannot_pass_early(tmp_path: Path) -> None:
    services = _all_compose_outputs(tmp_path)[0]["services"]
    mysql = services["mysql"]["healthcheck"]["test"][1]
    assert "--protocol=TCP" in mysql and "-h127.0.0.1" in mysql
    assert "'events_db', 'inventory_db', 'bookings_db'" in mysql and "grep -qx 3" in mysql
    redis = services["redis"]["healthcheck"]["test"][1]
    assert "redis-cli" in redis and "PONG" in redis
    assert "wait_for_status=yellow" in services["elasticsearch"]["healthcheck"]["test"][1]


def test_redis_never_evicts_lock_keys(tmp_path: Path) -> None:
    command = _all_compose_outputs(tmp_path)[0]["services"]["redis"]["command"][2]
    assert "--maxmemory-policy noeviction" in command
    assert "--appendonly yes" in command


def test_render_twice_is_byte_identical_and_keeps_secrets(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    first = render(settings)
    assert {f.status for f in first.files} == {"created"}
    assert set(first.generated_secrets) == {spec.name for spec in STACK_SECRETS}
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    second = render(settings)
    assert {f.status for f in second.files} == {"unchanged"}
    assert second.generated_secrets == ()
    after = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    assert before == after


def test_env_file_is_private_and_example_has_no_secret(tmp_path: Path) -> None:
    render(settings_for(tmp_path))
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    env = read_env_file(tmp_path / ".env")
    assert env is not None
    example = (tmp_path / ".env.example").read_text()
    for name, value in env.values.items():
        assert len(value) >= 32
        assert value not in example
        assert f"\n{name}=\n" in example
    assert len(set(env.values.values())) == len(STACK_SECRETS)


def test_secrets_are_random_per_project(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    render(settings_for(tmp_path / "a"))
    render(settings_for(tmp_path / "b"))
    first, second = read_env_file(tmp_path / "a" / ".env"), read_env_file(tmp_path / "b" / ".env")
    assert first is not None and second is not None
    names = {spec.name for spec in STACK_SECRETS}
    assert set(first.values) == set(second.values) == names  # every secret there, in both
    assert all(len(value) >= 32 for value in [*first.values.values(), *second.values.values()])
    assert not set(first.values.values()) & set(second.values.values())


def test_existing_env_is_kept_and_only_missing_secrets_are_added(tmp_path: Path) -> None:
    original = "# mine\nMYSQL_ROOT_PASSWORD=chosen-by-me-123\nOTHER=keep\n"
    (tmp_path / ".env").write_text(original)
    result = render(settings_for(tmp_path))
    content = (tmp_path / ".env").read_text()
    assert content.startswith(original)
    assert "MYSQL_ROOT_PASSWORD" not in result.generated_secrets
    assert set(result.generated_secrets) == {s.name for s in STACK_SECRETS} - {"MYSQL_ROOT_PASSWORD"}
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    again = render(settings_for(tmp_path))
    assert again.generated_secrets == () and (tmp_path / ".env").read_text() == content


def test_unsafe_secret_in_env_is_refused_with_its_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("\nREDIS_PASSWORD=it's-quoted-value\n")
    with pytest.raises(ConfigError) as info:
        render(settings_for(tmp_path))
    expected = ".env:2: REDIS_PASSWORD: must be 12-128 characters of letters, digits and ._~+=@%^-"
    assert info.value.message.endswith(expected)
    assert "it's-quoted-value" not in info.value.message


def test_malformed_env_line_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("JUST TEXT\n")
    with pytest.raises(ConfigError, match=r"\.env:1: not a KEY=VALUE line"):
        render(settings_for(tmp_path))


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(tmp_path)
    render(settings)
    compose = tmp_path / "docker-compose.yml"
    old = compose.read_bytes()
    (tmp_path / "ticketctl.yaml").write_text("project: changed\n")

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(FileWriteError) as info:
        render(settings_for(tmp_path))
    assert "No space left on device; the previous file is unchanged" in info.value.message
    assert compose.read_bytes() == old
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_unwritable_output_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    settings = load_settings(None, environ={}, overrides={"output_dir": (str(blocker / "out"), "--out")}, cwd=tmp_path)
    with pytest.raises(FileWriteError, match="cannot write"):
        render(settings)


def test_missing_template_variable_names_template_line_and_variable(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "env.example.j2").write_text("# example\n\nPROJECT={{ project }}\nX={{ no_such_variable }}\n")
    settings = settings_for(tmp_path, f"templates_dir: {templates}\n")
    with pytest.raises(ConfigError) as info:
        render(settings)
    assert info.value.message == f"{templates / 'env.example.j2'}:4: template variable 'no_such_variable' is undefined"
    assert not (tmp_path / ".env.example").exists()


def test_template_syntax_error_names_the_line(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "env.j2").write_text("ok\n{% for x in %}\n")
    with pytest.raises(ConfigError, match=r"env.j2:2: template syntax error"):
        render(settings_for(tmp_path, f"templates_dir: {templates}\n"))


def test_mysql_init_script_creates_the_databases_and_holds_no_secret(tmp_path: Path) -> None:
    """The application users are made by migrate, which sends only hashes (tests/integration/migrations)."""
    files = {f.name: f.content for f in render_stack(settings_for(tmp_path), FIXED_SECRETS)}
    script = files["mysql-init/01-create-databases.sql"]
    statements = [line for line in script.splitlines() if line and not line.startswith("--")]
    assert statements == [
        f"CREATE DATABASE IF NOT EXISTS `{name}_db` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
        for name in ("events", "inventory", "bookings")
    ]
    assert "$" not in script
    for value in FIXED_SECRETS.values():
        assert value not in script


def test_mysql_gets_only_the_root_password_and_its_probe_keeps_it_out_of_every_argument_list(tmp_path: Path) -> None:
    compose = yaml.safe_load(render_stack(settings_for(tmp_path), FIXED_SECRETS)[0].content)
    mysql = compose["services"]["mysql"]
    assert set(mysql["environment"]) == {"MYSQL_ROOT_PASSWORD"}
    probe = mysql["healthcheck"]["test"][1]
    assert " -p" not in probe and "--password" not in probe
    assert probe.startswith("printf ") and "--defaults-extra-file=/dev/stdin" in probe


def test_stack_model_drives_every_service(tmp_path: Path) -> None:
    stack = build_stack(settings_for(tmp_path, "images:\n  redis: mirror.local/redis:7\n"))
    document = yaml.safe_load(render_stack(settings_for(tmp_path), FIXED_SECRETS)[0].content)
    assert [s.name for s in stack.services] == list(document["services"])
    assert stack.service("redis").image == "mirror.local/redis:7"
    assert stack.volumes == ("elasticsearch-data", "mysql-data", "redis-data")
