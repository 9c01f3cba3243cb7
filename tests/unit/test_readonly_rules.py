"""The rules of the read-only proof (tests/support/readonly.py) catch every kind of write they must.

The e2e test that runs ``plan`` and friends through the recording proxies can only fail if these
rules call a write a write; here each rule meets the writes it exists for, and the reads it must let by.
"""

from __future__ import annotations

import socket
import threading

from tests.support.readonly import (
    Logged,
    Recorded,
    RecordingProxy,
    _RequestParser,
    docker_writes,
    mysql_writes,
    search_writes,
)

SHADOW = "ticketctl_shadow_events_1796000000_abcdef"
STACK = ("events_db", "inventory_db", "bookings_db")


def test_docker_writes_are_every_method_but_get_and_head() -> None:
    requests = [
        Recorded("GET", "/v1.41/containers/json?all=1"),
        Recorded("HEAD", "/_ping"),
        Recorded("POST", "/v1.41/containers/create?name=x"),
        Recorded("POST", "/v1.41/containers/abc/update"),
        Recorded("DELETE", "/v1.41/containers/abc?force=True"),
        Recorded("PUT", "/v1.41/containers/abc/archive?path=/"),
    ]
    assert [str(r) for r in docker_writes(requests)] == [
        "POST /v1.41/containers/create?name=x",
        "POST /v1.41/containers/abc/update",
        "DELETE /v1.41/containers/abc?force=True",
        "PUT /v1.41/containers/abc/archive?path=/",
    ]


def test_search_writes_let_reading_posts_by() -> None:
    requests = [
        Recorded("GET", "/events*?flat_settings=true"),
        Recorded("POST", "/events/_analyze"),
        Recorded("POST", "/events/_search?size=0"),
        Recorded("PUT", "/events_validate_1234"),
        Recorded("POST", "/_aliases"),
        Recorded("POST", "/_reindex?wait_for_completion=false"),
        Recorded("PUT", "/events_v1/_mapping"),
        Recorded("DELETE", "/events_v1"),
    ]
    assert [str(r) for r in search_writes(requests)] == [
        "PUT /events_validate_1234",
        "POST /_aliases",
        "POST /_reindex?wait_for_completion=false",
        "PUT /events_v1/_mapping",
        "DELETE /events_v1",
    ]


def logged(*lines: tuple[int, str, str]) -> list[Logged]:
    return [Logged(thread, command, argument) for thread, command, argument in lines]


def test_mysql_writes_catch_locks_history_rows_ddl_and_dml() -> None:
    log = logged(
        (1, "Connect", "events_app@10.0.0.1 on events_db using TCP/IP"),
        (1, "Query", "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci, SESSION sql_mode = 'STRICT_TRANS_TABLES'"),
        (1, "Query", "SELECT version, checksum FROM ticketctl_schema_history ORDER BY version"),
        (1, "Query", "SHOW GRANTS FOR CURRENT_USER()"),
        (1, "Query", "SELECT GET_LOCK('ticketctl_migrate_events_db', 0)"),
        (1, "Query", "INSERT INTO ticketctl_schema_history (version) VALUES (2)"),
        (1, "Query", "ALTER TABLE events ADD COLUMN x INT"),
        (1, "Query", "SELECT * FROM events FOR UPDATE"),
        (1, "Query", "SET GLOBAL general_log = 0"),
        (1, "Query", "/* a comment */ DELETE FROM events"),
        (1, "Quit", ""),
    )
    assert [entry.argument for entry in mysql_writes(log, databases=STACK)] == [
        "SELECT GET_LOCK('ticketctl_migrate_events_db', 0)",
        "INSERT INTO ticketctl_schema_history (version) VALUES (2)",
        "ALTER TABLE events ADD COLUMN x INT",
        "SELECT * FROM events FOR UPDATE",
        "SET GLOBAL general_log = 0",
        "/* a comment */ DELETE FROM events",
    ]


def test_the_shadow_exception_covers_the_shadow_database_only() -> None:
    log = logged(
        (1, "Query", f"CREATE DATABASE IF NOT EXISTS `{SHADOW}` CHARACTER SET utf8mb4"),
        (2, "Connect", f"root@10.0.0.1 on {SHADOW} using TCP/IP"),
        (2, "Query", "CREATE TABLE events (id INT)"),
        (2, "Query", "INSERT INTO events VALUES (1)"),
        (2, "Query", "INSERT INTO events_db.events VALUES (1)"),  # reaches the live database: never allowed
        (2, "Init DB", "events_db"),
        (2, "Query", "DROP TABLE events"),  # now on the live database
        (3, "Query", f"DROP DATABASE IF EXISTS `{SHADOW}`"),
        (3, "Query", "DROP DATABASE IF EXISTS `events_db`"),
        (3, "Query", "CREATE DATABASE ticketctl_shadow_by_hand"),  # not a shadow's name
    )
    allowed = mysql_writes(log, allow_shadow=True, databases=STACK)
    assert [entry.argument for entry in allowed] == [
        "INSERT INTO events_db.events VALUES (1)",
        "DROP TABLE events",
        "DROP DATABASE IF EXISTS `events_db`",
        "CREATE DATABASE ticketctl_shadow_by_hand",
    ]
    assert len(mysql_writes(log, databases=STACK)) == 8  # without the exception every write counts


def test_the_request_parser_follows_keep_alive_and_chunked_bodies() -> None:
    seen: list[str] = []
    parser = _RequestParser(lambda request: seen.append(str(request)))
    stream = (
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
        b"PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        b"DELETE /d HTTP/1.1\r\n\r\n"
    )
    for position in range(0, len(stream), 7):  # as the bytes arrive, in pieces
        parser.feed(stream[position : position + 7])
    assert seen == ["GET /a", "POST /b", "PUT /c", "DELETE /d"]


def test_the_proxy_records_what_passes_through(tmp_path: object) -> None:
    upstream = socket.socket()
    upstream.bind(("127.0.0.1", 0))
    upstream.listen(1)

    def answer() -> None:
        connection, _ = upstream.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    server = threading.Thread(target=answer, daemon=True)
    server.start()
    with RecordingProxy(("127.0.0.1", 0), upstream.getsockname()) as proxy:
        with socket.create_connection(proxy.address) as client:
            client.sendall(b"HEAD /_cluster/health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert client.recv(65536).endswith(b"ok")
        server.join(5)
        assert [str(r) for r in proxy.take()] == ["HEAD /_cluster/health"]
    upstream.close()
