"""The packaged mapping on an Elasticsearch that lacks ``asciifolding``: one line naming the module.

The shared Elasticsearch runs with ticketctl's analysis plugin, so this test
starts a private node of its own from the plain integ-test-zip
(``scripts/test-services plain-elasticsearch``), which has no analysis-common
module and no plugin: the error a user of such a build gets is the server's
real answer, not a simulation. The node lives for this module only.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.search_targets import SearchTarget, new_alias, server_url
from ticketctl.cli.main import run
from ticketctl.errors import ExitCode, SearchError
from ticketctl.search import create_index

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "test-services"
START_SECONDS = 180


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health?wait_for_status=yellow&timeout=1s", timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def plain_elasticsearch_url() -> Iterator[str]:
    server_url("TICKETCTL_TEST_ELASTICSEARCH_URL")  # the zip is unpacked by `scripts/test-services up`
    directory = Path(tempfile.mkdtemp(prefix="tkt-plain-es-"))
    directory.chmod(0o755)
    port, transport = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    log = directory / "console.log"
    with log.open("wb") as output:
        node = subprocess.Popen(
            [str(SCRIPT), "plain-elasticsearch", str(directory / "node"), str(port), str(transport)],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the launcher, runuser and both JVMs stop together
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _answers(url):
            if node.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace").splitlines()[-20:]
                pytest.fail(f"the plain Elasticsearch node did not start on {url}:\n" + "\n".join(tail))
            time.sleep(0.5)
        yield url
    finally:
        if node.poll() is None:
            os.killpg(node.pid, signal.SIGTERM)
            try:
                node.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, signal.SIGKILL)
                node.wait(10)
        shutil.rmtree(directory, ignore_errors=True)


def test_the_packaged_mapping_fails_in_one_line_naming_the_module(
    plain_elasticsearch_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = SearchTarget(url=plain_elasticsearch_url, alias=new_alias(), tmp_path=tmp_path)
    plugins = target.http("GET", "/_nodes/plugins?filter_path=nodes.*.plugins.name,nodes.*.modules.name")
    (node,) = plugins["nodes"].values()
    assert node.get("plugins", []) == []
    assert "analysis-common" not in {module["name"] for module in node["modules"]}

    with pytest.raises(SearchError) as caught:
        create_index(target.settings(), {})
    assert caught.value.message == (
        f"{target.label} at {target.url} lacks the token filter 'asciifolding' of the analysis-common module, "
        "used by analyzer 'event_name_analyzer' (mappings/events.json:5)"
    )
    assert target.index_names() == []

    with pytest.raises(SystemExit) as exited:
        run(["index", "validate", "--url", target.url, "--index", target.alias])
    assert exited.value.code == ExitCode.SEARCH
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: {caught.value.message} — use a full distribution (the official Docker image ships analysis-common) "
        "or install the analysis-common module; minimal builds such as Elasticsearch's integ-test-zip leave it out"
    ]
    assert target.index_names() == []
