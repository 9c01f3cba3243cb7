"""Each test server of ``scripts/test-services`` is the real thing, and the fixtures clean up after themselves."""

from __future__ import annotations

import json
import secrets
import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.kube_cluster import pod_security_labels

if TYPE_CHECKING:
    from tests.support.kube_cluster import KubeCluster, KubeNamespace
    from tests.support.servers import MySQLScratch, MySQLServer, RedisScratch, SearchScratch, SearchServer

# ---------------------------------------------------------------- MariaDB


def test_mariadb_reports_its_version(mysql_server: MySQLServer) -> None:
    with mysql_server.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT VERSION(), @@character_set_server, @@collation_server")
        version, charset, collation = cursor.fetchone()
    assert "MariaDB" in version
    assert version.startswith("10.11."), version
    assert (charset, collation) == ("utf8mb4", "utf8mb4_unicode_ci")


def test_mariadb_round_trip_in_a_scratch_database(mysql_server: MySQLServer, mysql_scratch: MySQLScratch) -> None:
    database = mysql_scratch.database()
    with mysql_server.connect(database=database) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE seats (id INT PRIMARY KEY, label VARCHAR(20) NOT NULL) ENGINE=InnoDB")
        cursor.executemany("INSERT INTO seats VALUES (%s, %s)", [(1, "A-1"), (2, "São-2")])
        cursor.execute("SELECT id, label FROM seats ORDER BY id")
        assert cursor.fetchall() == ((1, "A-1"), (2, "São-2"))


def test_mariadb_scratch_user_sees_only_its_database(mysql_server: MySQLServer, mysql_scratch: MySQLScratch) -> None:
    import pymysql

    own, other = mysql_scratch.database(), mysql_scratch.database()
    user, password = mysql_scratch.user(grant_database=own)
    with mysql_server.connect(user=user, password=password, database=own) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT CURRENT_USER()")
        assert cursor.fetchone() == (f"{user}@%",)
    with pytest.raises(pymysql.err.OperationalError) as refused:
        mysql_server.connect(user=user, password=password, database=other)
    assert refused.value.args[0] == 1044  # ER_DBACCESS_DENIED_ERROR


def test_mariadb_scratch_drops_what_it_made(mysql_server: MySQLServer, mysql_scratch: MySQLScratch) -> None:
    database = mysql_scratch.database()
    user, _ = mysql_scratch.user(grant_database=database)
    mysql_scratch.cleanup()
    with mysql_server.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (database,))
        assert cursor.fetchone() == (0,)
        cursor.execute("SELECT COUNT(*) FROM mysql.user WHERE User = %s", (user,))
        assert cursor.fetchone() == (0,)


# ---------------------------------------------------------------- Redis


def test_redis_reports_its_version(redis_scratch: RedisScratch) -> None:
    client = redis_scratch.client()
    server = client.info("server")
    assert server["redis_version"].startswith("7."), server["redis_version"]
    assert server["tcp_port"] == int(redis_scratch.server_url.rsplit(":", 1)[1])


def test_redis_set_nx_px_is_a_lock(redis_scratch: RedisScratch) -> None:
    client = redis_scratch.client()
    key = redis_scratch.key("seat:A-1")
    assert client.set(key, "holder-1", nx=True, px=5000) is True
    assert client.set(key, "holder-2", nx=True, px=5000) is None
    assert client.get(key) == "holder-1"
    assert 0 < client.pttl(key) <= 5000
    short = redis_scratch.key("seat:A-2")
    assert client.set(short, "holder-1", nx=True, px=100) is True
    time.sleep(0.3)
    assert client.get(short) is None


def test_redis_scratch_deletes_only_its_prefix(redis_scratch: RedisScratch) -> None:
    client = redis_scratch.client()
    theirs = f"tkt_other_{secrets.token_hex(5)}:a"
    client.set(redis_scratch.key("a"), "1")
    client.set(redis_scratch.key("b"), "2")
    client.set(theirs, "3")
    try:
        assert redis_scratch.cleanup() == 2
        assert client.exists(redis_scratch.key("a"), redis_scratch.key("b")) == 0
        assert client.get(theirs) == "3"
    finally:
        client.delete(theirs)


# ---------------------------------------------------------------- Elasticsearch


def test_elasticsearch_is_8_19(elasticsearch_server: SearchServer) -> None:
    # The integ-test-zip lacks the rest-root module, so `GET /` is not there;
    # the node's own report carries the version.
    result = elasticsearch_server.request("GET", "/_nodes/_local?filter_path=nodes.*.version,nodes.*.build_type")
    assert result.status == 200
    assert result.headers.get("x-elastic-product") == "Elasticsearch"
    (node,) = result.body["nodes"].values()
    assert node["version"].startswith("8.19."), node


def test_elasticsearch_document_round_trip(elasticsearch_scratch: SearchScratch) -> None:
    server, index = elasticsearch_scratch.server, elasticsearch_scratch.index("events")
    server.ok(
        "PUT", f"/{index}", {"mappings": {"properties": {"title": {"type": "text"}, "city": {"type": "keyword"}}}}
    )
    server.ok("PUT", f"/{index}/_doc/1?refresh=true", {"title": "Rock in Rio", "city": "Rio"})
    server.ok("PUT", f"/{index}/_doc/2?refresh=true", {"title": "Jazz night", "city": "Lisboa"})
    assert server.ok("GET", f"/{index}/_doc/1")["_source"] == {"title": "Rock in Rio", "city": "Rio"}
    hits = server.ok("POST", f"/{index}/_search", {"query": {"match": {"title": "rock"}}})["hits"]
    assert [hit["_id"] for hit in hits["hits"]] == ["1"]


