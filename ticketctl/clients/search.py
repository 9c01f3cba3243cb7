"""Engine detection and the one door through which ticketctl talks to a search server.

:func:`detect` asks ``GET /`` over plain HTTP (urllib, before any client is
chosen) whether the server is Elasticsearch or OpenSearch and which version.
:func:`connect` then builds the matching official client (``elasticsearch``
for Elasticsearch, ``opensearch-py`` for OpenSearch) and wraps it in a
:class:`SearchConnection`, which ``ticketctl index`` and ``doctor`` share.

Every request goes through :meth:`SearchConnection.send`, which

* retries 429 and 5xx answers and dropped connections with exponential backoff
  (the clients' own retries are switched off so the two do not multiply);
* records each request, so ``--dry-run`` can print what would be sent, and
  refuses to send a write in dry-run mode;
* translates both clients' exceptions into :class:`SearchRequestError`, one
  line naming the server, the request and the server's reason.
"""

from __future__ import annotations

import base64
import json
import random
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ticketctl.clients import tls
from ticketctl.config.masking import mask_url
from ticketctl.errors import ConfigError, ExitCode, SearchError

if TYPE_CHECKING:
    from ticketctl.config.secrets import Secrets
    from ticketctl.config.settings import Settings

Engine = Literal["elasticsearch", "opensearch"]
ENGINE_LABELS: dict[str, str] = {"elasticsearch": "Elasticsearch", "opensearch": "OpenSearch"}
READ_METHODS = frozenset({"GET", "HEAD"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
_TLS_FIXES = tls.Fixes(
    host="put a host name that the certificate lists into search.url",
    ca="set search.ca_certs to the CA bundle that signed the cluster's certificate "
    "(search.verify_certs: false only for a throwaway test cluster)",
    other="check that search.url says https:// only for a server that speaks TLS on that port, and search.ca_certs",
)


@dataclass(frozen=True)
class ServerInfo:
    """What ``GET /`` told about the server."""

    url: str
    engine: Engine
    version: str
    cluster_name: str | None = None
    detected_by: str = "GET /"

    @property
    def major(self) -> int:
        head = self.version.split(".", 1)[0]
        return int(head) if head.isdigit() else 0

    @property
    def label(self) -> str:
        return f"{ENGINE_LABELS[self.engine]} {self.version}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "engine": self.engine,
            "version": self.version,
            "cluster_name": self.cluster_name,
            "detected_by": self.detected_by,
        }


@dataclass(frozen=True)
class Request:
    """One HTTP request to the search server, as ``--dry-run`` prints it."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    write: bool | None = None  # None: decided by the method (GET/HEAD read, the rest write)
    idempotent: bool = True  # False: retried only on 429, which the server answers before doing anything
    content_type: str = "application/json"  # "application/x-ndjson" for _bulk, whose body is bytes
    recorded: bool = True  # False: not kept in SearchConnection.sent (a bulk body of megabytes, sent all day)

    @property
    def is_write(self) -> bool:
        return self.method not in READ_METHODS if self.write is None else self.write

    @property
    def target(self) -> str:
        if not self.params:
            return self.path
        query = "&".join(f"{key}={value}" for key, value in self.params.items())
        return f"{self.path}?{query}"

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.target, "body": self.body}

    def describe(self) -> str:
        return f"{self.method} {self.target}"


@dataclass(frozen=True)
class SentRequest:
    """A request and what happened to it: sent (with the status) or only planned (dry run)."""

    request: Request
    sent: bool
    status: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**self.request.as_dict(), "write": self.request.is_write, "sent": self.sent, "status": self.status}


class SearchRequestError(SearchError):
    """The server refused a request; carries the status and the server's error type and reason."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        error_type: str | None,
        reason: str,
        body: Any = None,
        hint: str | None = None,
        exit_code: ExitCode | None = None,
    ):
        super().__init__(message, hint=hint, exit_code=exit_code)
        self.status = status
        self.error_type = error_type
        self.reason = reason
        self.body = body


@dataclass
class _Failure:
    status: int | None
    body: Any
    detail: str
    transient: bool


