"""Engine detection, client/server version support, retries with backoff, dry-run recording, error lines."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from ticketctl.clients.search import (
    Request,
    SearchConnection,
    SearchRequestError,
    ServerInfo,
    check_supported,
    detect,
    parse_error_body,
    server_info_from_root,
    unverified_tls_warning,
)
from ticketctl.config.settings import Settings, load_settings
from ticketctl.errors import ConfigError, SearchError

pytestmark = pytest.mark.unit

OPENSEARCH_ROOT = {
    "name": "os-test",
    "cluster_name": "ticketctl-test-os",
    "version": {"distribution": "opensearch", "number": "3.6.0", "build_type": "zip"},
    "tagline": "The OpenSearch Project: https://opensearch.org/",
}
ELASTICSEARCH_ROOT = {
    "name": "es",
    "cluster_name": "docker-cluster",
    "version": {"number": "8.19.21", "build_flavor": "default"},
    "tagline": "You Know, for Search",
}


def settings_for(url: str, **extra: tuple[Any, str]) -> Settings:
    return load_settings(None, environ={}, overrides={"search.url": (url, "--url"), **extra})


# --------------------------------------------------------------------------- detection over HTTP


class _Stub(BaseHTTPRequestHandler):
    """Answers GET like the servers measured here; the route table is set per test."""

    routes: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        _Stub.seen.append((self.path, self.headers.get("Authorization")))
        status, headers, body = _Stub.routes.get(self.path, (404, {}, b'{"error":"not found"}'))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    _Stub.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def route(path: str, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    _Stub.routes[path] = (status, {"Content-Type": "application/json", **(headers or {})}, raw)


def test_detect_opensearch_from_get_root(stub: str) -> None:
    _Stub.routes = {}
    route("/", 200, OPENSEARCH_ROOT)
    info = detect(settings_for(stub))
    assert (info.engine, info.version, info.major, info.cluster_name) == ("opensearch", "3.6.0", 3, "ticketctl-test-os")
    assert info.label == "OpenSearch 3.6.0"


def test_detect_elasticsearch_without_rest_root_from_nodes(stub: str) -> None:
    """The 8.19.21 integ-test-zip answers GET / with 405 but marks it X-Elastic-Product."""
    _Stub.routes = {}
    es = {"X-elastic-product": "Elasticsearch"}
    route("/", 405, {"error": "Incorrect HTTP method for uri [/] and method [GET], allowed: [DELETE]"}, es)
    route("/_nodes/_local/none", 200, {"cluster_name": "ticketctl-test", "nodes": {"x": {"version": "8.19.21"}}}, es)
    info = detect(settings_for(stub))
    assert (info.engine, info.version) == ("elasticsearch", "8.19.21")
    assert "rest-root" in info.detected_by


def test_detect_sends_basic_auth_with_search_password(stub: str) -> None:
    _Stub.routes = {}
    route("/", 200, ELASTICSEARCH_ROOT, {"X-elastic-product": "Elasticsearch"})
    settings = settings_for(stub, **{"search.username": ("elastic", "--user")})
    assert detect(settings, {"SEARCH_PASSWORD": "s3cret-password"}).engine == "elasticsearch"
    assert _Stub.seen[-1][1] == "Basic ZWxhc3RpYzpzM2NyZXQtcGFzc3dvcmQ="


def test_detect_sends_the_user_and_password_of_the_url_as_basic_auth(stub: str) -> None:
    """``http://user:password@host`` works as with the official clients; every message shows ``***``."""
    _Stub.routes = {}
    route("/", 200, OPENSEARCH_ROOT)
    with_userinfo = stub.replace("http://", "http://elastic:p%40ss-url-9911@")
    info = detect(settings_for(with_userinfo))
    assert _Stub.seen[-1] == ("/", "Basic " + base64.b64encode(b"elastic:p@ss-url-9911").decode())
    assert info.url == stub.replace("http://", "http://elastic:***@")


def test_detect_401_with_the_user_of_the_url_names_search_url_and_not_the_password(stub: str) -> None:
    _Stub.routes = {}
    route("/", 401, {"error": "security_exception"})
    with pytest.raises(SearchError) as caught:
        detect(settings_for(stub.replace("http://", "http://elastic:wrong-url-pw-77@")))
    shown = stub.replace("http://", "http://elastic:***@")
    assert caught.value.message == (
        f"search server at {shown}: GET / → 401: the cluster refused the user and password of search.url"
    )


def test_detect_refuses_a_username_without_password(stub: str) -> None:
    settings = settings_for(stub, **{"search.username": ("elastic", "--user")})
    with pytest.raises(ConfigError, match="SEARCH_PASSWORD is not"):
        detect(settings, {})


def test_detect_401_says_how_to_authenticate(stub: str) -> None:
    _Stub.routes = {}
    route("/", 401, {"error": "security_exception"})
    with pytest.raises(SearchError, match=r"GET / → 401") as caught:
        detect(settings_for(stub))
    assert caught.value.hint is not None and "SEARCH_PASSWORD" in caught.value.hint


