"""Registers every command group on the Typer app.

Each command module keeps its top-level imports light (no docker, pymysql or
search clients) so that ``ticketctl --help`` and ``ticketctl render`` start fast.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from ticketctl.cli import config, doctor, index, migrate, render, secrets, seed, snapshot, stack

    render.register(app)
    config.register(app)
    stack.register(app)
    migrate.register(app)
    seed.register(app)
    index.register(app)
    doctor.register(app)
    snapshot.register(app)
    secrets.register(app)
