"""Helpers of the migration integration tests: the test server and one test's databases and users."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql

from ticketctl.config.resources import schemas_dir
from ticketctl.config.secrets import Secrets
from ticketctl.config.settings import Settings, load_settings

SERVER_VARIABLES = (
    "TICKETCTL_TEST_MYSQL_HOST",
    "TICKETCTL_TEST_MYSQL_PORT",
    "TICKETCTL_TEST_MYSQL_ROOT_USER",
    "TICKETCTL_TEST_MYSQL_ROOT_PASSWORD",
)
KEYS = ("events", "inventory", "bookings")
PREFIX = "tctm_"  # ticketctl migrate tests: every database and user these tests create starts so


@dataclass(frozen=True)
class MySQLServer:
    host: str
    port: int
    root_user: str
    root_password: str

    def connect(self, database: str | None = None, **kwargs: Any) -> pymysql.connections.Connection[Any]:
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.root_user,
            password=self.root_password,
            database=database,
            autocommit=True,
            charset="utf8mb4",
            **kwargs,
        )

    def execute(self, sql: str, args: Any = None, database: str | None = None) -> list[tuple[Any, ...]]:
        connection = self.connect(database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall())
        finally:
            connection.close()


@dataclass
class Project:
    """Three databases and users of one test, its schemas folder and its working directory."""

    server: MySQLServer
    prefix: str
    workdir: Path
    names: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def schemas(self) -> Path:
        return self.workdir / "schemas"

    def environ(self, *, root: bool = True, **extra: str) -> dict[str, str]:
        """Settings and secrets as environment variables, as a user would export them."""
        env = {
            "TICKETCTL_PROJECT": self.prefix,  # named, as a project folder's ticketctl.yaml would
            "TICKETCTL_MYSQL__HOST": self.server.host,
            "TICKETCTL_MYSQL__PORT": str(self.server.port),
            "TICKETCTL_MYSQL__ROOT_USER": self.server.root_user,
        }
        for key in KEYS:
            env[f"TICKETCTL_MYSQL__{key.upper()}__NAME"] = self.names[key]
            env[f"TICKETCTL_MYSQL__{key.upper()}__USER"] = self.users[key]
            env[f"{key.upper()}_DB_PASSWORD"] = self.passwords[key]
        if root:
            env["MYSQL_ROOT_PASSWORD"] = self.server.root_password
        env.update(extra)
        return env

    def settings(self, **extra: str) -> Settings:
        return load_settings(None, environ=self.environ(**extra), cwd=self.workdir)

    def secrets(self, *, root: bool = True) -> Secrets:
        env = self.environ(root=root)
        return Secrets({name: value for name, value in env.items() if name.endswith("PASSWORD")})

    def write(self, key: str, filename: str, sql: str) -> Path:
        folder = self.schemas / key
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / filename
        path.write_text(sql, encoding="utf-8", newline="")
        return path

    def use_packaged_schemas(self) -> None:
        shutil.copytree(schemas_dir(), self.schemas, dirs_exist_ok=True)

    def query(self, key: str, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        """Run SQL as root in one of this test's databases."""
        return self.server.execute(sql, args, database=self.names[key])

    def history(self, key: str) -> list[dict[str, Any]]:
        connection = self.server.connect(self.names[key], cursorclass=pymysql.cursors.DictCursor)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT * FROM ticketctl_schema_history ORDER BY version")
                return list(cursor.fetchall())  # type: ignore[arg-type]
        finally:
            connection.close()

    def database_exists(self, key: str) -> bool:
        rows = self.server.execute(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (self.names[key],)
        )
        return bool(rows[0][0])

    def cli(self, *args: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess[str]:
        """``ticketctl ARGS`` as a real process in the test's working directory."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("TICKETCTL_")}
        env.update(self.environ(**extra))
        env["NO_COLOR"] = "1"
        return subprocess.run(
            [sys.executable, "-m", "ticketctl", *args],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def popen(self, *args: str, **extra: str) -> subprocess.Popen[str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("TICKETCTL_")}
        env.update(self.environ(**extra))
        env["NO_COLOR"] = "1"
        return subprocess.Popen(
            [sys.executable, "-m", "ticketctl", *args],
            cwd=self.workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
