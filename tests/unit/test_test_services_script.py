"""scripts/test-services without servers: what `env` prints, recipe hashes, and failure messages."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "test-services"
IMAGES = ("MYSQL", "REDIS", "ELASTICSEARCH", "OPENSEARCH", "APPS")
# A factory of the analysis plugin: @NamedComponent("name") on the line before its class.
NAMED_FACTORY = re.compile(
    r'^@NamedComponent\("([^"]+)"\)\npublic final class (\w+) implements TokenFilterFactory',
    re.M,
)


def run(*args: str, script: Path = SCRIPT, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TICKETCTL_TEST_") and k != "DOCKER_HOST"}
    environment.update(env)
    return subprocess.run(
        ["bash", str(script), *args], capture_output=True, text=True, env=environment, timeout=60, check=False
    )


def exports(output: str) -> dict[str, str]:
    pairs = {}
    for line in output.splitlines():
        match = re.fullmatch(r"export ([A-Z_]+)=(.*)", line)
        assert match, f"not an export line: {line!r}"
        pairs[match[1]] = match[2]
    return pairs


def test_env_prints_the_test_variables_with_their_defaults() -> None:
    result = run("env")
    assert result.returncode == 0, result.stderr
    values = exports(result.stdout)
    kubernetes = {"TICKETCTL_TEST_KUBECONFIG", "TICKETCTL_TEST_KUBECTL"}
    assert {k: v for k, v in values.items() if not k.startswith("TICKETCTL_TEST_IMAGE_") and k not in kubernetes} == {
        "TICKETCTL_TEST_STATE": "/var/tmp/ticketctl-test-services",
        "TICKETCTL_TEST_MYSQL_HOST": "127.0.0.1",
        "TICKETCTL_TEST_MYSQL_PORT": "13306",
        "TICKETCTL_TEST_MYSQL_ROOT_USER": "root",
        "TICKETCTL_TEST_MYSQL_ROOT_PASSWORD": "ticketctl-test-root",
        "TICKETCTL_TEST_REDIS_URL": "redis://127.0.0.1:16379",
        "TICKETCTL_TEST_ELASTICSEARCH_URL": "http://127.0.0.1:19200",
        "TICKETCTL_TEST_OPENSEARCH_URL": "http://127.0.0.1:19201",
        "TICKETCTL_TEST_GO": "/usr/local/go/bin/go",
    }
    assert values["TICKETCTL_TEST_IMAGE_PREFIX"] == "ticketctl-local"
    for name in IMAGES:
        assert re.fullmatch(rf"ticketctl-local/{name.lower()}:[0-9a-f]{{12}}", values[f"TICKETCTL_TEST_IMAGE_{name}"])
    state = "/var/tmp/ticketctl-test-services"
    assert values["TICKETCTL_TEST_KUBECONFIG"] == f"{state}/kubernetes/admin.kubeconfig"
    # The binaries are cached by release and recipe hash, like the images.
    assert re.fullmatch(
        rf"{state}/kubernetes/bin/v1\.34\.[0-9]+-[0-9a-f]{{12}}/kubectl", values["TICKETCTL_TEST_KUBECTL"]
    )


def test_env_follows_port_overrides_and_passes_docker_host() -> None:
    result = run(
        "env",
        TICKETCTL_TEST_MYSQL_PORT="23306",
        TICKETCTL_TEST_REDIS_PORT="26379",
        TICKETCTL_TEST_ELASTICSEARCH_PORT="29200",
        TICKETCTL_TEST_OPENSEARCH_PORT="29201",
        DOCKER_HOST="unix:///run/other docker.sock",
    )
    values = exports(result.stdout)
    assert values["TICKETCTL_TEST_MYSQL_PORT"] == "23306"
    assert values["TICKETCTL_TEST_REDIS_URL"] == "redis://127.0.0.1:26379"
    assert values["TICKETCTL_TEST_ELASTICSEARCH_URL"] == "http://127.0.0.1:29200"
    assert values["TICKETCTL_TEST_OPENSEARCH_URL"] == "http://127.0.0.1:29201"
    assert values["DOCKER_HOST"] == r"unix:///run/other\ docker.sock"  # printf %q, safe to eval


def copy_of_the_script(tmp_path: Path) -> Path:
    """The script with every recipe it hashes, in a folder of the test's own."""
    shutil.copytree(REPO_ROOT / "scripts", tmp_path / "scripts")
    for recipes in ("images", "search-plugin"):
        shutil.copytree(REPO_ROOT / "tests" / recipes, tmp_path / "tests" / recipes)
    return tmp_path / "scripts" / "test-services"


