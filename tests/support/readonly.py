"""Proof that a command only reads: recording proxies for the Docker Engine and the search engine, MySQL's
general log, and the rules that call a recorded request or statement a write.

* :class:`RecordingProxy` listens on a unix socket (the Docker Engine's API) or a TCP port (the search
  engine), forwards every byte to the real server and records the method and target of every HTTP
  request it sees on the way, keep-alive connections and chunked bodies included.
* :class:`GeneralLog` switches the general query log of a server the test owns (the stack's own MySQL
  container, never the shared one) to a table and reads back every command of every connection.
* :func:`docker_writes`, :func:`search_writes` and :func:`mysql_writes` return what is not a read, so
  a test asserts that they are empty. The one exception is named: with ``allow_shadow``, statements on
  a ``ticketctl_shadow_*`` database (its ``CREATE``/``DROP DATABASE`` and what runs inside it) are the
  throwaway database of schema drift and are allowed; nothing else is.
"""

from __future__ import annotations

import contextlib
import re
import socket
import socketserver
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHADOW = re.compile(r"^ticketctl_shadow_[a-z0-9_]+_\d{10}_[0-9a-f]{6}$")
READ_METHODS = frozenset({"GET", "HEAD"})
# POST endpoints of Elasticsearch and OpenSearch that read (a query or an analysis in the body).
SEARCH_READ_POSTS = ("/_search", "/_count", "/_analyze", "/_mget", "/_msearch", "/_field_caps", "/_validate/query")
# First words of statements that only read or set the session.
READ_STATEMENTS = frozenset({"SELECT", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "COMMIT", "ROLLBACK", "SET"})
READ_COMMANDS = frozenset({"Connect", "Quit", "Init DB", "Ping", "Statistics", "Field List", "Close stmt"})


# --------------------------------------------------------------------------- the proxies


@dataclass(frozen=True)
class Recorded:
    method: str
    target: str

    def __str__(self) -> str:
        return f"{self.method} {self.target}"


class _RequestParser:
    """Finds the HTTP/1.1 requests in a client's byte stream (Content-Length and chunked bodies)."""

    def __init__(self, record: Callable[[Recorded], None]):
        self.record = record
        self.buffer = bytearray()
        self.body_left = 0
        self.chunked = False

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while self._step():
            pass

    def _step(self) -> bool:
        if self.body_left:
            taken = min(self.body_left, len(self.buffer))
            del self.buffer[:taken]
            self.body_left -= taken
            return bool(taken) and not self.body_left and bool(self.buffer)
        if self.chunked:
            return self._chunk()
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        del self.buffer[: end + 4]
        method, target = [*head[0].split(" "), "", ""][:2]
        self.record(Recorded(method, target))
        pairs = (line.split(":", 1) for line in head[1:] if ":" in line)
        headers = {name.strip().lower(): value.strip() for name, value in pairs}
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self.body_left = int(headers.get("content-length", "0") or 0)
        return bool(self.buffer)

    def _chunk(self) -> bool:
        end = self.buffer.find(b"\r\n")
        if end < 0:
            return False
        size = int(bytes(self.buffer[:end]).split(b";")[0] or b"0", 16)
        if len(self.buffer) < end + 2 + size + 2:
            return False
        del self.buffer[: end + 2 + size + 2]
        if size == 0:
            self.chunked = False
        return bool(self.buffer)