class SearchConnection:
    """A detected server plus its official client; see the module docstring."""

    def __init__(
        self,
        info: ServerInfo,
        client: Any,
        *,
        timeout: float,
        dry_run: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ):
        self.info = info
        self.client = client
        self.timeout = timeout
        self.dry_run = dry_run
        self.sent: list[SentRequest] = []
        self.warnings: list[str] = []
        self._sleep = sleep
        self._retry_delays = retry_delays

    @property
    def engine(self) -> Engine:
        return self.info.engine

    @property
    def version(self) -> str:
        return self.info.version

    def planned_writes(self) -> list[Request]:
        return [record.request for record in self.sent if record.request.is_write and not record.sent]

    def plan(self, request: Request) -> None:
        """Record a request as planned but not sent (dry run), whether it reads or writes."""
        self.sent.append(SentRequest(request, sent=False))

    def get(self, path: str, **params: str) -> Any:
        return self.send(Request("GET", path, params))

    def send(self, request: Request, *, timeout: float | None = None) -> Any:
        """Send ``request`` (or only record it, for a write in dry-run mode) and return the body."""
        if self.dry_run and request.is_write:
            self.sent.append(SentRequest(request, sent=False))
            return None
        record = self.sent.append if request.recorded else _discard
        attempt = 0
        while True:
            try:
                body = self._perform(request, timeout or self.timeout)
            except _Retryable as retry:
                failure = retry.failure
                may_retry = failure.transient and (request.idempotent or failure.status == 429)
                if may_retry and attempt < len(self._retry_delays):
                    delay = self._retry_delays[attempt]
                    self._sleep(delay + random.uniform(0, delay / 10))
                    attempt += 1
                    continue
                record(SentRequest(request, sent=True, status=failure.status))
                raise self._error(request, failure) from retry.__cause__
            record(SentRequest(request, sent=True, status=200))
            return body

    def health(self, *, wait_for_status: str | None = None, index: str | None = None, timeout: float = 30) -> Any:
        """``GET _cluster/health``, optionally waiting for a status (yellow/green)."""
        params = {"timeout": f"{int(timeout)}s"}
        if wait_for_status:
            params["wait_for_status"] = wait_for_status
        path = f"/_cluster/health/{index}" if index else "/_cluster/health"
        try:
            return self.send(Request("GET", path, params), timeout=timeout + self.timeout)
        except SearchRequestError as error:
            # A wait that runs out is answered 408 with the health body ("timed_out": true): an answer, not a failure.
            if error.status == 408 and isinstance(error.body, Mapping) and "timed_out" in error.body:
                return dict(error.body)
            raise

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if callable(close):
            close()

    # ----------------------------------------------------------------------- client specifics

    def _perform(self, request: Request, timeout: float) -> Any:
        if self.info.engine == "elasticsearch":
            return self._perform_elasticsearch(request, timeout)
        return self._perform_opensearch(request, timeout)

    def _perform_elasticsearch(self, request: Request, timeout: float) -> Any:
        from elastic_transport import ConnectionError as TransportConnectionError
        from elastic_transport import ConnectionTimeout, TransportError
        from elasticsearch import ApiError, ElasticsearchWarning

        headers = {"accept": "application/json"}
        if request.body is not None:
            headers["content-type"] = request.content_type
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ElasticsearchWarning)
                response = self.client.options(request_timeout=timeout).perform_request(
                    request.method,
                    request.path,
                    params=dict(request.params) or None,
                    headers=headers,
                    body=request.body,
                )
            self.warnings.extend(str(item.message) for item in caught)
            return response.body
        except ApiError as error:
            status = error.meta.status
            raise _Retryable(_Failure(status, error.body, str(error.message), status in RETRY_STATUSES)) from error
        except (TransportConnectionError, ConnectionTimeout) as error:
            raise _Retryable(_Failure(None, None, _connection_detail(error), True)) from error
        except TransportError as error:
            raise _Retryable(_Failure(None, None, str(error), False)) from error

    def _perform_opensearch(self, request: Request, timeout: float) -> Any:
        from opensearchpy import ConnectionError as OpenSearchConnectionError
        from opensearchpy import TransportError

        try:
            return self.client.transport.perform_request(
                request.method,
                request.path,
                params=dict(request.params) or None,
                body=request.body,
                headers={"content-type": request.content_type} if request.body is not None else None,
                timeout=timeout,
            )
        except OpenSearchConnectionError as error:
            raise _Retryable(_Failure(None, None, _connection_detail(error), True)) from error
        except TransportError as error:
            status = error.status_code if isinstance(error.status_code, int) else None
            body = error.info if isinstance(error.info, dict) else None
            transient = status is None or status in RETRY_STATUSES
            raise _Retryable(_Failure(status, body, str(error.error), transient)) from error

    def _error(self, request: Request, failure: _Failure) -> SearchRequestError:
        error_type, reason = parse_error_body(failure.body)
        where = f"{self.info.label} at {self.info.url}"
        if failure.status is None:
            return SearchRequestError(
                f"{where}: {request.describe()} failed: {failure.detail}",
                status=None,
                error_type=None,
                reason=failure.detail,
                hint=f"check that the server is up and search.url is right; the request timeout is {self.timeout:g}s "
                "(search.timeout)",
            )
        reason = reason or failure.detail
        label = f"{failure.status} {error_type}" if error_type else str(failure.status)
        hint = None
        if failure.status in (401, 403):
            hint = "check search.username and SEARCH_PASSWORD, and that the user may manage this index"
        elif failure.status in RETRY_STATUSES:
            hint = f"the server is overloaded or unavailable; ticketctl retried {len(self._retry_delays)} times"
        return SearchRequestError(
            f"{where}: {request.describe()} → {label}: {tls.one_line(reason)}",
            status=failure.status,
            error_type=error_type,
            reason=reason,
            body=failure.body,
            hint=hint,
        )


