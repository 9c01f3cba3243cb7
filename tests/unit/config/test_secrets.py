"""The secrets the stack needs follow the settings: one application password per database."""

from __future__ import annotations

from pathlib import Path

from ticketctl.config.secrets import STACK_SECRETS
from ticketctl.config.settings import DATABASE_KEYS, load_settings


def test_every_database_of_the_settings_has_its_password_secret(tmp_path: Path) -> None:
    settings = load_settings(None, environ={}, cwd=tmp_path)
    names = [spec.name for spec in STACK_SECRETS]
    assert [database.key for database in settings.mysql.databases] == list(DATABASE_KEYS)
    assert [database.password_env for database in settings.mysql.databases] == [
        "EVENTS_DB_PASSWORD",
        "INVENTORY_DB_PASSWORD",
        "BOOKINGS_DB_PASSWORD",
    ]
    for database in settings.mysql.databases:
        assert database.password_env in names