def test_detect_401_with_a_user_names_the_user_and_both_settings(stub: str) -> None:
    _Stub.routes = {}
    route("/", 401, {"error": "security_exception"})
    settings = settings_for(stub, **{"search.username": ("ticketctl", "--user")})
    with pytest.raises(SearchError) as caught:
        detect(settings, {"SEARCH_PASSWORD": "wrong-password-123"})
    assert (
        caught.value.message
        == f"search server at {stub}: GET / → 401: the cluster refused the password of user 'ticketctl'"
    )
    assert "search.username and SEARCH_PASSWORD" in (caught.value.hint or "")
    assert "wrong-password-123" not in caught.value.message + (caught.value.hint or "")


def test_an_unreadable_ca_bundle_names_search_ca_certs() -> None:
    settings = settings_for("https://search.example:9200", **{"search.ca_certs": ("/nonexistent/ca.pem", "--ca")})
    with pytest.raises(ConfigError) as caught:
        detect(settings)
    assert caught.value.message == "--ca: search.ca_certs: cannot read /nonexistent/ca.pem: No such file or directory"


@pytest.mark.parametrize(
    ("url", "verify", "warned"),
    [
        ("https://search.example:9200", "false", True),
        ("https://search.example:9200", "true", False),
        ("http://127.0.0.1:9200", "false", False),
    ],
)
def test_unverified_tls_is_warned_about(url: str, verify: str, warned: bool) -> None:
    settings = settings_for(url, **{"search.verify_certs": (verify, "--verify")})
    warning = unverified_tls_warning(settings)
    assert (warning is not None) == warned
    assert warning is None or warning.startswith(f"search.verify_certs is false: the TLS certificate of {url}")


def test_detect_refuses_something_else(stub: str) -> None:
    _Stub.routes = {}
    route("/", 200, b"<html>hello</html>")
    with pytest.raises(SearchError, match="did not return JSON"):
        detect(settings_for(stub))


def test_detect_names_an_unreachable_server_and_the_setting_source() -> None:
    with pytest.raises(SearchError) as caught:
        detect(settings_for("http://127.0.0.1:1"))
    assert caught.value.message == "search server at http://127.0.0.1:1 (--url) is unreachable: connection refused"
    assert caught.value.hint is not None and "ticketctl up" in caught.value.hint


def test_root_bodies_tell_the_engine() -> None:
    assert server_info_from_root("u", ELASTICSEARCH_ROOT, {}).engine == "elasticsearch"
    assert server_info_from_root("u", OPENSEARCH_ROOT, {}).engine == "opensearch"
    with pytest.raises(SearchError, match="neither as Elasticsearch nor as OpenSearch"):
        server_info_from_root("u", {"version": {"number": "1.0"}}, {})
    with pytest.raises(SearchError, match=r"no version\.number"):
        server_info_from_root("u", {"hello": "world"}, {})


# --------------------------------------------------------------------------- client support


def es(version: str) -> ServerInfo:
    return ServerInfo(url="http://x", engine="elasticsearch", version=version)


def test_elasticsearch_of_the_client_major_is_supported() -> None:
    assert check_supported(es("8.19.21"), client_version="8.19.3") is None


def test_elasticsearch_one_major_newer_works_through_rest_compatibility_with_a_warning() -> None:
    warning = check_supported(es("9.2.0"), client_version="8.19.3")
    assert warning is not None and "compatible-with=8" in warning and "elasticsearch>=9,<10" in warning


@pytest.mark.parametrize("version", ["7.17.25", "10.0.0"])
def test_other_elasticsearch_majors_are_refused(version: str) -> None:
    with pytest.raises(SearchError, match=f"supports Elasticsearch 8 .*not {version.split('.')[0]}"):
        check_supported(es(version), client_version="8.19.3")


def test_opensearch_needs_no_elasticsearch_client() -> None:
    assert check_supported(ServerInfo(url="u", engine="opensearch", version="3.6.0"), client_version="1.0.0") is None


# --------------------------------------------------------------------------- send: retries, dry run, errors


class FakeTransport:
    """Stands in for opensearch-py's transport to script failures; no server is faked for integration."""

    def __init__(self, outcomes: list[Any]):
        self.outcomes = outcomes
        self.calls: list[tuple[str, str]] = []

    def perform_request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.calls.append((method, url))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class FakeClient:
    def __init__(self, outcomes: list[Any]):
        self.transport = FakeTransport(outcomes)


def os_error(status: int, error_type: str, reason: str) -> Exception:
    from opensearchpy import TransportError

    body = {"error": {"root_cause": [{"type": error_type, "reason": reason}], "type": error_type}, "status": status}
    return TransportError(status, error_type, body)