def _discard(record: SentRequest) -> None:
    """Where an unrecorded request's record goes."""


class _Retryable(Exception):
    def __init__(self, failure: _Failure):
        super().__init__(failure.detail)
        self.failure = failure


def parse_error_body(body: Any) -> tuple[str | None, str | None]:
    """``(type, reason)`` of an ES/OpenSearch error body, preferring the root cause's reason."""
    if not isinstance(body, Mapping):
        return None, None
    error = body.get("error")
    if isinstance(error, str):
        return None, error
    if not isinstance(error, Mapping):
        return None, None
    causes = error.get("root_cause")
    cause = causes[0] if isinstance(causes, list) and causes and isinstance(causes[0], Mapping) else error
    error_type = cause.get("type") or error.get("type")
    reason = cause.get("reason") or error.get("reason")
    caused_by = error.get("caused_by")
    if isinstance(caused_by, Mapping) and caused_by.get("reason") and not reason:
        reason = caused_by.get("reason")
    return (str(error_type) if error_type else None), (str(reason) if reason else None)


def _connection_detail(error: Exception) -> str:
    text = tls.one_line(str(error))
    if "Connection refused" in text or "ConnectionRefused" in text:
        return "connection refused"
    if "timed out" in text.lower() or "timeout" in text.lower():
        return "timed out"
    return text[:200]


# --------------------------------------------------------------------------- detection


def _password(settings: Settings, secrets: Mapping[str, str] | None) -> str | None:
    if settings.search.username is None:
        return None
    password = (secrets or {}).get("SEARCH_PASSWORD")
    if not password:
        raise ConfigError(
            f"{settings.source_of('search.username')}: search.username is set but SEARCH_PASSWORD is not",
            hint="export SEARCH_PASSWORD or add it to .env",
        )
    return password


def _ca_certs(settings: Settings) -> str | None:
    """``search.ca_certs`` when certificates are verified; a missing or unreadable file is a ConfigError."""
    if not settings.search.verify_certs:
        return None
    return tls.readable(
        settings.search.ca_certs,
        f"{settings.source_of('search.ca_certs')}: search.ca_certs",
        hint="set search.ca_certs to the cluster's CA bundle (PEM), an existing file readable by this user",
    )


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.search.url.startswith("https://"):
        return None
    if not settings.search.verify_certs:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return tls.verifying_context(
        _ca_certs(settings), "search.ca_certs", hint="point search.ca_certs at the CA bundle (PEM) of the cluster"
    )


def shown_url(settings: Settings) -> str:
    """``search.url`` as messages show it: without the password of its userinfo."""
    return mask_url(settings.search.url)


