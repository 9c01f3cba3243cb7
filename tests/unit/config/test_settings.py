"""Settings: precedence file < environment < flags, and every validation error."""

from __future__ import annotations

from pathlib import Path

import pytest

from ticketctl.config.settings import FIELDS, describe_fields, effective_settings, load_settings
from ticketctl.errors import ConfigError, ExitCode


def write(tmp_path: Path, text: str, name: str = "ticketctl.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load(tmp_path: Path, text: str | None = None, environ: dict[str, str] | None = None, **overrides: object):
    if text is not None:
        write(tmp_path, text)
    flags = {key.replace("__", "."): (value, f"--{key}") for key, value in overrides.items()}
    return load_settings(None, environ=environ or {}, overrides=flags, cwd=tmp_path)


def error_of(tmp_path: Path, text: str | None = None, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, environ)
    assert info.value.exit_code == ExitCode.CONFIG
    assert "\n" not in info.value.message
    return info.value.message


def test_defaults_without_a_file(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings.project == "ticketing"
    assert settings.search.engine == "elasticsearch"
    assert settings.images.mysql == "mysql:8.4"
    assert settings.ports.mysql == 3306
    assert settings.mysql.port == 3306
    assert settings.bind_address == "127.0.0.1"
    assert settings.profiles == ()
    assert [db.name for db in settings.mysql.databases] == ["events_db", "inventory_db", "bookings_db"]
    assert settings.search.url == "http://127.0.0.1:9200"
    assert settings.config_file is None
    assert settings.output_dir == tmp_path


def test_file_then_environment_then_flag(tmp_path: Path) -> None:
    text = "project: from-file\nports:\n  mysql: 3307\n  redis: 6380\nimages:\n  mysql: mirror/mysql:8.4\n"
    settings = load(tmp_path, text)
    assert (settings.project, settings.ports.mysql, settings.ports.redis) == ("from-file", 3307, 6380)
    assert settings.source_of("ports.mysql") == "ticketctl.yaml:3"

    environ = {"TICKETCTL_PORTS__MYSQL": "3308", "TICKETCTL_PROJECT": "from-env"}
    settings = load(tmp_path, None, environ)
    assert (settings.project, settings.ports.mysql, settings.ports.redis) == ("from-env", 3308, 6380)
    assert settings.source_of("ports.mysql") == "TICKETCTL_PORTS__MYSQL"

    settings = load(tmp_path, None, environ, ports__mysql=3309)
    assert settings.ports.mysql == 3309
    assert settings.project == "from-env"
    assert settings.source_of("ports.mysql") == "--ports__mysql"
    assert settings.images.mysql == "mirror/mysql:8.4"


def test_a_flag_set_to_none_does_not_override(tmp_path: Path) -> None:
    settings = load(tmp_path, "project: kept\n", None, project=None)
    assert settings.project == "kept"


def test_explicit_config_path_and_missing_file(tmp_path: Path) -> None:
    path = write(tmp_path, "project: other\n", "custom.yaml")
    assert load_settings(path, environ={}).project == "other"
    assert load_settings(None, environ={"TICKETCTL_CONFIG": str(path)}, cwd=tmp_path).project == "other"
    with pytest.raises(ConfigError, match=r"nope\.yaml: settings file not found"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_mysql_port_follows_the_published_port_unless_set(tmp_path: Path) -> None:
    assert load(tmp_path, "ports:\n  mysql: 3310\n").mysql.port == 3310
    assert load(tmp_path, "ports:\n  mysql: 3310\nmysql:\n  port: 4000\n").mysql.port == 4000


def test_unknown_key_names_file_line_and_suggestion(tmp_path: Path) -> None:
    message = error_of(tmp_path, "project: x\nimagess:\n  mysql: a\n")
    assert message == "ticketctl.yaml:2: imagess: unknown setting"


def test_unknown_nested_key_names_its_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "ports:\n  mysql: 3306\n  redsi: 6379\n")
    assert info.value.message == "ticketctl.yaml:3: ports.redsi: unknown setting"
    assert "ports.redis" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ports:\n  mysql: abc\n", "ticketctl.yaml:2: ports.mysql: expected an integer 1-65535, got 'abc'"),
        ("ports:\n  mysql: 70000\n", "ticketctl.yaml:2: ports.mysql: expected an integer 1-65535, got 70000"),
        ("ports:\n  mysql: 0\n", "ticketctl.yaml:2: ports.mysql: expected an integer 1-65535, got 0"),
        ("ports:\n  mysql: true\n", "ticketctl.yaml:2: ports.mysql: expected an integer 1-65535, got bool True"),
        ("project: My_Project\n", "ticketctl.yaml:1: project: expected a Compose project name"),
        ("project: -x\n", "ticketctl.yaml:1: project: expected a Compose project name"),
        ("search:\n  engine: solr\n", "ticketctl.yaml:2: search.engine: expected one of elasticsearch, opensearch"),
        ("search:\n  heap: lots\n", "ticketctl.yaml:2: search.heap: expected a JVM heap size"),
        ("search:\n  replicas: many\n", "ticketctl.yaml:2: search.replicas: expected 'auto' or an integer 0-10"),
        ("profiles: [apps, web]\n", "ticketctl.yaml:1: profiles: unknown profile 'web'"),
        ("images:\n  mysql: 'my sql'\n", "ticketctl.yaml:2: images.mysql: expected an image reference"),
        ("images:\n  mysql: ''\n", "ticketctl.yaml:2: images.mysql: must not be empty"),
        ("images: mysql:8\n", "ticketctl.yaml:1: images: expected a mapping of settings"),
        ("wait_timeout: -1\n", "ticketctl.yaml:1: wait_timeout: expected a positive number of seconds"),
        ("redis:\n  tls: maybe\n", "ticketctl.yaml:2: redis.tls: expected true or false"),
        ("search:\n  url: ftp://x\n", "ticketctl.yaml:2: search.url: expected an http:// or https:// URL"),
        ("bind_address: anywhere\n", "ticketctl.yaml:1: bind_address: expected an IP address"),
    ],
)
def test_each_invalid_value_is_reported_with_its_line(tmp_path: Path, text: str, expected: str) -> None:
    assert error_of(tmp_path, text).startswith(expected)