def connection(outcomes: list[Any], *, dry_run: bool = False) -> tuple[SearchConnection, list[float], FakeClient]:
    sleeps: list[float] = []
    client = FakeClient(outcomes)
    info = ServerInfo(url="http://127.0.0.1:19201", engine="opensearch", version="3.6.0")
    conn = SearchConnection(info, client, timeout=5, dry_run=dry_run, sleep=sleeps.append)
    return conn, sleeps, client


def test_429_and_503_are_retried_with_growing_delays() -> None:
    conn, sleeps, client = connection(
        [os_error(429, "es_rejected_execution_exception", "queue full"), os_error(503, "unavailable", "x"), {"ok": 1}]
    )
    assert conn.send(Request("GET", "/_cluster/health")) == {"ok": 1}
    assert len(client.transport.calls) == 3
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] < 0.56 and 1.0 <= sleeps[1] < 1.11


def test_retries_stop_after_the_last_delay_with_a_one_line_error() -> None:
    conn, sleeps, _ = connection([os_error(503, "unavailable_shards_exception", "primary shard is not active")] * 5)
    with pytest.raises(SearchRequestError) as caught:
        conn.send(Request("PUT", "/events_v1", body={}))
    assert len(sleeps) == 4
    assert caught.value.message == (
        "OpenSearch 3.6.0 at http://127.0.0.1:19201: PUT /events_v1 → 503 unavailable_shards_exception: "
        "primary shard is not active"
    )
    assert caught.value.status == 503 and caught.value.error_type == "unavailable_shards_exception"
    assert "\n" not in caught.value.message


def test_a_health_wait_that_runs_out_is_an_answer_not_an_error() -> None:
    """OpenSearch and Elasticsearch answer 408 with the health body when wait_for_status is not reached in time."""
    from opensearchpy import TransportError

    body = {"cluster_name": "c", "status": "red", "timed_out": True, "unassigned_shards": 1}
    conn, sleeps, client = connection([TransportError(408, "request timeout", body)])
    assert conn.health(wait_for_status="yellow", timeout=1) == body
    assert (sleeps, len(client.transport.calls)) == ([], 1)
    other, _, _ = connection([TransportError(408, "request timeout", {"error": "no health body"})])
    with pytest.raises(SearchRequestError):
        other.health(wait_for_status="yellow", timeout=1)


def test_a_400_is_not_retried() -> None:
    conn, sleeps, client = connection([os_error(400, "illegal_argument_exception", "bad"), {"never": "reached"}])
    with pytest.raises(SearchRequestError, match="400 illegal_argument_exception: bad"):
        conn.send(Request("PUT", "/events_v1", body={}))
    assert sleeps == [] and len(client.transport.calls) == 1


def test_a_non_idempotent_request_is_retried_on_429_only() -> None:
    start = Request("POST", "/_reindex", body={}, idempotent=False)
    conn, sleeps, _ = connection([os_error(503, "unavailable", "x")])
    with pytest.raises(SearchRequestError):
        conn.send(start)
    assert sleeps == []
    conn, sleeps, _ = connection([os_error(429, "rejected", "x"), {"task": "n:1"}])
    assert conn.send(start) == {"task": "n:1"}
    assert len(sleeps) == 1


def test_dry_run_sends_reads_and_records_writes_without_sending_them() -> None:
    conn, _, client = connection([{"status": "green"}], dry_run=True)
    assert conn.send(Request("GET", "/_cluster/health")) == {"status": "green"}
    assert conn.send(Request("PUT", "/events_v1", body={"settings": {}})) is None
    assert conn.send(Request("POST", "/_aliases", body={"actions": []})) is None
    assert client.transport.calls == [("GET", "/_cluster/health")]
    assert [request.describe() for request in conn.planned_writes()] == ["PUT /events_v1", "POST /_aliases"]
    assert [record.sent for record in conn.sent] == [True, False, False]


def test_a_post_marked_read_only_is_sent_in_dry_run() -> None:
    conn, _, client = connection([{"count": 3}], dry_run=True)
    assert conn.send(Request("POST", "/events/_count", write=False)) == {"count": 3}
    assert client.transport.calls == [("POST", "/events/_count")]


def test_request_target_and_dict() -> None:
    request = Request("PUT", "/events_v2", {"wait_for_active_shards": "1"}, {"a": 1})
    assert request.target == "/events_v2?wait_for_active_shards=1"
    assert request.as_dict() == {"method": "PUT", "path": "/events_v2?wait_for_active_shards=1", "body": {"a": 1}}
    assert request.is_write and not Request("GET", "/").is_write


def test_parse_error_body_prefers_the_root_cause() -> None:
    body = {"error": {"root_cause": [{"type": "a", "reason": "root"}], "type": "b", "reason": "outer"}}
    assert parse_error_body(body) == ("a", "root")
    assert parse_error_body({"error": "Incorrect HTTP method", "status": 405}) == (None, "Incorrect HTTP method")
    assert parse_error_body("text") == (None, None)
