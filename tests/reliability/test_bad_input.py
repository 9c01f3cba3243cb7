"""Bad input: each broken file or setting ends in one ``error:`` line naming where and the fix, and nothing is lost.

Every case runs the real ``ticketctl`` process and asserts the whole line, the
exit code, that no traceback was printed (the harness checks every run), and
what was left on disk or on the server.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.support.reliability import Databases, Workdir, free_port, write_migration
from ticketctl.errors import ExitCode

pytestmark = pytest.mark.reliability

RENDERED = (".env", ".env.example", "docker-compose.yml", "mysql-init/01-create-databases.sql")
REPO = Path(__file__).resolve().parents[2]


def rendered_files(workdir: Workdir) -> list[str]:
    return [name for name in RENDERED if (workdir.path / name).exists()]


def test_exit_codes_are_the_documented_numbers() -> None:
    """docs/failure-modes.md and scripts rely on these numbers."""
    documented = {
        "FAILURE": 1, "CONFIG": 3, "DOCKER": 4, "PORT_CONFLICT": 5, "UNHEALTHY": 6, "DATABASE": 7, "MIGRATION": 8,
        "SEARCH": 9, "DRIFT": 10, "LOCKED": 11, "REDIS": 12, "PENDING": 13, "WARNINGS": 14, "MISSING": 15,
        "ABORTED": 16, "IO": 17, "CHECKS_FAILED": 18, "INTERRUPTED": 130,
    }  # fmt: skip
    assert {name: int(ExitCode[name]) for name in documented} == documented


# --------------------------------------------------------------------------- ticketctl.yaml


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "project: demo\nports:\n  mysql: 3306\n redis: 6380\n",
            "error: ticketctl.yaml:4: invalid YAML: expected <block end>, but found '<block mapping start>' — "
            "fix the YAML syntax at that line (indentation, a missing ':' or an unclosed quote)",
        ),
        (
            "project: demo\nimages:\n  mysql: 'mysql:8.4\n",
            "error: ticketctl.yaml:4: invalid YAML: found unexpected end of stream — "
            "fix the YAML syntax at that line (indentation, a missing ':' or an unclosed quote)",
        ),
        (
            "project: demo\n\n- ports\n",
            "error: ticketctl.yaml:3: invalid YAML: expected <block end>, but found '-' — "
            "fix the YAML syntax at that line (indentation, a missing ':' or an unclosed quote)",
        ),
        (
            "- project: demo\n",
            "error: ticketctl.yaml:1: expected a mapping of settings at the top level — "
            "start the file with 'project: <name>' style keys; see 'ticketctl config --help'",
        ),
    ],
    ids=["bad-indentation", "unclosed-quote", "list-in-mapping", "top-level-list"],
)
def test_malformed_settings_file_names_its_line_and_writes_nothing(workdir: Workdir, text: str, expected: str) -> None:
    workdir.write("ticketctl.yaml", text)
    for command in (("config",), ("render",)):
        run = workdir.run(*command)
        assert run.code == ExitCode.CONFIG
        assert run.err == expected + "\n"
        assert run.out == ""
    assert rendered_files(workdir) == []


def test_unknown_or_mistyped_settings_are_refused_with_a_suggestion(workdir: Workdir) -> None:
    workdir.write("ticketctl.yaml", "project: demo\nports:\n  mysq: 3307\n")
    run = workdir.run("render")
    assert (run.code, run.err) == (
        3,
        "error: ticketctl.yaml:3: ports.mysq: unknown setting — did you mean 'ports.mysql'? "
        "('ticketctl config --list' shows every setting)\n",
    )

    workdir.write("ticketctl.yaml", "projcet: demo\n")
    run = workdir.run("config")
    assert run.err == (
        "error: ticketctl.yaml:1: projcet: unknown setting — did you mean 'project'? "
        "('ticketctl config --list' shows every setting)\n"
    )

    workdir.write("ticketctl.yaml", "ports: 3306\n")
    run = workdir.run("config")
    assert run.err == (
        "error: ticketctl.yaml:1: ports: expected a mapping of settings, got int 3306 — "
        "write the keys under 'ports:' indented, for example 'mysql: 3306'\n"
    )

    workdir.write("ticketctl.yaml", "project: demo\n")
    run = workdir.run("render", env={"TICKETCTL_PORTS__MYSQ": "3307"})
    assert (run.code, run.err) == (
        3,
        "error: TICKETCTL_PORTS__MYSQ: unknown setting in the environment — did you mean TICKETCTL_PORTS__MYSQL?\n",
    )

    workdir.write("ticketctl.yaml", "project: demo\nwait_timeout: soon\n")
    run = workdir.run("render")
    assert run.err == (
        "error: ticketctl.yaml:2: wait_timeout: expected a number of seconds, got 'soon' — "
        "Seconds up waits for all services to become healthy. Default: 300.0.\n"
    )
    assert rendered_files(workdir) == []


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        ("file", "Demo!", "ticketctl.yaml:1: project: expected a Compose project name matching "),
        ("file", "-demo", "ticketctl.yaml:1: project: expected a Compose project name matching "),
        ("env", "my project", "TICKETCTL_PROJECT: project: expected a Compose project name matching "),
        ("env", "demo/../../etc", "TICKETCTL_PROJECT: project: expected a Compose project name matching "),
    ],
)
def test_invalid_project_name(workdir: Workdir, source: str, value: str, expected: str) -> None:
    env = {}
    if source == "file":
        workdir.write("ticketctl.yaml", f"project: {json.dumps(value)}\n")
    else:
        env["TICKETCTL_PROJECT"] = value
    run = workdir.run("render", env=env)
    assert run.code == 3
    assert run.err == (
        f"error: {expected}[a-z0-9][a-z0-9_-]*, got {value!r} — "
        "Compose project name; prefixes containers, network and volumes. Default: ticketing.\n"
    )
    assert rendered_files(workdir) == []


@pytest.mark.parametrize(
    ("file_text", "env", "expected"),
    [
        ("ports:\n  mysql: 70000\n", {}, "ticketctl.yaml:2: ports.mysql: expected an integer 1-65535, got 70000"),
        ("ports:\n  redis: -1\n", {}, "ticketctl.yaml:2: ports.redis: expected an integer 1-65535, got -1"),
        (
            "",
            {"TICKETCTL_PORTS__SEARCH": "0"},
            "TICKETCTL_PORTS__SEARCH: ports.search: expected an integer 1-65535, got 0",
        ),
        (
            "",
            {"TICKETCTL_PORTS__MYSQL": "33O6"},
            "TICKETCTL_PORTS__MYSQL: ports.mysql: expected an integer 1-65535, got '33O6'",
        ),
        ("ports:\n  apps: 65100\n", {}, "ticketctl.yaml:2: ports.apps: expected an integer 1024-65000, got 65100"),
    ],
)
def test_port_out_of_range(workdir: Workdir, file_text: str, env: dict[str, str], expected: str) -> None:
    if file_text:
        workdir.write("ticketctl.yaml", file_text)
    run = workdir.run("render", env=env)
    assert run.code == 3
    assert run.error_line.startswith(f"error: {expected} — ")
    assert run.err.count("\n") == 1
    assert rendered_files(workdir) == []


def test_two_services_on_one_port_are_refused(workdir: Workdir) -> None:
    workdir.write("ticketctl.yaml", "ports:\n  mysql: 6379\n")
    run = workdir.run("config")
    assert (run.code, run.err) == (
        3,
        "error: default: ports.redis: port 6379 is also used by ports.mysql — give each service its own host port\n",
    )


def test_port_already_taken_stops_up_before_anything_is_created(
    workdir: Workdir, docker_scratch: Any, local_images: Any
) -> None:
    """A real listening socket on the Redis port: exit 5 naming port, setting, holder (this pid) and the fix."""
    port = free_port()
    workdir.env.update(
        {
            "TICKETCTL_PROJECT": docker_scratch.project,
            "TICKETCTL_PORTS__REDIS": str(port),
            "TICKETCTL_IMAGES__REDIS": local_images.redis,
        }
    )
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))
        holder.listen(1)
        run = workdir.run("up", "--no-init", "redis", timeout=120)
    assert run.code == ExitCode.PORT_CONFLICT
    comm = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    assert run.error_line == (
        f"error: port {port} (ports.redis) for redis is taken by another process: pid {os.getpid()} ({comm}) — "
        f"stop it (`kill {os.getpid()}`), or choose another port: set ports.redis in ticketctl.yaml or "
        "TICKETCTL_PORTS__REDIS"
    )
    client = docker_scratch.client
    label = f"com.docker.compose.project={docker_scratch.project}"
    assert client.containers.list(all=True, filters={"label": label}) == []
    assert client.networks.list(filters={"label": label}) == []
    assert client.volumes.list(filters={"label": label}) == []


# --------------------------------------------------------------------------- templates


def test_missing_template_variable_names_template_line_and_keeps_the_old_files(workdir: Workdir) -> None:
    first = workdir.run("render")
    assert first.code == 0, first.err
    before = {name: (workdir.path / name).read_bytes() for name in RENDERED}

    templates = workdir.path / "my-templates"
    templates.mkdir()
    original = (REPO / "templates" / "env.example.j2").read_text(encoding="utf-8").splitlines(keepends=True)
    original.insert(2, "# maintained by {{ projct }}\n")
    (templates / "env.example.j2").write_text("".join(original), encoding="utf-8")
    workdir.write("ticketctl.yaml", "templates_dir: my-templates\nports:\n  mysql: 3307\n")

    run = workdir.run("render")
    assert run.code == ExitCode.CONFIG
    assert run.err == (
        f"error: {templates / 'env.example.j2'}:3: template variable 'projct' is undefined — "
        "fix the variable's name in the template; it can use: optional_secrets, project, secrets, version\n"
    )
    # Rendering is all or nothing: the compose file is not half-updated to the new port.
    assert {name: (workdir.path / name).read_bytes() for name in RENDERED} == before


def test_template_syntax_error_names_template_and_line(workdir: Workdir) -> None:
    templates = workdir.path / "my-templates"
    templates.mkdir()
    (templates / "env.example.j2").write_text("# {{ project }\n", encoding="utf-8")
    workdir.write("ticketctl.yaml", "templates_dir: my-templates\n")
    run = workdir.run("render")
    assert run.code == 3
    assert run.err == (
        f"error: {templates / 'env.example.j2'}:1: template syntax error: unexpected '}}' — fix the template\n"
    )
    assert rendered_files(workdir) == []


def test_templates_dir_that_does_not_exist(workdir: Workdir) -> None:
    workdir.write("ticketctl.yaml", "templates_dir: nowhere\n")
    run = workdir.run("render")
    assert (run.code, run.err) == (
        3,
        f"error: templates_dir: {workdir.path / 'nowhere'}: folder not found — "
        "create it or remove the templates_dir setting to use the packaged templates\n",
    )


# --------------------------------------------------------------------------- .env


def test_a_broken_env_file_is_named_by_line_and_never_rewritten(workdir: Workdir) -> None:
    assert workdir.run("render").code == 0
    env = workdir.path / ".env"
    lines = env.read_text(encoding="utf-8").splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines) if line.startswith("REDIS_PASSWORD="))
    lines[number] = "REDIS_PASSWORD=it's; DROP DATABASE events_db\n"
    env.write_text("".join(lines), encoding="utf-8")
    before = env.read_bytes()
    run = workdir.run("render")
    assert run.code == 3
    assert run.err == (
        f"error: {env}:{number + 1}: REDIS_PASSWORD: must be 12-128 characters of letters, digits and ._~+=@%^- — "
        "delete the REDIS_PASSWORD line to have ticketctl generate one, or choose another value\n"
    )
    assert env.read_bytes() == before

    env.write_text("".join([*lines[:number], "this is not an assignment\n", *lines[number + 1 :]]), encoding="utf-8")
    run = workdir.run("render")
    assert run.err == (
        f"error: {env}:{number + 1}: not a KEY=VALUE line — "
        "fix or remove the line; .env holds one NAME=value per line\n"
    )


# --------------------------------------------------------------------------- migrations


def test_sql_error_in_the_middle_of_a_migration(workdir: Workdir, databases: Databases) -> None:
    workdir.env.update(databases.environment())
    path = write_migration(
        workdir,
        "events",
        "V001__seats.sql",
        "CREATE TABLE seats (id INT PRIMARY KEY) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
        "INSERT INTO seats VALUES (1);\n"
        "INSERT INTO seat (id) VALUES (2);\n"
        "CREATE TABLE holds (id INT PRIMARY KEY) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n",
    )
    name = databases.names["events"]
    run = workdir.run("migrate", "--db", "events", "--schemas-dir", "schemas")
    assert run.code == ExitCode.MIGRATION
    assert run.error_line == (
        f"error: schemas/events/V001__seats.sql:3: {name} V001 failed at statement 3 of 4: MySQL error 1146: "
        f"Table '{name}.seat' doesn't exist — statements 1-2 are committed and will not run again; fix statement 3 "
        "in the file, then run 'ticketctl migrate': it resumes at statement 3"
    )
    (row,) = databases.history("events")
    assert (row["status"], row["statements_applied"], row["failed_at"]) == ("failed", 2, "events/V001__seats.sql:3")

    again = workdir.run("migrate", "--db", "events", "--schemas-dir", "schemas")
    assert again.code == 8
    assert again.error_line.startswith(
        f"error: {name}: schemas/events/V001__seats.sql:3: version 1 failed at statement 3 of 4 and the file is "
        "unchanged since: MySQL error 1146"
    )

    path.write_text(path.read_text().replace("INSERT INTO seat ", "INSERT INTO seats "), encoding="utf-8")
    fixed = workdir.run("migrate", "--db", "events", "--schemas-dir", "schemas", "--json")
    assert fixed.code == 0, fixed.err
    (applied,) = fixed.json()["databases"][0]["applied"]
    assert (applied["first_statement"], applied["statements_run"]) == (3, 2)
    # Statement 2 ran once: one row 1, one row 2; the table of statement 4 exists.
    assert databases.query("events", "SELECT id, COUNT(*) FROM seats GROUP BY id ORDER BY id") == [(1, 1), (2, 1)]
    assert {r[0] for r in databases.query("events", "SHOW TABLES")} == {"seats", "holds", "ticketctl_schema_history"}


def test_an_applied_migration_edited_afterwards_is_refused_and_other_databases_still_migrate(
    workdir: Workdir, databases: Databases
) -> None:
    workdir.env.update(databases.environment())
    for key in ("events", "inventory"):
        write_migration(workdir, key, "V001__a.sql", "CREATE TABLE a (id INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n")
    assert workdir.run("migrate", "--schemas-dir", "schemas").code == 0
    edited = write_migration(
        workdir, "events", "V001__a.sql", "CREATE TABLE a (id BIGINT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
    )
    for key in ("events", "inventory"):
        write_migration(workdir, key, "V002__b.sql", "CREATE TABLE b (id INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n")

    run = workdir.run("migrate", "--schemas-dir", "schemas")
    assert run.code == ExitCode.MIGRATION
    from ticketctl.migrations.files import checksum

    history = databases.history("events")
    assert [(r["version"], r["status"]) for r in history] == [(1, "success")]
    (row,) = history
    applied_on = row["started_at"].strftime("%Y-%m-%d %H:%M:%S UTC")
    assert run.error_line == (
        f"error: {databases.names['events']}: schemas/events/V001__a.sql: version 1 was applied on {applied_on} but "
        f"the file has changed since (checksum {row['checksum'][:12]} recorded, "
        f"{checksum(edited.read_text())[:12]} now) — restore the applied file and put the change in a new version; "
        "or, once you have checked that the database matches the edited file, accept it with "
        "'ticketctl migrate repair'"
    )
    # V002 of the refused database did not run; the other database went on.
    assert {r[0] for r in databases.query("events", "SHOW TABLES")} == {"a", "ticketctl_schema_history"}
    assert [(r["version"], r["status"]) for r in databases.history("inventory")] == [(1, "success"), (2, "success")]
    assert databases.query(
        "events",
        "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'a'",
    ) == [("int",)]


def test_an_out_of_order_migration_is_refused_until_allowed(workdir: Workdir, databases: Databases) -> None:
    workdir.env.update(databases.environment())
    write_migration(
        workdir, "events", "V001__a.sql", "CREATE TABLE a (id INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
    )
    write_migration(
        workdir, "events", "V003__c.sql", "CREATE TABLE c (id INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
    )
    assert workdir.run("migrate", "--db", "events", "--schemas-dir", "schemas").code == 0
    write_migration(
        workdir, "events", "V002__b.sql", "CREATE TABLE b (id INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
    )

    run = workdir.run("migrate", "--db", "events", "--schemas-dir", "schemas")
    assert run.code == ExitCode.MIGRATION
    assert run.error_line == (
        f"error: {databases.names['events']}: schemas/events/V002__b.sql: version 2 is pending but V003 is already "
        "recorded; applying it now would run it out of order — renumber the file above the newest version, or pass "
        "--allow-out-of-order after checking that it does not depend on the order"
    )
    assert "b" not in {r[0] for r in databases.query("events", "SHOW TABLES")}

    status = workdir.run("migrate", "status", "--db", "events", "--schemas-dir", "schemas", "--exit-code")
    assert status.code == ExitCode.MIGRATION

    allowed = workdir.run("migrate", "--db", "events", "--schemas-dir", "schemas", "--allow-out-of-order")
    assert allowed.code == 0, allowed.err
    history = databases.history("events")
    assert [(r["version"], r["status"], bool(r["out_of_order"])) for r in history] == [
        (1, "success", False),
        (2, "success", True),
        (3, "success", False),
    ]


def test_a_misnamed_migration_file_is_an_error_not_skipped(workdir: Workdir, databases: Databases) -> None:
    workdir.env.update(databases.environment())
    write_migration(
        workdir, "events", "V001__a.sql", "CREATE TABLE a (id INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
    )
    write_migration(workdir, "events", "v2_add_b.sql", "CREATE TABLE b (id INT);\n")
    run = workdir.run("migrate", "--db", "events", "--schemas-dir", "schemas")
    assert (run.code, run.err) == (
        3,
        "error: schemas/events/v2_add_b.sql: not a migration file name — name migrations "
        "V<number>__<description>.sql, for example V002__add_seat_holds.sql\n",
    )
    assert not databases.exists("events")  # refused before connecting: nothing was created


# --------------------------------------------------------------------------- the mapping file


def test_invalid_json_in_the_mapping_file_sends_nothing(workdir: Workdir, opensearch_scratch: Any) -> None:
    alias = opensearch_scratch.index("events")
    workdir.write("bad.json", '{\n  "settings": {\n    "analysis": {,\n  }\n}\n')
    url = opensearch_scratch.server.url
    for command in ("create", "validate", "status", "migrate"):
        run = workdir.run("index", command, "--url", url, "--index", alias, "--mapping", "bad.json")
        assert run.code == ExitCode.CONFIG, (command, run.err)
        assert run.err == (
            "error: bad.json:3:18: invalid JSON: Expecting property name enclosed in double quotes — fix the JSON "
            "syntax at that position (a trailing comma or a missing quote is typical)\n"
        ), command
    assert opensearch_scratch.server.request("GET", f"/_alias/{alias}").status == 404
    assert opensearch_scratch.server.request("GET", f"/{alias}_v1").status == 404

    document = json.loads((REPO / "mappings" / "events.json").read_text(encoding="utf-8"))
    document["settings"]["number_of_shards"] = 3
    workdir.write("shards.json", json.dumps(document, indent=2))
    line = next(
        number
        for number, text in enumerate((workdir.path / "shards.json").read_text().splitlines(), start=1)
        if '"number_of_shards"' in text
    )
    run = workdir.run("index", "create", "--url", url, "--index", alias, "--mapping", "shards.json")
    assert run.code == ExitCode.CONFIG
    assert run.error_line.startswith(f"error: shards.json:{line}: ")
    assert "number_of_shards" in run.error_line and "search.shards" in run.error_line
    assert opensearch_scratch.server.request("GET", f"/{alias}_v1").status == 404

    run = workdir.run("index", "create", "--url", url, "--index", alias, "--mapping", "missing.json")
    assert run.code == ExitCode.CONFIG
    assert run.error_line.startswith("error: missing.json: ")
