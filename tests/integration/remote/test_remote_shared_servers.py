"""``migrate``, ``index`` and ``doctor`` against the shared integration servers, purely through settings.

No Docker: ``docker.enabled`` is false and ``DOCKER_HOST`` names a socket that
does not exist. The servers are those of ``scripts/test-services``: MariaDB
10.11 (as a MySQL server that someone else runs), Redis 7.0 and OpenSearch 3.6.0
over plain http. Each is reached only through ``TICKETCTL_*`` variables and the
secrets, from an empty working folder (no ``ticketctl.yaml``, no ``.env``).
The TLS variant of the same story is in ``test_remote_tls.py``.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest

from tests.support.remote import DATABASE_KEYS, Ticketctl, ticketctl_in
from tests.support.servers import MySQLScratch, RedisScratch, SearchScratch
from ticketctl.errors import ExitCode

pytestmark = pytest.mark.integration

DOCKER_SKIPPED = "skipped: docker.enabled is false (remote endpoints)"
DOCKER_CHECKS = {
    "docker.daemon",
    "docker.memory",
    "docker.max_map_count",
    "containers.secrets",
    "containers.mysql",
    "containers.redis",
    "containers.opensearch",
    "containers.leftovers",
    "containers.users",
    "ports.host",
    "host.max_map_count",
}


@pytest.fixture
def ticketctl(
    tmp_path: Path,
    mysql_scratch: MySQLScratch,
    redis_scratch: RedisScratch,
    opensearch_scratch: SearchScratch,
    lock_index_cleanup: None,
) -> Ticketctl:
    server = mysql_scratch.server
    redis = urllib.parse.urlsplit(redis_scratch.server_url)
    environ = {
        "TICKETCTL_MYSQL__HOST": server.host,
        "TICKETCTL_MYSQL__PORT": str(server.port),
        "TICKETCTL_REDIS__HOST": str(redis.hostname),
        "TICKETCTL_REDIS__PORT": str(redis.port),
        "TICKETCTL_REDIS__DB": str(redis_scratch.db),
        "TICKETCTL_SEARCH__ENGINE": "opensearch",
        "TICKETCTL_SEARCH__URL": opensearch_scratch.server.url,
        "TICKETCTL_SEARCH__INDEX": opensearch_scratch.index("events"),
    }
    for key in DATABASE_KEYS:
        name = mysql_scratch.database_name()
        user, password = mysql_scratch.user(grant_database=name)
        mysql_scratch.grant_drift(user)  # the drift check's fix for a remote server (no root password here)
        environ |= {
            f"TICKETCTL_MYSQL__{key.upper()}__NAME": name,
            f"TICKETCTL_MYSQL__{key.upper()}__USER": user,
            f"{key.upper()}_DB_PASSWORD": password,
        }
    return ticketctl_in(tmp_path, environ)


def test_migrate_index_and_doctor_reach_the_servers_through_settings_alone(
    ticketctl: Ticketctl, mysql_scratch: MySQLScratch, opensearch_scratch: SearchScratch
) -> None:
    migrated = ticketctl("migrate", "--json")
    assert migrated.code == 0, migrated
    report = json.loads(migrated.stdout)
    assert (report["ok"], report["applied"]) == (True, 4)  # V001 of each database, V002 of events
    assert [(d["database"], d["created"], d["server"].startswith("MariaDB")) for d in report["databases"]] == [
        (key, True, True) for key in DATABASE_KEYS
    ]
    events_db = ticketctl.environ["TICKETCTL_MYSQL__EVENTS__NAME"]
    with mysql_scratch.server.connect(database=events_db) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT version, status FROM ticketctl_schema_history ORDER BY version")
        assert cursor.fetchall() == ((1, "success"), (2, "success"))

    status = ticketctl("migrate", "status", "--json", "--exit-code")
    assert status.code == 0, status
    assert json.loads(status.stdout)["up_to_date"] is True

    created = ticketctl("index", "create", "--json")
    assert created.code == 0, created
    alias = opensearch_scratch.index("events")
    assert json.loads(created.stdout)["index"] == f"{alias}_v1"
    assert list(opensearch_scratch.server.ok("GET", f"/_alias/{alias}")) == [f"{alias}_v1"]

    index_status = ticketctl("index", "status", "--json")
    assert index_status.code == 0, index_status
    assert (json.loads(index_status.stdout)["state"], json.loads(index_status.stdout)["server"]["engine"]) == (
        "in_sync",
        "opensearch",
    )

    doctor = ticketctl("doctor", "--json")
    checks = {check["name"]: check for check in json.loads(doctor.stdout)["checks"]}
    assert doctor.code == 0, doctor
    assert {name for name, check in checks.items() if check["status"] == "skip"} == DOCKER_CHECKS
    assert {checks[name]["summary"] for name in DOCKER_CHECKS} == {DOCKER_SKIPPED}
    assert {check["status"] for name, check in checks.items() if name not in DOCKER_CHECKS} == {"ok"}
    assert len(checks) == len(DOCKER_CHECKS) + 12 + 3 + 3 + 2  # four per database, Redis, search, snapshots
    assert "unencrypted" in checks["mysql.events"]["summary"]  # 127.0.0.1 without mysql.ssl_ca: no TLS

    text = ticketctl("doctor")
    assert text.code == 0, text
    assert "- docker.daemon" in text.stdout and DOCKER_SKIPPED in text.stdout
    assert text.stdout.rstrip().splitlines()[-1].startswith(f"0 problems in {len(checks)} checks")


def test_the_docker_host_of_these_tests_is_dead(ticketctl: Ticketctl) -> None:
    """The control: with docker.enabled the same environment's Docker checks fail, so skipping them is real."""
    run = ticketctl("doctor", "docker.daemon", "--json", TICKETCTL_DOCKER__ENABLED="true")
    (check,) = json.loads(run.stdout)["checks"]
    assert (run.code, check["name"], check["status"]) == (ExitCode.CHECKS_FAILED, "docker.daemon", "fail"), run
