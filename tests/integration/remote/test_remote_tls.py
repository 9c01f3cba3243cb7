"""``migrate``, ``index`` and ``doctor`` against managed services with TLS and credentials, and no Docker.

Which real server plays which managed service (all on 127.0.0.1, certificates
made for this session by ``tests.support.tls.Pki``; see ``remote_servers.py``):

* managed MySQL that requires TLS (RDS, Cloud SQL, Azure): a private MariaDB 10.11
  (``mariadbd`` from Debian) with ``--require-secure-transport`` and accounts
  that ``REQUIRE SSL`` (one test: ``REQUIRE X509``, a client certificate);
* hosted OpenSearch with https and basic auth (Amazon OpenSearch Service, Aiven):
  Debian's nginx terminating TLS with ``auth_basic`` in front of the shared
  OpenSearch 3.6.0;
* managed Redis with in-transit encryption and AUTH (ElastiCache, Memorystore):
  a private ``redis-server`` 7.0 listening on a TLS port only, ``requirepass``.

ticketctl runs as a real process in an empty folder, configured only by
``TICKETCTL_*`` variables and the secrets, with ``docker.enabled`` false and
``DOCKER_HOST`` pointing at a socket that does not exist. The failure modes
prove that each wrong setting gives one line naming the setting to fix, and
that no secret reaches any output.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import pytest

from tests.support.remote import DATABASE_KEYS, ManagedAccounts, Run, Ticketctl, ticketctl_in
from tests.support.remote_servers import NginxFront, PrivateMariaDB, PrivateRedis
from tests.support.servers import SearchScratch, unique_name
from tests.support.tls import Pki
from ticketctl.errors import ExitCode

pytestmark = pytest.mark.integration

DOCKER_SKIPPED = "skipped: docker.enabled is false (remote endpoints)"


@pytest.fixture
def ticketctl(
    tmp_path: Path,
    pki: Pki,
    tls_mariadb: PrivateMariaDB,
    managed_accounts: ManagedAccounts,
    tls_redis: PrivateRedis,
    search_front: NginxFront,
    opensearch_scratch: SearchScratch,
    lock_index_cleanup: None,
) -> Ticketctl:
    """Settings and secrets as a user exports them for the three managed services."""
    environ = {
        "TICKETCTL_MYSQL__HOST": "127.0.0.1",
        "TICKETCTL_MYSQL__PORT": str(tls_mariadb.port),
        "TICKETCTL_MYSQL__SSL_CA": str(pki.ca),
        **managed_accounts.environ(),
        "TICKETCTL_REDIS__HOST": "127.0.0.1",
        "TICKETCTL_REDIS__PORT": str(tls_redis.port),
        "TICKETCTL_REDIS__TLS": "true",
        "TICKETCTL_REDIS__CA_CERTS": str(pki.ca),
        "REDIS_PASSWORD": tls_redis.password,
        "TICKETCTL_SEARCH__ENGINE": "opensearch",
        "TICKETCTL_SEARCH__URL": search_front.url,
        "TICKETCTL_SEARCH__USERNAME": search_front.user,
        "TICKETCTL_SEARCH__CA_CERTS": str(pki.ca),
        "SEARCH_PASSWORD": search_front.password,
        "TICKETCTL_SEARCH__INDEX": opensearch_scratch.index("events"),
    }
    return ticketctl_in(tmp_path, environ)


def assert_no_secret_in_any_output(ticketctl: Ticketctl, *extra: str) -> None:
    for run in ticketctl.runs:
        for value in (*ticketctl.secret_values(), *extra):
            assert value not in run.output, f"a secret reached the output of ticketctl {' '.join(run.args)}"


def assert_one_error_line(run: Run, code: int, *phrases: str) -> str:
    """The run failed with ``code`` and printed exactly one ``error:`` line on stderr holding every phrase."""
    lines = run.stderr.strip().splitlines()
    assert (run.code, len(lines)) == (code, 1), run
    assert lines[0].startswith("error: "), run
    for phrase in phrases:
        assert phrase in lines[0], f"{phrase!r} not in {lines[0]!r}"
    return lines[0]


# ---------------------------------------------------------------- the whole story


def test_migrate_index_and_doctor_over_tls_with_credentials_and_no_docker(
    ticketctl: Ticketctl,
    tls_mariadb: PrivateMariaDB,
    managed_accounts: ManagedAccounts,
    search_front: NginxFront,
    opensearch_scratch: SearchScratch,
) -> None:
    migrated = ticketctl("migrate", "--json")
    assert migrated.code == 0, migrated
    report = json.loads(migrated.stdout)
    assert (report["ok"], report["applied"]) == (True, 4)  # V001 of each database, V002 of events
    assert [d["created"] for d in report["databases"]] == [True, True, True]
    for key in DATABASE_KEYS:
        rows = tls_mariadb.admin(
            f"SELECT version, status FROM `{managed_accounts.names[key]}`.ticketctl_schema_history ORDER BY version"
        )
        assert rows == [(1, "success"), *([(2, "success")] if key == "events" else [])], key

    status = ticketctl("migrate", "status", "--exit-code")
    assert status.code == 0, status
    assert status.stdout.strip().splitlines()[-1] == "up to date"
    assert json.loads(ticketctl("migrate", "status", "--json").stdout)["up_to_date"] is True

    alias = opensearch_scratch.index("events")
    created = ticketctl("index", "create", "--json")
    assert created.code == 0, created
    created_report = json.loads(created.stdout)
    assert (created_report["index"], created_report["server"]["url"]) == (f"{alias}_v1", search_front.url)
    assert created_report["warnings"] == []
    assert list(opensearch_scratch.server.ok("GET", f"/_alias/{alias}")) == [f"{alias}_v1"]

    index_status = ticketctl("index", "status", "--json")
    assert index_status.code == 0, index_status
    assert json.loads(index_status.stdout)["state"] == "in_sync"

    doctor = ticketctl("doctor", "--json")
    assert doctor.code == 0, doctor
    checks = {check["name"]: check for check in json.loads(doctor.stdout)["checks"]}
    skipped = {name for name, check in checks.items() if check["status"] == "skip"}
    assert skipped == {name for name in checks if name.startswith(("docker.", "containers.", "ports.", "host."))}
    assert {checks[name]["summary"] for name in skipped} == {DOCKER_SKIPPED}
    assert len(skipped) == 11  # the Docker, container, port and host checks, containers.users and .secrets among them
    assert {check["status"] for name, check in checks.items() if name not in skipped} == {"ok"}
    for key in DATABASE_KEYS:
        assert re.search(r", over TLSv1\.[23]\)$", checks[f"mysql.{key}"]["summary"]), checks[f"mysql.{key}"]
    assert checks["redis.ping"]["summary"].endswith(f"127.0.0.1:{ticketctl.environ['TICKETCTL_REDIS__PORT']} over TLS")
    assert checks["search.health"]["summary"].startswith(f"OpenSearch 3.6.0 at {search_front.url}: cluster ")
    assert checks["search.analyzer"]["summary"] == "analyzers work: 'São Paulo' → sao paulo"

    # Every search request went through the https front as the configured user.
    requests = [line for line in search_front.access_log().splitlines() if f"/{alias}" in line]
    assert requests and all(f" - {search_front.user} [" in line for line in requests), requests[:3]
    assert_no_secret_in_any_output(ticketctl)


def test_client_certificate_for_an_account_that_requires_x509(
    ticketctl: Ticketctl, tls_mariadb: PrivateMariaDB, pki: Pki
) -> None:
    """mysql.ssl_cert/ssl_key present a client certificate; without them the server refuses the account."""
    user, password = unique_name("x509"), secrets.token_urlsafe(18)
    database = ticketctl.environ["TICKETCTL_MYSQL__EVENTS__NAME"]
    tls_mariadb.create_user(user, password, requirement="X509", grant=f"GRANT ALL ON `{database}`.* TO {{user}}")
    try:
        account = {"TICKETCTL_MYSQL__EVENTS__USER": user, "EVENTS_DB_PASSWORD": password}
        refused = ticketctl("migrate", "--db", "events", **account)
        assert_one_error_line(refused, ExitCode.DATABASE, f"denied access to user '{user}'")
        with_cert = ticketctl(
            "migrate",
            "--db",
            "events",
            TICKETCTL_MYSQL__SSL_CERT=str(pki.client_cert),
            TICKETCTL_MYSQL__SSL_KEY=str(pki.client_key),
            **account,
        )
        assert with_cert.code == 0, with_cert
        versions = tls_mariadb.admin(f"SELECT version FROM `{database}`.ticketctl_schema_history ORDER BY version")
        assert versions == [(1,), (2,)]
    finally:
        tls_mariadb.admin(f"DROP USER IF EXISTS '{user}'@'%'")


def test_hosted_elasticsearch_through_its_own_client_over_tls(
    ticketctl: Ticketctl, elasticsearch_front: NginxFront
) -> None:
    """The elasticsearch client's path: TLS with search.ca_certs, basic auth, and no Python warning when unverified.

    The shared Elasticsearch lacks analysis-common, so ``index create`` cannot run
    there (docs/test-services.md); reading the cluster and the alias goes through the
    same client, TLS and credentials.
    """
    hosted = {
        "TICKETCTL_SEARCH__ENGINE": "elasticsearch",
        "TICKETCTL_SEARCH__URL": elasticsearch_front.url,
        "SEARCH_PASSWORD": elasticsearch_front.password,
    }
    health = ticketctl("doctor", "search.health", "--json", **hosted)
    (check,) = json.loads(health.stdout)["checks"]
    assert check["status"] in ("ok", "warn"), health  # a single node turns yellow while another test's index waits
    assert check["summary"].startswith(f"Elasticsearch 8.19.21 at {elasticsearch_front.url}: cluster "), check

    missing = ticketctl("index", "status", "--json", **hosted)
    assert missing.code == ExitCode.MISSING, missing
    assert json.loads(missing.stdout)["server"]["detected_by"].startswith("GET /_nodes/_local")

    unverified = ticketctl(
        "index", "status", TICKETCTL_SEARCH__VERIFY_CERTS="false", TICKETCTL_SEARCH__CA_CERTS=None, **hosted
    )
    assert unverified.code == ExitCode.MISSING, unverified
    assert [line.split(":", 1)[0] for line in unverified.stderr.splitlines()] == ["warning"], unverified
    assert "SecurityWarning" not in unverified.stderr
    assert_no_secret_in_any_output(ticketctl, elasticsearch_front.password)


# ---------------------------------------------------------------- MySQL failure modes


def test_mysql_wrong_ca_names_mysql_ssl_ca(ticketctl: Ticketctl, pki: Pki) -> None:
    run = ticketctl("migrate", "status", TICKETCTL_MYSQL__SSL_CA=str(pki.other_ca))
    assert_one_error_line(
        run, ExitCode.DATABASE, "TLS certificate is not trusted by the CA in mysql.ssl_ca", "set mysql.ssl_ca"
    )
    assert_no_secret_in_any_output(ticketctl)


def test_mysql_that_requires_tls_without_ssl_ca_says_so(ticketctl: Ticketctl) -> None:
    """MariaDB refuses a plain login to a REQUIRE SSL account with 1045, as a wrong password; the hint names both."""
    run = ticketctl("migrate", "status", "--db", "events", TICKETCTL_MYSQL__SSL_CA=None)
    assert_one_error_line(run, ExitCode.DATABASE, "denied access", "EVENTS_DB_PASSWORD", "set mysql.ssl_ca")
    assert_no_secret_in_any_output(ticketctl)


def test_mysql_certificate_for_another_host_is_refused(
    ticketctl: Ticketctl, mismatched_mariadb: PrivateMariaDB
) -> None:
    run = ticketctl("migrate", "status", TICKETCTL_MYSQL__PORT=str(mismatched_mariadb.port))
    assert_one_error_line(
        run, ExitCode.DATABASE, "TLS certificate is not valid for '127.0.0.1'", "mismatch", "set mysql.host"
    )


def test_mysql_missing_ca_file_and_missing_secret_are_config_errors(ticketctl: Ticketctl, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ca.pem"
    run = ticketctl("migrate", "status", TICKETCTL_MYSQL__SSL_CA=str(missing))
    assert_one_error_line(run, ExitCode.CONFIG, f"mysql.ssl_ca: cannot read {missing}")
    run = ticketctl("migrate", EVENTS_DB_PASSWORD=None)
    assert_one_error_line(run, ExitCode.CONFIG, "EVENTS_DB_PASSWORD: secret not found")


# ---------------------------------------------------------------- search failure modes


def test_search_wrong_ca_names_search_ca_certs(ticketctl: Ticketctl, pki: Pki) -> None:
    run = ticketctl("index", "status", TICKETCTL_SEARCH__CA_CERTS=str(pki.other_ca))
    assert_one_error_line(
        run, ExitCode.SEARCH, "TLS certificate is not trusted by the CA in search.ca_certs", "set search.ca_certs"
    )


def test_search_wrong_password_is_a_401_naming_the_user_and_search_password(ticketctl: Ticketctl) -> None:
    wrong = secrets.token_urlsafe(18)
    run = ticketctl("index", "create", SEARCH_PASSWORD=wrong)
    assert_one_error_line(
        run,
        ExitCode.SEARCH,
        "GET / → 401",
        f"user '{ticketctl.environ['TICKETCTL_SEARCH__USERNAME']}'",
        "search.username and SEARCH_PASSWORD",
    )
    doctor = ticketctl("doctor", "search", "--json", SEARCH_PASSWORD=wrong)
    health = next(c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "search.health")
    assert (doctor.code, health["status"]) == (ExitCode.CHECKS_FAILED, "fail")
    assert "401" in health["summary"] and "SEARCH_PASSWORD" in health["fix"]
    assert_no_secret_in_any_output(ticketctl, wrong)


def test_search_certificate_for_another_host_is_refused(ticketctl: Ticketctl, search_front: NginxFront) -> None:
    run = ticketctl("index", "status", TICKETCTL_SEARCH__URL=search_front.other_host_url)
    assert_one_error_line(
        run, ExitCode.SEARCH, "its TLS certificate is not valid for this host name", "mismatch", "search.url"
    )


def test_search_user_without_search_password_names_the_variable(ticketctl: Ticketctl) -> None:
    run = ticketctl("index", "status", SEARCH_PASSWORD=None)
    assert_one_error_line(run, ExitCode.CONFIG, "search.username is set but SEARCH_PASSWORD is not")


def test_search_verify_certs_false_works_and_warns(ticketctl: Ticketctl) -> None:
    unverified = {"TICKETCTL_SEARCH__VERIFY_CERTS": "false", "TICKETCTL_SEARCH__CA_CERTS": None}
    created = ticketctl("index", "create", **unverified)
    assert created.code == 0, created
    warnings = [line for line in created.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        f"warning: search.verify_certs is false: the TLS certificate of {ticketctl.environ['TICKETCTL_SEARCH__URL']} "
        "is not verified, so a machine in between could read SEARCH_PASSWORD and the data; "
        "set search.ca_certs to the cluster's CA instead"
    ], created
    doctor = ticketctl("doctor", "search.health", "--json", **unverified)
    (health,) = json.loads(doctor.stdout)["checks"]
    assert (doctor.code, health["status"]) == (ExitCode.WARNINGS, "warn"), doctor
    assert "search.ca_certs" in health["fix"]
    assert_no_secret_in_any_output(ticketctl)


# ---------------------------------------------------------------- Redis failure modes


@pytest.mark.parametrize(
    ("changes", "summary", "named"),
    [
        (
            {"TICKETCTL_REDIS__CA_CERTS": "{other_ca}"},
            "its TLS certificate is not trusted by the CA in redis.ca_certs",
            "redis.ca_certs",
        ),
        ({"REDIS_PASSWORD": None}, "requires a password and REDIS_PASSWORD is not set", "REDIS_PASSWORD"),
        ({"REDIS_PASSWORD": "{wrong_password}"}, "authentication failed", "REDIS_PASSWORD"),
        ({"TICKETCTL_REDIS__TLS": "false"}, "cannot connect", "redis.tls: true"),
    ],
)
def test_redis_failures_name_the_setting(
    ticketctl: Ticketctl, pki: Pki, changes: dict[str, str | None], summary: str, named: str
) -> None:
    wrong_password = secrets.token_urlsafe(18)
    values = {"other_ca": str(pki.other_ca), "wrong_password": wrong_password}
    filled = {name: None if value is None else value.format(**values) for name, value in changes.items()}
    run = ticketctl("doctor", "redis.ping", "--json", **filled)
    (ping,) = json.loads(run.stdout)["checks"]
    assert (run.code, ping["status"]) == (ExitCode.CHECKS_FAILED, "fail"), run
    assert summary in ping["summary"], ping
    assert named in ping["fix"], ping
    assert_no_secret_in_any_output(ticketctl, wrong_password)


def test_redis_certificate_for_another_host_is_refused(ticketctl: Ticketctl, mismatched_redis: PrivateRedis) -> None:
    run = ticketctl(
        "doctor",
        "redis.ping",
        "--json",
        TICKETCTL_REDIS__PORT=str(mismatched_redis.port),
        REDIS_PASSWORD=mismatched_redis.password,
    )
    (ping,) = json.loads(run.stdout)["checks"]
    assert (run.code, ping["status"]) == (ExitCode.CHECKS_FAILED, "fail"), run
    assert "its TLS certificate is not valid for '127.0.0.1'" in ping["summary"], ping
    assert ping["fix"] == "set redis.host to a host name that the server's certificate lists"
