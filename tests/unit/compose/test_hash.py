"""Compose's config hash, computed by ticketctl, against what the real Compose v2 binary prints."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.compose_schema import docker_compose_binary
from tests.support.servers import server_missing
from ticketctl.compose.file import load_compose_file
from ticketctl.compose.hash import COMPOSE_VERSION, go_json
from ticketctl.compose.syntax import go_duration, parse_duration
from ticketctl.config.secrets import STACK_SECRETS
from ticketctl.config.settings import load_settings
from ticketctl.render.compose import render_stack

FIXED_SECRETS = {spec.name: f"fixed-{spec.name.lower().replace('_', '-')}" for spec in STACK_SECRETS}

# Every short and long syntax the loader accepts, in the shapes compose-go normalises differently.
VARIANTS = """\
name: variants
services:
  short:
    image: busybox:1.37
    command: sh -c 'echo "a <b> & c"; sleep 1'
    environment: [PLAIN=1, EMPTY=, BARE]
    labels: [one=1, two]
    ports: ["8080:80", "127.0.0.1:8443:443/udp"]
    volumes: ["data:/data:ro", "logs:/var/log/"]
    configs: [init]
    healthcheck:
      test: wget -q -O- http://localhost/ || exit 1
      interval: 1m30s
      timeout: 1500ms
      start_period: 1h
    ulimits: {nofile: 1024, nproc: {soft: 10, hard: 20}}
    user: "65534:65534"
    stop_grace_period: 90s
    restart: on-failure:3
  long:
    image: busybox:1.37
    profiles: [extra]
    depends_on: {short: {condition: service_healthy}}
    environment: {NUMBER: 3, FLAG: true, "ÜNICODE": "ü\\u2028"}
    ports: [{target: 80, published: 9090, host_ip: 127.0.0.1}]
    volumes: [{type: volume, source: data, target: /srv, read_only: true}]
    configs: [{source: init, target: /etc/init.sh, mode: 0444}]
    networks: [back]
    healthcheck: {test: [CMD, "true"], retries: 2, start_interval: 250ms, start_period: 5s}
volumes: {data: {}, logs: {}}
networks: {back: {}}
configs: {init: {file: ./init.sh}}
"""


def _compose_hashes(binary: str, folder: Path, *args: str) -> dict[str, str]:
    result = subprocess.run(
        [binary, *args, "config", "--hash", "*"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(folder)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return dict(line.split(" ", 1) for line in result.stdout.splitlines() if line.strip())


def _binary() -> str:
    binary = docker_compose_binary()
    if binary is None:
        server_missing("Docker Compose v2", "the docker-compose binary of the compose-go package is not in this venv")
    version = subprocess.run([binary, "version", "--short"], capture_output=True, text=True, check=True).stdout
    assert version.strip().lstrip("v") == COMPOSE_VERSION, "the hash is pinned to this Compose version"
    return binary


@pytest.mark.parametrize("config", ["", "search:\n  engine: opensearch\nprofiles: [apps]\n"])
def test_the_rendered_stack_has_the_hashes_compose_computes(tmp_path: Path, config: str) -> None:
    binary = _binary()
    (tmp_path / "ticketctl.yaml").write_text(config)
    settings = load_settings(None, environ={}, cwd=tmp_path)
    for rendered in render_stack(settings, FIXED_SECRETS):
        path = tmp_path / rendered.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered.content)
    ours = load_compose_file(tmp_path / "docker-compose.yml", environ={}).compose_hashes
    assert dict(ours) == _compose_hashes(binary, tmp_path, "--profile", "apps")
    assert len(ours) == 12


def test_every_syntax_the_loader_accepts_hashes_as_compose_does(tmp_path: Path) -> None:
    binary = _binary()
    (tmp_path / "docker-compose.yml").write_text(VARIANTS, encoding="utf-8")
    (tmp_path / "init.sh").write_text("#!/bin/sh\n")
    ours = load_compose_file(tmp_path / "docker-compose.yml", environ={}).compose_hashes
    assert dict(ours) == _compose_hashes(binary, tmp_path, "--profile", "extra")


def test_a_changed_value_changes_the_hash(tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    (tmp_path / "init.sh").write_text("#!/bin/sh\n")
    path.write_text(VARIANTS, encoding="utf-8")
    before = load_compose_file(path, environ={}).compose_hashes
    path.write_text(VARIANTS.replace("retries: 2", "retries: 3"), encoding="utf-8")
    after = load_compose_file(path, environ={}).compose_hashes
    assert before["short"] == after["short"] and before["long"] != after["long"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (1, "1s"),
        (60, "1m0s"),
        (90, "1m30s"),
        (3600, "1h0m0s"),
        (1.5, "1.5s"),
        (0.25, "250ms"),
        (5e-6, "5µs"),
    ],
)
def test_durations_are_written_as_go_writes_them(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


def test_strings_are_escaped_as_go_escapes_them() -> None:
    assert go_json({"b": ["<a> & 'c'", '\u2028\x01é"\\\n'], "a": None}) == (
        '{"b":["\\u003ca\\u003e \\u0026 \'c\'","\\u2028\\u0001é\\"\\\\\\n"],"a":null}'
    )
