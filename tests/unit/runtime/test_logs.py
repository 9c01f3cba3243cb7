"""Logs: merged by the Engine's timestamps, followed from the Engine's clock, selected by service."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.support.docker_fake import no_mysql_login
from ticketctl.errors import ConfigError, ExitCode, TicketctlError
from ticketctl.project import up
from ticketctl.runtime.logs import ContainerExited, LogItem, LogLine, logs, parse_time, timestamp_nanos


def _stack(make_settings: Any, runtime: Any, fake_api: Any) -> Any:
    settings = make_settings()
    up(settings, runtime, environ={}, mysql_login=no_mysql_login)
    logs_of = {data["Name"].lstrip("/"): data for data in fake_api.containers_by_id.values()}
    logs_of["unit-mysql-1"]["_logs"] = [
        ("2026-11-24T10:00:01.5Z", "mysql first"),
        ("2026-11-24T10:00:03Z", "mysql third"),
    ]
    logs_of["unit-redis-1"]["_logs"] = [("2026-11-24T10:00:02.000000001Z", "redis second")]
    logs_of["unit-elasticsearch-1"]["_logs"] = [("2026-11-24T11:00:04+01:00", "search fourth")]
    return settings


def test_lines_of_all_services_come_in_the_order_they_were_written(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    settings = _stack(make_settings, runtime, fake_api)
    seen: list[LogItem] = []
    logs(settings, runtime, on_item=seen.append)
    assert [(item.service, item.text) for item in seen if isinstance(item, LogLine)] == [
        ("mysql", "mysql first"),
        ("redis", "redis second"),
        ("mysql", "mysql third"),
        ("elasticsearch", "search fourth"),
    ]


def test_only_the_named_services_and_the_last_lines_of_each(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    settings = _stack(make_settings, runtime, fake_api)
    seen: list[LogItem] = []
    logs(settings, runtime, ["mysql", "redis"], on_item=seen.append, tail=1)
    assert [item.text for item in seen if isinstance(item, LogLine)] == ["redis second", "mysql third"]


def test_an_unknown_service_or_one_without_a_container_is_an_error(
    make_settings: Any, fake_api: Any, runtime: Any
) -> None:
    settings = _stack(make_settings, runtime, fake_api)
    with pytest.raises(ConfigError, match="no service named 'mysq'") as unknown:
        logs(settings, runtime, ["mysq"], on_item=print)
    assert "mysql" in (unknown.value.hint or "")
    with pytest.raises(TicketctlError, match="api-gateway has no container") as missing:
        logs(settings, runtime, ["api-gateway"], on_item=print)
    assert missing.value.exit_code == ExitCode.MISSING and "ticketctl up api-gateway" in (missing.value.hint or "")


def test_follow_delivers_new_lines_once_and_reports_an_exit(make_settings: Any, fake_api: Any, runtime: Any) -> None:
    settings = _stack(make_settings, runtime, fake_api)
    redis = next(d for d in fake_api.containers_by_id.values() if d["Name"] == "/unit-redis-1")
    stop = threading.Event()
    seen: list[LogItem] = []

    def on_item(item: LogItem) -> None:
        seen.append(item)
        if isinstance(item, LogLine) and item.text == "redis second":  # the history is done: write, then stop
            redis["_logs"].append(("2026-11-24T10:00:05Z", "redis after the clock"))
            redis["State"].update(Status="exited", ExitCode=137, Running=False)
        if isinstance(item, ContainerExited):
            stop.set()

    logs(settings, runtime, ["redis"], on_item=on_item, follow=True, stop=stop)
    assert [(type(item).__name__, getattr(item, "text", None)) for item in seen] == [
        ("LogLine", "redis second"),
        ("LogLine", "redis after the clock"),
        ("ContainerExited", None),
    ]
    exited = seen[-1]
    assert isinstance(exited, ContainerExited) and exited.exit_code == 137


def test_timestamps_of_the_engine_in_any_zone_and_precision() -> None:
    assert timestamp_nanos("2026-11-24T10:00:00Z") == 1795514400 * 10**9
    assert timestamp_nanos("2026-11-24T10:00:00.5Z") == 1795514400 * 10**9 + 500_000_000
    assert timestamp_nanos("2026-11-24T11:00:00.000000001+01:00") == 1795514400 * 10**9 + 1
    with pytest.raises(ValueError):
        timestamp_nanos("yesterday")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10m", 1_000_000.0 - 600),
        ("1h30m", 1_000_000.0 - 5400),
        ("1700000000", 1.7e9),
        ("2026-11-24T10:00:00Z", 1795514400),
    ],
)
def test_since_and_until_accept_durations_times_and_unix_seconds(text: str, seconds: float) -> None:
    assert parse_time(text, now=1_000_000.0) == seconds


def test_a_time_that_is_none_of_them_is_refused_with_the_forms_it_takes() -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_time("last tuesday")
