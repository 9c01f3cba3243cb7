"""Registers every command group on the Typer app.

Each command module keeps its top-level imports light (no docker, pymysql or
search clients) so that ``ticketctl --help`` and ``ticketctl render`` start fast.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from ticketctl.cli import (
        completion,
        config,
        doctor,
        env,
        index,
        logs,
        migrate,
        plan,
        render,
        secrets,
        seed,
        shell,
        snapshot,
        stack,
        version,
    )

    render.register(app)
    config.register(app)
    stack.register(app)
    plan.register(app)
    migrate.register(app)
    seed.register(app)
    index.register(app)
    doctor.register(app)
    snapshot.register(app)
    secrets.register(app)
    logs.register(app)
    env.register(app)
    shell.register(app)
    version.register(app)
    completion.register(app)