class RecordingProxy:
    """A proxy in front of a real server that records every HTTP request passing through.

    ``listen`` and ``upstream`` are a unix socket path or a ``(host, port)``.
    """

    def __init__(self, listen: str | tuple[str, int], upstream: str | tuple[str, int]):
        self.upstream = upstream
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve(self.request)

        if isinstance(listen, str):
            Path(listen).unlink(missing_ok=True)
            self._server: socketserver.BaseServer = socketserver.ThreadingUnixStreamServer(listen, Handler)
        else:
            socketserver.ThreadingTCPServer.allow_reuse_address = True
            self._server = socketserver.ThreadingTCPServer(listen, Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> Any:
        return self._server.server_address

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def take(self) -> list[Recorded]:
        """The requests recorded since the last call."""
        with self._lock:
            taken, self.requests = self.requests, []
        return taken

    def _record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def _serve(self, client: socket.socket) -> None:
        family = socket.AF_UNIX if isinstance(self.upstream, str) else socket.AF_INET
        server = socket.socket(family, socket.SOCK_STREAM)
        server.connect(self.upstream)
        parser = _RequestParser(self._record)
        back = threading.Thread(target=_pump, args=(server, client, None), daemon=True)
        back.start()
        _pump(client, server, parser)
        back.join(timeout=30)
        server.close()


def _pump(source: socket.socket, target: socket.socket, parser: _RequestParser | None) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            if parser is not None:
                parser.feed(data)
            target.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


# --------------------------------------------------------------------------- the general log


@dataclass(frozen=True)
class Logged:
    thread: int
    command: str
    argument: str

    def __str__(self) -> str:
        return f"[{self.thread}] {self.command}: {self.argument[:300]}"


class GeneralLog:
    """The general query log of a MySQL server this test owns, kept in ``mysql.general_log``."""

    def __init__(self, connect: Callable[[], Any]):
        self._connect = connect
        self._own: set[int] = set()

    def _run(self, *statements: str) -> list[tuple[Any, ...]]:
        connection = self._connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT CONNECTION_ID()")
                self._own.add(int(cursor.fetchone()[0]))
                rows: list[tuple[Any, ...]] = []
                for statement in statements:
                    cursor.execute(statement)
                    rows = list(cursor.fetchall())
                return rows
        finally:
            connection.close()

    def start(self) -> None:
        self._run("SET GLOBAL log_output = 'TABLE'", "TRUNCATE TABLE mysql.general_log", "SET GLOBAL general_log = 1")

    def take(self) -> list[Logged]:
        """Every command logged since :meth:`start`, this reader's own connections left out; the log restarts."""
        rows = self._run(
            "SET GLOBAL general_log = 0",
            "SELECT thread_id, command_type, CONVERT(argument USING utf8mb4) FROM mysql.general_log "
            "ORDER BY event_time",
        )
        self.start()
        return [
            Logged(int(thread), str(command), str(argument or ""))
            for thread, command, argument in rows
            if int(thread) not in self._own
        ]

    def stop(self) -> None:
        self._run("SET GLOBAL general_log = 0", "TRUNCATE TABLE mysql.general_log")


# --------------------------------------------------------------------------- what counts as a write


def docker_writes(requests: Iterable[Recorded]) -> list[Recorded]:
    """Every request to the Engine that is not a GET or HEAD (each POST, PUT, DELETE changes something)."""
    return [request for request in requests if request.method not in READ_METHODS]


def search_writes(requests: Iterable[Recorded]) -> list[Recorded]:
    """Every request to the search engine that may change it: not GET/HEAD, and not a POST that only reads."""
    return [
        request
        for request in requests
        if request.method not in READ_METHODS
        and not (request.method == "POST" and request.target.split("?", 1)[0].endswith(SEARCH_READ_POSTS))
    ]


def mysql_writes(
    logged: Iterable[Logged], *, allow_shadow: bool = False, databases: Iterable[str] = ()
) -> list[Logged]:
    """Every logged command that writes, locks or changes the server.

    ``allow_shadow`` lets schema drift's throwaway database through: its
    ``CREATE``/``DROP DATABASE``, and statements while it is the connection's
    current database that name none of ``databases`` (the stack's own).
    """
    current: dict[int, str | None] = {}
    found = []
    for entry in logged:
        switched = _switch(entry)
        if switched is not None:
            current[entry.thread] = switched or None
            continue
        if entry.command in READ_COMMANDS:
            continue
        if entry.command not in ("Query", "Execute"):
            found.append(entry)
            continue
        if not _statement_reads(entry.argument) and not (
            allow_shadow and _on_shadow(entry.argument, current.get(entry.thread), set(databases))
        ):
            found.append(entry)
    return found


def _switch(entry: Logged) -> str | None:
    """The database a command makes current ('' for none), or None when it does not switch."""
    if entry.command == "Connect":
        match = re.search(r" on (\S+)", entry.argument)
        return match.group(1) if match else ""
    if entry.command == "Init DB":
        return entry.argument.strip()
    match = re.match(r"\s*USE\s+`?([A-Za-z0-9_]+)`?\s*;?\s*$", entry.argument, re.I)
    return match.group(1) if entry.command == "Query" and match else None


def _statement_reads(sql: str) -> bool:
    text = re.sub(r"/\*.*?\*/", " ", sql, flags=re.S).strip()
    words = text.upper().split()
    if not words:
        return True
    if re.search(r"\b(GET_LOCK|RELEASE_LOCK|RELEASE_ALL_LOCKS)\s*\(", text, re.I):
        return False
    if re.search(r"\bFOR\s+UPDATE\b|\bLOCK\s+IN\s+SHARE\s+MODE\b|\bINTO\s+(OUT|DUMP)FILE\b", text, re.I):
        return False
    if words[0] == "SET":
        return not re.match(r"SET\s+(GLOBAL|PERSIST|PASSWORD|@@GLOBAL|DEFAULT\s+ROLE|ROLE)\b", text, re.I)
    return words[0] in READ_STATEMENTS


def _on_shadow(sql: str, database: str | None, live: set[str]) -> bool:
    text = sql.strip()
    match = re.match(r"(CREATE|DROP)\s+DATABASE\s+(IF\s+(NOT\s+)?EXISTS\s+)?`?([A-Za-z0-9_]+)`?", text, re.I)
    if match:
        return bool(SHADOW.match(match.group(4)))
    if database is None or not SHADOW.match(database):
        return False
    named = {name.lower() for name in re.findall(r"`?([A-Za-z0-9_]+)`?\s*\.", text)}
    return not named & {name.lower() for name in live}
