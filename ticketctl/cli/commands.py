"""Every command and command group of the Typer app, in the order ``ticketctl --help`` lists them.

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

    app.command("render")(render.render_command)
    app.command("config")(config.config_command)
    app.command("up")(stack.up_command)
    app.command("down")(stack.down_command)
    app.command("status")(stack.status_command)
    app.command("restart")(stack.restart_command)
    app.command("plan")(plan.plan_command)
    app.add_typer(migrate.app, name="migrate")
    app.command("seed")(seed.seed_command)
    app.add_typer(index.index_app, name="index")
    app.command("doctor")(doctor.doctor_command)
    app.add_typer(snapshot.app, name="snapshot")
    app.add_typer(secrets.app, name="secrets")
    app.command("logs")(logs.logs_command)
    app.command("env")(env.env_command)
    app.add_typer(shell.shell_app, name="shell")
    app.command("exec", context_settings=shell.PASSTHROUGH)(shell.exec_command)
    app.command("version")(version.version_command)
    app.command("completion")(completion.completion_command)
