"""Migration workloads: the same SQL for ticketctl, Flyway and golang-migrate, and fresh databases for each.

Files are derived mechanically, never written by hand:

- ``<cache>/migrations/<set>/versioned/<db>/V0001__gen_0001.sql`` (ticketctl and
  Flyway: both read ``V<n>__<description>.sql``),
- ``<cache>/migrations/<set>/golang-migrate/<db>/0001_gen_0001.up.sql`` (the same
  bytes under golang-migrate's ``<n>_<name>.up.sql`` naming).

The set ``schemas`` is the repository's own ``schemas/``; ``gen-<N>`` holds N
generated files per database, each a CREATE TABLE, an ALTER TABLE (a column
and an index) and an INSERT of two rows.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql

DATABASE_KEYS = ("events", "inventory", "bookings")
VERSIONED_RE = re.compile(r"^V(?P<version>[0-9]+)__(?P<name>[A-Za-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class MigrationSet:
    name: str
    versioned: Path  # <db>/V…__….sql: ticketctl --schemas-dir and Flyway -locations
    golang_migrate: Path  # <db>/…_….up.sql
    versions: int  # in all three databases together


def generated_sql(index: int) -> str:
    table = f"gen_{index:04d}"
    return (
        f"-- generated migration {index}: a table, a column and an index, two rows\n"
        f"CREATE TABLE {table} (\n"
        "    id BIGINT PRIMARY KEY AUTO_INCREMENT,\n"
        "    name VARCHAR(100) NOT NULL,\n"
        "    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP\n"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;\n"
        f"ALTER TABLE {table} ADD COLUMN amount DECIMAL(10, 2) NOT NULL DEFAULT 0, "
        f"ADD INDEX idx_{table}_name (name);\n"
        f"INSERT INTO {table} (name, amount) VALUES ('first {index}', 1.50), ('second {index}', 2.25);\n"
    )


def _golang_migrate_copy(versioned: Path, target: Path) -> None:
    """The same files under golang-migrate's names: V0001__gen_0001.sql -> 0001_gen_0001.up.sql."""
    for key in DATABASE_KEYS:
        folder = target / key
        folder.mkdir(parents=True, exist_ok=True)
        for source in sorted((versioned / key).glob("*.sql")):
            match = VERSIONED_RE.match(source.name)
            if match is None:
                raise ValueError(f"{source}: not a V<n>__<name>.sql file")
            shutil.copyfile(source, folder / f"{match['version']}_{match['name']}.up.sql")


def prepare_schemas(cache: Path, repo_schemas: Path) -> MigrationSet:
    root = cache / "migrations" / "schemas"
    shutil.rmtree(root, ignore_errors=True)
    versioned = root / "versioned"
    for key in DATABASE_KEYS:
        shutil.copytree(repo_schemas / key, versioned / key)
    _golang_migrate_copy(versioned, root / "golang-migrate")
    count = sum(len(list((versioned / key).glob("*.sql"))) for key in DATABASE_KEYS)
    return MigrationSet("schemas", versioned, root / "golang-migrate", count)


def prepare_generated(cache: Path, count: int) -> MigrationSet:
    root = cache / "migrations" / f"gen-{count}"
    shutil.rmtree(root, ignore_errors=True)
    versioned = root / "versioned"
    for key in DATABASE_KEYS:
        folder = versioned / key
        folder.mkdir(parents=True)
        for index in range(1, count + 1):
            (folder / f"V{index:04d}__gen_{index:04d}.sql").write_text(generated_sql(index))
    _golang_migrate_copy(versioned, root / "golang-migrate")
    return MigrationSet(f"gen-{count}", versioned, root / "golang-migrate", count * len(DATABASE_KEYS))


# --------------------------------------------------------------------------- databases and users


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    root_user: str
    root_password: str

    @contextmanager
    def root(self) -> Iterator[Any]:
        connection = pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.root_user,
            password=self.root_password,
            autocommit=True,
            connect_timeout=10,
        )
        try:
            with connection.cursor() as cursor:
                yield cursor
        finally:
            connection.close()


@dataclass(frozen=True)
class Databases:
    """One tool's three databases, and the application users every tool connects as."""

    server: Server
    prefix: str  # e.g. tkb
    tool: str  # tc, fw, gm

    def name(self, key: str) -> str:
        return f"{self.prefix}_{self.tool}_{key}"

    def user(self, key: str) -> str:
        return f"{self.prefix}_{key}"

    def password(self, key: str) -> str:
        return f"{self.prefix}-bench-{key}-pw"

    def recreate(self) -> None:
        """Empty databases: the starting point of every apply run (golang-migrate needs them to exist)."""
        with self.server.root() as cursor:
            for key in DATABASE_KEYS:
                cursor.execute(f"DROP DATABASE IF EXISTS `{self.name(key)}`")
                cursor.execute(f"CREATE DATABASE `{self.name(key)}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")

    def drop(self) -> None:
        with self.server.root() as cursor:
            for key in DATABASE_KEYS:
                cursor.execute(f"DROP DATABASE IF EXISTS `{self.name(key)}`")

    def table_count(self, key: str) -> int:
        with self.server.root() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME LIKE 'gen\\_%%'",
                (self.name(key),),
            )
            return int(cursor.fetchone()[0])


def create_users(server: Server, prefix: str, tools: tuple[str, ...]) -> None:
    """One application user per database key, with every right on that key's database of each tool only."""
    sample = Databases(server, prefix, tools[0])
    with server.root() as cursor:
        for key in DATABASE_KEYS:
            user = sample.user(key)
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            cursor.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (sample.password(key),))
            for tool in tools:
                cursor.execute(
                    f"GRANT ALL PRIVILEGES ON `{Databases(server, prefix, tool).name(key)}`.* TO '{user}'@'%'"
                )


def drop_users(server: Server, prefix: str) -> None:
    with server.root() as cursor:
        for key in DATABASE_KEYS:
            cursor.execute(f"DROP USER IF EXISTS '{prefix}_{key}'@'%'")