def _tls_error(settings: Settings, reason: ssl.SSLError) -> SearchError:
    """One line for a failed TLS handshake with the search server, naming the setting that fixes it."""
    where = f"search server at {shown_url(settings)}"
    peer = tls.Peer(where, "this host name", "search.ca_certs", settings.search.ca_certs, _TLS_FIXES)
    problem = tls.describe_failure(reason, peer)
    return SearchError(problem.message, hint=problem.hint)


def unverified_tls_warning(settings: Settings) -> str | None:
    """The warning for an https:// search URL whose certificate is not verified (search.verify_certs: false)."""
    if not settings.search.url.startswith("https://") or settings.search.verify_certs:
        return None
    return (
        f"search.verify_certs is false: the TLS certificate of {shown_url(settings)} is not verified, so a machine "
        "in between could read SEARCH_PASSWORD and the data; set search.ca_certs to the cluster's CA instead"
    )


def _split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """``http://user:password@host`` → (``http://host``, (user, password)), as the official clients read it."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    netloc = parts.netloc.rpartition("@")[2]
    credentials = (urllib.parse.unquote(parts.username or ""), urllib.parse.unquote(parts.password or ""))
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), credentials


def _http(
    settings: Settings,
    password: str | None,
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    accept: str = "application/json",
) -> tuple[int, dict[str, str], bytes]:
    """One plain urllib request: ``(status, lower-cased headers, raw body)``; HTTP errors are answers too."""
    url = shown_url(settings)
    address, userinfo = _split_userinfo(settings.search.url)
    request = urllib.request.Request(address + path, data=body, method=method, headers={"Accept": accept})
    if body is not None:
        request.add_header("Content-Type", "application/x-ndjson" if "/_bulk" in path else "application/json")
    credentials = (settings.search.username, password) if password is not None else userinfo
    if credentials is not None and credentials[0] is not None:
        token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    context = _ssl_context(settings)
    try:
        try:
            answer = urllib.request.urlopen(request, timeout=settings.search.timeout, context=context)
        except urllib.error.HTTPError as error:
            answer = error
        with answer:
            status = int(answer.status)
            headers = {key.lower(): value for key, value in answer.headers.items()}
            raw = answer.read()
    except urllib.error.URLError as error:
        reason = error.reason
        failure = tls.failure_of(error)
        if failure is not None:
            raise _tls_error(settings, failure) from error
        detail = "connection refused" if isinstance(reason, ConnectionRefusedError) else tls.one_line(str(reason))
        raise SearchError(
            f"search server at {url} ({settings.source_of('search.url')}) is unreachable: {detail}",
            hint="start it with 'ticketctl up', or point search.url / TICKETCTL_SEARCH__URL at a running server",
        ) from error
    except (TimeoutError, OSError) as error:
        raise SearchError(
            f"search server at {url} did not answer within {settings.search.timeout:g}s: {tls.one_line(str(error))}",
            hint="check the server, or raise search.timeout",
        ) from error
    return status, headers, raw


def _http_get(settings: Settings, password: str | None, path: str) -> tuple[int, dict[str, str], Any]:
    """A GET whose body is read as JSON (None when it is not JSON)."""
    status, headers, raw = _http(settings, password, "GET", path)
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except (ValueError, UnicodeDecodeError):
        body = None
    return status, headers, body


@dataclass(frozen=True)
class SearchReply:
    """The answer to a request sent as it was written (``ticketctl shell search``)."""

    method: str
    path: str
    status: int
    content_type: str
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def text(self) -> str:
        """The body as a person reads it: JSON indented, text as it is; a HEAD request's status."""
        if self.method == "HEAD" or not self.body:
            return f"{self.status}\n"
        decoded = self.body.decode("utf-8", "replace")
        if "json" in self.content_type:
            try:
                return json.dumps(json.loads(decoded), indent=2, ensure_ascii=False) + "\n"
            except ValueError:
                pass
        return decoded if decoded.endswith("\n") else decoded + "\n"

    def failure(self) -> str:
        """One line for an error status: the request, the status and the server's reason."""
        try:
            parsed = json.loads(self.body.decode("utf-8")) if self.body else None
        except (ValueError, UnicodeDecodeError):
            parsed = None
        error_type, reason = parse_error_body(parsed)
        label = f"{self.status} {error_type}" if error_type else str(self.status)
        return f"{self.method} {self.path} → {label}" + (f": {tls.one_line(reason)}" if reason else "")