def test_recipe_hash_moves_only_with_that_image_recipe(tmp_path: Path) -> None:
    copy = copy_of_the_script(tmp_path)
    before = exports(run("env", script=copy).stdout)
    assert before == exports(run("env", script=copy).stdout)

    entrypoint = tmp_path / "tests" / "images" / "redis" / "docker-entrypoint.sh"
    entrypoint.write_text(entrypoint.read_text() + "# changed\n")
    after = exports(run("env", script=copy).stdout)
    assert after["TICKETCTL_TEST_IMAGE_REDIS"] != before["TICKETCTL_TEST_IMAGE_REDIS"]
    for name in ("MYSQL", "ELASTICSEARCH", "OPENSEARCH", "APPS"):
        assert after[f"TICKETCTL_TEST_IMAGE_{name}"] == before[f"TICKETCTL_TEST_IMAGE_{name}"]


def test_a_change_to_the_analysis_plugin_moves_the_elasticsearch_image_and_the_plugin_recipe(tmp_path: Path) -> None:
    copy = copy_of_the_script(tmp_path)
    state = {"TICKETCTL_TEST_STATE": str(tmp_path / "state"), "TICKETCTL_TEST_ELASTICSEARCH_PORT": "1"}
    before, status_before = exports(run("env", script=copy).stdout), run("status", script=copy, **state).stdout
    source = tmp_path / "tests" / "search-plugin" / "src" / "ticketctl" / "analysis" / "Options.java"
    source.write_text(source.read_text() + "// changed\n")
    after, status_after = exports(run("env", script=copy).stdout), run("status", script=copy, **state).stdout
    assert after["TICKETCTL_TEST_IMAGE_ELASTICSEARCH"] != before["TICKETCTL_TEST_IMAGE_ELASTICSEARCH"]
    for name in ("MYSQL", "REDIS", "OPENSEARCH", "APPS"):
        assert after[f"TICKETCTL_TEST_IMAGE_{name}"] == before[f"TICKETCTL_TEST_IMAGE_{name}"]

    def plugin_line(status: str) -> list[str]:
        return next(line.split() for line in status.splitlines() if line.startswith("plugin:elasticsearch"))

    assert plugin_line(status_before)[1:3] == plugin_line(status_after)[1:3] == ["DOWN", "ticketctl-analysis"]
    assert re.fullmatch("[0-9a-f]{12}", plugin_line(status_after)[3])
    assert plugin_line(status_after)[3] != plugin_line(status_before)[3]


def test_named_components_list_every_factory_of_the_plugin_source() -> None:
    """named_components.json is what Elasticsearch reads; it must name each @NamedComponent class, and only those."""
    plugin = REPO_ROOT / "tests" / "search-plugin"
    declared = json.loads((plugin / "named_components.json").read_text())
    found: dict[str, str] = {}
    for source in sorted((plugin / "src").rglob("*.java")):
        text = source.read_text()
        match = NAMED_FACTORY.search(text)
        if match:
            package = re.search(r"^package ([\w.]+);", text, re.M)
            assert package, source
            found[match[1]] = f"{package[1]}.{match[2]}"
    assert declared == {"org.elasticsearch.plugin.analysis.TokenFilterFactory": found}
    assert set(found) == {"asciifolding", "word_delimiter_graph"}


def test_plain_elasticsearch_refuses_ports_that_are_not_numbers(tmp_path: Path) -> None:
    result = run("plain-elasticsearch", str(tmp_path), "http", "9300")
    assert result.returncode == 1
    assert result.stderr == "test-services: error: plain-elasticsearch: ports must be numbers\n"


def test_unknown_command_is_one_clear_line_and_usage() -> None:
    result = run("start")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == "test-services: error: unknown command start"
    assert "scripts/test-services up" in result.stderr


def test_status_reports_each_server_down_and_fails(tmp_path: Path) -> None:
    result = run(
        "status",
        TICKETCTL_TEST_STATE=str(tmp_path),
        TICKETCTL_TEST_MYSQL_PORT="1",
        TICKETCTL_TEST_REDIS_PORT="1",
        TICKETCTL_TEST_ELASTICSEARCH_PORT="1",
        TICKETCTL_TEST_OPENSEARCH_PORT="1",
        TICKETCTL_TEST_ETCD_PORT="1",
        TICKETCTL_TEST_KUBE_APISERVER_PORT="1",
        TICKETCTL_TEST_IMAGE_PREFIX="tkt-no-such-prefix",
        DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock",
    )
    assert result.returncode == 1
    states = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()}
    assert states == {
        name: "DOWN"
        for name in (
            "docker",
            "mariadb",
            "redis",
            "elasticsearch",
            "plugin:elasticsearch",
            "opensearch",
            "etcd",
            "kube-apiserver",
            *tuple(f"image:{image.lower()}" for image in IMAGES),
        )
    }