def test_sql_identifiers_are_validated(tmp_path: Path) -> None:
    message = error_of(tmp_path, "mysql:\n  events:\n    name: 'events_db; DROP DATABASE x'\n")
    assert message.startswith("ticketctl.yaml:3: mysql.events.name: expected a database name")
    message = error_of(tmp_path, "mysql:\n  bookings:\n    user: \"app'@'%\"\n")
    assert message.startswith("ticketctl.yaml:3: mysql.bookings.user: expected a MySQL user name")


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, "project: x\nports:\n  mysql: 3306\n redis: 1\n")
    assert message.startswith("ticketctl.yaml:4: invalid YAML")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    assert error_of(tmp_path, "- a\n- b\n").startswith("ticketctl.yaml:1: expected a mapping of settings")


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load(tmp_path, "# nothing\n").project == "ticketing"


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    assert error_of(tmp_path, "project: a\nproject: b\n") == "ticketctl.yaml:2: project: set twice in the same file"


def test_environment_errors_name_the_variable(tmp_path: Path) -> None:
    message = error_of(tmp_path, None, {"TICKETCTL_PORTS__MYSQL": "x"})
    assert message == "TICKETCTL_PORTS__MYSQL: ports.mysql: expected an integer 1-65535, got 'x'"
    with pytest.raises(ConfigError) as info:
        load(tmp_path, None, {"TICKETCTL_PORT__MYSQL": "3306"})
    assert info.value.message == "TICKETCTL_PORT__MYSQL: unknown setting in the environment"
    assert "TICKETCTL_PORTS__MYSQL" in (info.value.hint or "")


def test_test_harness_variables_are_not_settings(tmp_path: Path) -> None:
    settings = load(tmp_path, None, {"TICKETCTL_TEST_MYSQL_PORT": "13306", "TICKETCTL_DEBUG": "1"})
    assert settings.ports.mysql == 3306


def test_two_services_on_one_port_are_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, "ports:\n  redis: 3306\n")
    assert message == "ticketctl.yaml:2: ports.redis: port 3306 is also used by ports.mysql"


def test_infrastructure_port_inside_the_application_range_is_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, "ports:\n  search: 8083\n")
    assert message.startswith("ticketctl.yaml:2: ports.search: port 8083 falls in the application ports 8080-8088")


def test_two_databases_with_one_name_are_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, "mysql:\n  bookings:\n    name: events_db\n")
    assert message == "ticketctl.yaml:3: mysql.bookings.name: 'events_db' is also mysql.events.name"


def test_profiles_accept_a_comma_separated_environment_value(tmp_path: Path) -> None:
    assert load(tmp_path, None, {"TICKETCTL_PROFILES": "apps"}).profiles == ("apps",)
    assert load(tmp_path, "profiles: []\n").profiles == ()


def test_relative_output_dir_is_relative_to_the_settings_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    path = write(tmp_path / "conf", "output_dir: stack\n")
    assert load_settings(path, environ={}).output_dir == tmp_path / "conf" / "stack"


def test_every_field_is_described_and_reported(tmp_path: Path) -> None:
    described = {field["setting"] for field in describe_fields()}
    assert described == set(FIELDS)
    rows = effective_settings(load(tmp_path, "project: demo\n"))
    assert {row["setting"] for row in rows} == set(FIELDS)
    assert {"setting": "project", "value": "demo", "source": "ticketctl.yaml:1"} in rows
    for spec in FIELDS.values():
        assert spec.help.strip(), spec.path
        assert spec.env_var.startswith("TICKETCTL_")


def test_every_default_passes_its_own_parser() -> None:
    for spec in FIELDS.values():
        if spec.default is not None:
            spec.parse(spec.default)


def test_the_nearest_settings_file_in_a_parent_folder_is_used(tmp_path: Path) -> None:
    write(tmp_path, "project: shop\noutput_dir: stack\nschemas_dir: db\nsearch:\n  mapping: search/events.json\n")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    settings = load_settings(None, environ={"HOME": str(tmp_path.parent)}, cwd=sub)
    assert settings.project == "shop" and settings.config_file == tmp_path / "ticketctl.yaml"
    assert settings.output_dir == tmp_path / "stack"  # relative to the file, not to where the command runs
    assert settings.schemas_dir == tmp_path / "db"
    assert settings.search.mapping == tmp_path / "search" / "events.json"


def test_the_search_stops_at_the_home_folder(tmp_path: Path) -> None:
    write(tmp_path, "project: above_home\n")
    home = tmp_path / "home"
    (home / "work").mkdir(parents=True)
    assert load_settings(None, environ={"HOME": str(home)}, cwd=home / "work").config_file is None


def test_an_empty_or_comment_only_file_is_found_and_says_it_sets_nothing(tmp_path: Path) -> None:
    write(tmp_path, "# later\n\n")
    settings = load_settings(None, environ={}, cwd=tmp_path)
    assert settings.config_file == tmp_path / "ticketctl.yaml" and settings.config_empty
    assert settings.project == "ticketing"
    write(tmp_path, "project: shop\n")
    assert not load_settings(None, environ={}, cwd=tmp_path).config_empty