def search_request(
    settings: Settings, secrets: Mapping[str, str] | None, method: str, path: str, body: bytes | None = None
) -> SearchReply:
    """Send one request as written (no retries, no client of either engine in between) and return the answer."""
    path = path if path.startswith("/") else f"/{path}"
    # Any type: the _cat APIs answer in text unless asked for JSON (?format=json), as with curl.
    status, headers, raw = _http(settings, _password(settings, secrets), method.upper(), path, body, accept="*/*")
    return SearchReply(method.upper(), path, status, headers.get("content-type", ""), raw)


def detect(settings: Settings, secrets: Mapping[str, str] | None = None) -> ServerInfo:
    """Which engine and version answers at ``search.url``, asked over plain HTTP before any client is chosen.

    ``GET /`` tells both. Elasticsearch without its ``rest-root`` module (the
    integ-test-zip) has no ``GET /`` but marks every answer with
    ``X-Elastic-Product``; its version then comes from ``GET /_nodes/_local``.
    """
    url = shown_url(settings)
    password = _password(settings, secrets)
    status, headers, body = _http_get(settings, password, "/")
    if status in (401, 403):
        raise _auth_error(settings, status)
    if status == 200 and isinstance(body, Mapping):
        return server_info_from_root(url, body, headers)
    if headers.get("x-elastic-product") == "Elasticsearch" and status in (400, 404, 405):
        node_status, node_headers, nodes = _http_get(settings, password, "/_nodes/_local/none")
        if node_status == 200:
            return server_info_from_nodes(url, nodes, node_headers)
    if status == 200:
        raise SearchError(
            f"search server at {url}: GET / did not return JSON; is this Elasticsearch or OpenSearch?",
            hint="check search.url (host and port)",
        )
    raise SearchError(
        f"search server at {url}: GET / → {status}",
        hint="wait until the server has started ('ticketctl up' waits for it) or check search.url "
        "(host, port, and https:// for a cluster behind TLS)",
    )


def _auth_error(settings: Settings, status: int) -> SearchError:
    url, user = shown_url(settings), settings.search.username
    if user is None and _split_userinfo(settings.search.url)[1] is not None:
        return SearchError(
            f"search server at {url}: GET / → {status}: the cluster refused the user and password of search.url",
            hint="check the user and password in search.url (or use search.username and SEARCH_PASSWORD)",
        )
    if user is None:
        return SearchError(
            f"search server at {url}: GET / → {status}: the cluster requires a user and password",
            hint="set search.username, and SEARCH_PASSWORD in .env or the environment",
        )
    if status == 401:
        return SearchError(
            f"search server at {url}: GET / → 401: the cluster refused the password of user {user!r}",
            hint="check search.username and SEARCH_PASSWORD (in .env or the environment) against the cluster's user",
        )
    return SearchError(
        f"search server at {url}: GET / → 403: user {user!r} may not read the cluster's information",
        hint="give search.username the cluster monitor and index management permissions (or use another user)",
    )


def server_info_from_nodes(url: str, body: Any, headers: Mapping[str, str]) -> ServerInfo:
    """Engine and version from ``GET /_nodes/_local`` of an Elasticsearch without ``GET /``."""
    nodes = body.get("nodes") if isinstance(body, Mapping) else None
    node = next(iter(nodes.values()), None) if isinstance(nodes, Mapping) and nodes else None
    version = node.get("version") if isinstance(node, Mapping) else None
    if headers.get("x-elastic-product") != "Elasticsearch" or not isinstance(version, str):
        raise SearchError(
            f"search server at {url}: neither GET / nor GET /_nodes/_local tell an Elasticsearch version",
            hint="check search.url (host and port)",
        )
    cluster = body.get("cluster_name")
    return ServerInfo(
        url=url,
        engine="elasticsearch",
        version=version,
        cluster_name=str(cluster) if cluster is not None else None,
        detected_by="GET /_nodes/_local (no GET /: the rest-root module is missing)",
    )