def test_elasticsearch_python_client_talks_to_it(elasticsearch_scratch: SearchScratch) -> None:
    from elasticsearch import Elasticsearch

    client = Elasticsearch(elasticsearch_scratch.server.url, request_timeout=30)
    index = elasticsearch_scratch.index("client")
    client.index(index=index, id="7", document={"name": "Arena"}, refresh=True)
    assert client.get(index=index, id="7")["_source"] == {"name": "Arena"}
    assert client.count(index=index)["count"] == 1


def test_search_scratch_deletes_its_indices(elasticsearch_scratch: SearchScratch) -> None:
    server, scratch = elasticsearch_scratch.server, elasticsearch_scratch
    server.ok("PUT", f"/{scratch.index('a')}", {"aliases": {scratch.index("alias"): {}}})
    server.ok("PUT", f"/{scratch.index('b')}")
    server.ok("PUT", f"/_index_template/{scratch.index('template')}", {"index_patterns": [scratch.index("t-*")]})
    scratch.cleanup()
    assert server.ok("GET", f"/_cat/indices/{scratch.prefix}*?format=json&expand_wildcards=all") == []
    assert server.request("GET", f"/_alias/{scratch.index('alias')}").status == 404
    assert server.request("GET", f"/_index_template/{scratch.index('template')}").status == 404


# ---------------------------------------------------------------- OpenSearch


def test_opensearch_is_opensearch_3(opensearch_server: SearchServer) -> None:
    version = opensearch_server.ok("GET", "/")["version"]
    assert version["distribution"] == "opensearch"
    assert version["number"].startswith("3."), version


def test_opensearch_has_the_modules_of_the_index_lifecycle(opensearch_server: SearchServer) -> None:
    body = opensearch_server.ok("GET", "/_nodes/_local/plugins?filter_path=nodes.*.modules.name")
    (node,) = body["nodes"].values()
    modules = {module["name"] for module in node["modules"]}
    assert {"analysis-common", "lang-painless", "reindex", "transport-netty4"} <= modules


def test_opensearch_asciifolding(opensearch_server: SearchServer) -> None:
    analysis = opensearch_server.ok(
        "POST",
        "/_analyze",
        {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"], "text": "São Paulo"},
    )
    assert [token["token"] for token in analysis["tokens"]] == ["sao", "paulo"]


def test_opensearch_reindex_with_painless(opensearch_scratch: SearchScratch) -> None:
    server = opensearch_scratch.server
    source, dest = opensearch_scratch.index("v1"), opensearch_scratch.index("v2")
    server.ok("PUT", f"/{source}/_doc/1?refresh=true", {"title": "Show", "price": 10})
    server.ok("PUT", f"/{source}/_doc/2?refresh=true", {"title": "Concert", "price": 25})
    result = server.ok(
        "POST",
        "/_reindex?refresh=true",
        {
            "source": {"index": source},
            "dest": {"index": dest},
            "script": {"lang": "painless", "source": "ctx._source.price_cents = ctx._source.price * 100"},
        },
    )
    assert (result["created"], result["failures"]) == (2, [])
    assert server.ok("GET", f"/{dest}/_doc/2")["_source"] == {"title": "Concert", "price": 25, "price_cents": 2500}


def test_opensearch_python_client_talks_to_it(opensearch_scratch: SearchScratch) -> None:
    from opensearchpy import OpenSearch

    client: Any = OpenSearch(opensearch_scratch.server.url, timeout=30)
    index = opensearch_scratch.index("client")
    client.index(index=index, id="7", body={"name": "Arena"}, refresh=True)
    assert client.get(index=index, id="7")["_source"] == {"name": "Arena"}
    assert client.info()["version"]["distribution"] == "opensearch"


# ---------------------------------------------------------------- Kubernetes API server


def test_kube_apiserver_is_the_release_it_was_built_from(kube_cluster: KubeCluster) -> None:
    versions = json.loads(kube_cluster.kubectl("version", "-o", "json").stdout)
    assert versions["serverVersion"]["gitVersion"] == versions["clientVersion"]["gitVersion"]
    assert versions["serverVersion"]["gitVersion"].startswith("v1.34.")


def test_kube_apiserver_enforces_pod_security(kube_cluster: KubeCluster) -> None:
    """A namespace labelled restricted refuses a root pod; the server-side checks rely on this."""
    namespace = kube_cluster.create_namespace(pod_security_labels("restricted"))
    try:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "root"},
            "spec": {"containers": [{"name": "c", "image": "registry.example/busybox:1", "command": ["true"]}]},
        }
        result = namespace.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
        assert result.returncode != 0
        assert 'forbidden: violates PodSecurity "restricted:latest"' in result.stderr
        assert "runAsNonRoot != true" in result.stderr
    finally:
        namespace.delete()


def test_kube_namespace_is_removed_after_the_test(kube_cluster: KubeCluster, kube_namespace: KubeNamespace) -> None:
    kube_namespace.kubectl("create", "configmap", "probe", "--from-literal=a=b")
    assert kube_namespace.kubectl("get", "configmap", "probe", "-o", "name").stdout.strip() == "configmap/probe"
    kube_namespace.delete()
    gone = kube_cluster.kubectl("get", "namespace", kube_namespace.name, check=False)
    assert gone.returncode == 1
    assert "NotFound" in gone.stderr