def server_info_from_root(url: str, body: Any, headers: Mapping[str, str]) -> ServerInfo:
    """Tell the engine from the body of ``GET /`` (``version.distribution``) and its headers."""
    version = body.get("version") if isinstance(body, Mapping) else None
    number = version.get("number") if isinstance(version, Mapping) else None
    if not isinstance(version, Mapping) or not isinstance(number, str):
        raise SearchError(
            f"search server at {url}: GET / has no version.number; this is not Elasticsearch or OpenSearch",
            hint="check search.url (host and port)",
        )
    cluster = body.get("cluster_name")
    cluster_name = str(cluster) if cluster is not None else None
    if version.get("distribution") == "opensearch":
        return ServerInfo(url=url, engine="opensearch", version=number, cluster_name=cluster_name)
    if headers.get("x-elastic-product") == "Elasticsearch" or body.get("tagline") == "You Know, for Search":
        return ServerInfo(url=url, engine="elasticsearch", version=number, cluster_name=cluster_name)
    raise SearchError(
        f"search server at {url}: GET / answered version {number} but neither as Elasticsearch nor as OpenSearch",
        hint="ticketctl supports Elasticsearch 8/9 and OpenSearch 1-3",
    )


def elasticsearch_client_version() -> str:
    from importlib.metadata import version

    return version("elasticsearch")


def check_supported(info: ServerInfo, *, client_version: str | None = None) -> str | None:
    """Refuse a server the installed client cannot talk to; return a warning for a tolerated one.

    The ``elasticsearch`` client of major N sends ``compatible-with=N``; an
    Elasticsearch server of major N+1 honours that (REST API compatibility spans
    exactly one major), older or newer ones refuse it.
    """
    if info.engine == "opensearch":
        if info.major < 1:
            raise SearchError(f"{info.label} at {info.url}: unknown OpenSearch version", hint="use OpenSearch 1-3")
        return None
    client_version = client_version or elasticsearch_client_version()
    client_major = int(client_version.split(".", 1)[0])
    if info.major == client_major:
        return None
    if info.major == client_major + 1:
        return (
            f"{info.label} is one major newer than the elasticsearch client {client_version}: requests use REST API "
            f"compatibility (compatible-with={client_major}); install elasticsearch>={info.major},<{info.major + 1} "
            "for full support"
        )
    raise SearchError(
        f"{info.label} at {info.url}: the installed elasticsearch client {client_version} supports Elasticsearch "
        f"{client_major} (and {client_major + 1} through REST API compatibility), not {info.major}",
        hint=f"use an Elasticsearch {client_major}.x server (the default image is 8.19.21) or OpenSearch",
    )


def make_client(info: ServerInfo, settings: Settings, secrets: Mapping[str, str] | None) -> Any:
    """The official client for the detected engine, with its own retries off (ticketctl retries)."""
    search = settings.search
    password = _password(settings, secrets)
    auth = (search.username, password) if search.username is not None and password is not None else None
    tls_options: dict[str, Any] = {}
    if search.url.startswith("https://"):
        # ticketctl warns about verify_certs: false itself (unverified_tls_warning), once and in one line.
        tls_options = {"verify_certs": search.verify_certs, "ca_certs": _ca_certs(settings), "ssl_show_warn": False}
    if info.engine == "elasticsearch":
        from elasticsearch import Elasticsearch

        return Elasticsearch(
            search.url,
            basic_auth=auth,
            request_timeout=search.timeout,
            max_retries=0,
            retry_on_timeout=False,
            retry_on_status=(),
            **tls_options,
        )
    from opensearchpy import OpenSearch

    if tls_options:
        tls_options.update(use_ssl=True)
    return OpenSearch(
        hosts=[search.url],
        http_auth=auth,
        timeout=search.timeout,
        pool_maxsize=4,  # urllib3's default of one connection would be torn down under concurrent bulk requests
        max_retries=0,
        retry_on_timeout=False,
        retry_on_status=(),
        **tls_options,
    )


def connect(
    settings: Settings,
    secrets: Secrets | Mapping[str, str] | None = None,
    *,
    dry_run: bool = False,
    info: ServerInfo | None = None,
) -> SearchConnection:
    """Detect the server at ``search.url`` and return a connection through its official client."""
    info = info or detect(settings, secrets)
    warning = check_supported(info)
    connection = SearchConnection(
        info, make_client(info, settings, secrets), timeout=settings.search.timeout, dry_run=dry_run
    )
    for note in (unverified_tls_warning(settings), warning):
        if note:
            connection.warnings.append(note)
    return connection
